package lessons

import (
	"bytes"
	"encoding/base64"
	"flag"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/pcapgen"
	"github.com/smtpsh/smtpsh/internal/render"
)

var update = flag.Bool("update", false, "rewrite golden files (and lesson 14's capture sample)")

// sampleFile is lesson 14's capture, as shipped.
const sampleFile = "files/samples/14-reading-a-capture.pcap"

// secretPhrase is what conversation 2's message tells, and what lesson 14's
// check looks for in the student's Subject.
const secretPhrase = "purple-otter-1187"

// sampleConvs are lesson 14's three conversations with the lab's mail
// server (198.51.100.25, mail.lab.smtpsh.test, an older configuration than
// the lab's own: STARTTLS offered but not required, AUTH allowed before
// it):
//
//  1. bob's mail program submits on 587 without STARTTLS and logs in with
//     AUTH LOGIN: the password crosses in base64;
//  2. a partner's MTA delivers to alice on 25 without STARTTLS (it is
//     opportunistic, RFC 3207 §4): the message is readable, secret and all;
//  3. alice's phone submits on 587 with STARTTLS: after the 220, only TLS
//     records.
func sampleConvs() []pcapgen.Conv {
	start := time.Date(2026, 3, 2, 9, 14, 7, 0, time.UTC)
	server := netip.MustParseAddr("198.51.100.25")
	var convs []pcapgen.Conv
	conv := func(client string, port uint16, at time.Duration, steps []pcapgen.Step) {
		convs = append(convs, pcapgen.Conv{
			Client: netip.MustParseAddrPort(client),
			Server: netip.AddrPortFrom(server, port),
			Start:  start.Add(at),
			Steps:  steps,
			End:    "fin",
		})
	}
	type script struct{ steps []pcapgen.Step }
	s := func(sc *script, dir pcapgen.Dir, ms int, lines ...string) {
		sc.steps = append(sc.steps, pcapgen.Step{Dir: dir, Data: []byte(strings.Join(lines, "\r\n") + "\r\n"), Delay: time.Duration(ms) * time.Millisecond})
	}
	const C, S = pcapgen.FromClient, pcapgen.FromServer
	ehlo := []string{"250-mail.lab.smtpsh.test", "250-PIPELINING", "250-SIZE 10240000", "250-STARTTLS",
		"250-AUTH PLAIN LOGIN", "250-ENHANCEDSTATUSCODES", "250 8BITMIME"}
	b64 := base64.StdEncoding.EncodeToString

	var one script
	s(&one, S, 2, "220 mail.lab.smtpsh.test ESMTP Postfix")
	s(&one, C, 40, "EHLO bobs-laptop.example")
	s(&one, S, 1, ehlo...)
	s(&one, C, 30, "AUTH LOGIN")
	s(&one, S, 1, "334 "+b64([]byte("Username:")))
	s(&one, C, 20, b64([]byte("bob")))
	s(&one, S, 1, "334 "+b64([]byte("Password:")))
	s(&one, C, 20, b64([]byte("builder")))
	s(&one, S, 90, "235 2.7.0 Authentication successful")
	s(&one, C, 20, "MAIL FROM:<bob@lab.smtpsh.test>")
	s(&one, S, 2, "250 2.1.0 Ok")
	s(&one, C, 20, "RCPT TO:<alice@lab.smtpsh.test>")
	s(&one, S, 2, "250 2.1.5 Ok")
	s(&one, C, 20, "DATA")
	s(&one, S, 1, "354 End data with <CR><LF>.<CR><LF>")
	s(&one, C, 20, "From: Bob <bob@lab.smtpsh.test>", "To: Alice <alice@lab.smtpsh.test>",
		"Subject: Lunch?", "Date: Mon, 02 Mar 2026 10:14:08 +0100", "Message-ID: <20260302091408.1@bobs-laptop.example>",
		"", "Lunch at noon on Friday? The usual place.", "", "Bob", ".")
	s(&one, S, 15, "250 2.0.0 Ok: queued as 4F2A1C03B7")
	s(&one, C, 10, "QUIT")
	s(&one, S, 1, "221 2.0.0 Bye")
	conv("203.0.113.45:51012", 587, 0, one.steps)

	var two script
	s(&two, S, 3, "220 mail.lab.smtpsh.test ESMTP Postfix")
	s(&two, C, 30, "EHLO mx1.partner.example")
	s(&two, S, 1, ehlo...)
	s(&two, C, 40, "MAIL FROM:<carol@partner.example>", "RCPT TO:<alice@lab.smtpsh.test>", "DATA")
	s(&two, S, 3, "250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>")
	s(&two, C, 30, "Received: from laptop.partner.example (laptop.partner.example [192.0.2.140])",
		"\tby mx1.partner.example with ESMTPSA id 7d1e; Mon, 2 Mar 2026 10:14:52 +0100",
		"From: Carol <carol@partner.example>", "To: Alice <alice@lab.smtpsh.test>",
		"Subject: The backup vault", "Date: Mon, 02 Mar 2026 10:14:50 +0100", "Message-ID: <ab12cd@partner.example>",
		"", "Alice,", "", "as agreed on the phone, the passphrase for the backup vault is:", "",
		"    "+secretPhrase, "", "Please delete this message once you have it.", "", "Carol", ".")
	s(&two, S, 20, "250 2.0.0 Ok: queued as 9C41E2B715")
	s(&two, C, 10, "QUIT")
	s(&two, S, 1, "221 2.0.0 Bye")
	conv("192.0.2.77:40211", 25, 45*time.Second, two.steps)

	// TLS records stand in for a handshake and some application data
	// (RFC 8446 §5.1: type, legacy version, length), their bodies
	// pseudo-random bytes: what ciphertext looks like to a capture.
	r := rand.New(rand.NewPCG(14, 15))
	record := func(typ byte, version uint16, n int) []byte {
		b := []byte{typ, byte(version >> 8), byte(version), byte(n >> 8), byte(n)}
		for range n {
			b = append(b, byte(r.Uint32()))
		}
		return b
	}
	join := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	var three script
	s(&three, S, 2, "220 mail.lab.smtpsh.test ESMTP Postfix")
	s(&three, C, 35, "EHLO alices-phone.example")
	s(&three, S, 1, ehlo...)
	s(&three, C, 25, "STARTTLS")
	s(&three, S, 1, "220 2.0.0 Ready to start TLS")
	three.steps = append(three.steps,
		pcapgen.Step{Dir: C, Data: record(22, 0x0301, 512), Delay: 5 * time.Millisecond},
		pcapgen.Step{Dir: S, Data: join(record(22, 0x0303, 122), record(20, 0x0303, 1), record(23, 0x0303, 2134)), Delay: 3 * time.Millisecond},
		pcapgen.Step{Dir: C, Data: join(record(20, 0x0303, 1), record(23, 0x0303, 74)), Delay: 4 * time.Millisecond},
		pcapgen.Step{Dir: C, Data: record(23, 0x0303, 43), Delay: 2 * time.Millisecond},
		pcapgen.Step{Dir: S, Data: record(23, 0x0303, 257), Delay: 2 * time.Millisecond},
		pcapgen.Step{Dir: C, Data: record(23, 0x0303, 1187), Delay: 30 * time.Millisecond},
		pcapgen.Step{Dir: S, Data: record(23, 0x0303, 61), Delay: 20 * time.Millisecond},
		pcapgen.Step{Dir: C, Data: record(21, 0x0303, 19), Delay: 10 * time.Millisecond},
	)
	conv("203.0.113.80:49733", 587, 2*time.Minute+10*time.Second, three.steps)
	return convs
}

// generateSample writes lesson 14's capture: pcap over Ethernet, no loss,
// the same bytes every time.
func generateSample(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := pcapgen.Write(&b, sampleConvs(), pcapgen.Options{Seed: 14}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestCaptureSampleShipped regenerates lesson 14's capture and checks it is
// the one shipped; -update rewrites it.
func TestCaptureSampleShipped(t *testing.T) {
	want := generateSample(t)
	if again := generateSample(t); !bytes.Equal(want, again) {
		t.Fatal("the generator is not deterministic")
	}
	if *update {
		if err := os.WriteFile(sampleFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s (%d bytes) differs from what sampleConvs generates (%d bytes): go test ./lessons -run TestCaptureSampleShipped -update", sampleFile, len(got), len(want))
	}
	emb, err := Sample("14-reading-a-capture.pcap")
	if err != nil || !bytes.Equal(emb, want) {
		t.Fatalf("the embedded sample differs from the file (err %v)", err)
	}
}

// TestDecodeSample checks what lesson 14 asks the student to find is in
// the capture as package capture decodes it.
func TestDecodeSample(t *testing.T) {
	convs, err := DecodeSample("14-reading-a-capture.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != 3 {
		t.Fatalf("%d conversations, want 3", len(convs))
	}
	c1, c2, c3 := convs[0], convs[1], convs[2]
	if len(c1.Creds) != 1 {
		t.Fatalf("conversation 1: %d AUTH exchanges, want 1", len(c1.Creds))
	}
	if cr := c1.Creds[0]; cr.Mechanism != "LOGIN" || cr.User != "bob" || cr.Password != "builder" || !cr.Accepted() {
		t.Errorf("conversation 1's credential: %+v, want LOGIN bob/builder accepted", cr)
	}
	if len(c2.Messages) != 1 || !c2.Messages[0].Complete || !strings.Contains(string(c2.Messages[0].Data), secretPhrase) {
		t.Errorf("conversation 2: want one complete message holding %q", secretPhrase)
	}
	if len(c2.Creds) != 0 || c2.TLS != "" {
		t.Errorf("conversation 2: creds %d, TLS %q; want none", len(c2.Creds), c2.TLS)
	}
	if c3.TLS != "starttls" || c3.TLSClientBytes == 0 || c3.TLSServerBytes == 0 || len(c3.Messages) != 0 {
		t.Errorf("conversation 3: TLS %q, %d/%d encrypted bytes, %d messages; want starttls, both > 0, no message",
			c3.TLS, c3.TLSClientBytes, c3.TLSServerBytes, len(c3.Messages))
	}
	for _, c := range convs {
		if c.Transcript == nil || len(c.Warnings) > 0 {
			t.Errorf("conversation %d: transcript %v, warnings %q", c.Info.ID, c.Transcript != nil, c.Warnings)
		}
	}
}

// TestCaptureViews checks the three :capture views say what the lesson
// says they say, and keep secrets out of the transcript view.
func TestCaptureViews(t *testing.T) {
	convs, err := DecodeSample("14-reading-a-capture.pcap")
	if err != nil {
		t.Fatal(err)
	}
	term := render.Terminal{Width: 100}
	tests := []struct {
		name    string
		write   func(*bytes.Buffer) error
		want    []string
		notWant []string
	}{
		{"summary", func(b *bytes.Buffer) error {
			WriteCaptureSummary(b, term, "s.pcap", convs)
			return nil
		}, []string{"3 SMTP conversation(s)", "203.0.113.45:51012", "198.51.100.25:587", "bobs-laptop.example", " bob ", "starttls,"}, nil},
		{"creds", func(b *bytes.Buffer) error {
			WriteCaptureCreds(b, term, convs)
			return nil
		}, []string{"conversation 1", "AUTH LOGIN", "accepted (235)", "user:     bob", "password: builder"}, nil},
		{"follow 1 redacts", func(b *bytes.Buffer) error { return WriteCaptureConversation(b, term, convs[0]) },
			[]string{"AUTH LOGIN", "<redacted>", "334 VXNlcm5hbWU6", "Subject: Lunch?"}, []string{"Ym9i", "YnVpbGRlcg=="}},
		{"follow 2 shows the message", func(b *bytes.Buffer) error { return WriteCaptureConversation(b, term, convs[1]) },
			[]string{"RCPT TO:<alice@lab.smtpsh.test>", secretPhrase, "250 2.0.0 Ok: queued as 9C41E2B715"}, nil},
		{"follow 3 hides the rest", func(b *bytes.Buffer) error { return WriteCaptureConversation(b, term, convs[2]) },
			[]string{"STARTTLS", "220 2.0.0 Ready to start TLS", "nobody without the keys can read"}, []string{"MAIL FROM"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("no %q in:\n%s", w, b.String())
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(b.String(), w) {
					t.Errorf("%q should not be in:\n%s", w, b.String())
				}
			}
		})
	}
}
