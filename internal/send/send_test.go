package send

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/shell"
	"github.com/smtpsh/smtpsh/transcripts"
)

func TestParsePhase(t *testing.T) {
	tests := []struct {
		in   string
		want Phase
		err  bool
	}{
		{in: "connect", want: PhaseConnect},
		{in: "RCPT", want: PhaseRcpt}, // swaks spells them upper case
		{in: "first-helo", want: PhaseEHLO},
		{in: "dot", want: PhaseDot},
		{in: "xclient", want: PhaseXCLIENT},
		{in: "LHLO", want: PhaseEHLO},
		{in: "xforward", err: true},
		{in: "", err: true},
		{in: "quit", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePhase(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("ParsePhase(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

// TestQueueID: queue ids in the wording of real servers' replies to the
// end of a message.
func TestQueueID(t *testing.T) {
	tests := []struct{ name, reply, want string }{
		{"postfix", "250 2.0.0 Ok: queued as 4XyZ1B2c3D", "4XyZ1B2c3D"},
		{"postfix bdat", "250 2.0.0 Ok: 309 bytes queued as 557B0BA3AD", "557B0BA3AD"},
		{"exim", "250 OK id=1rXyZa-0001Ab-Cd", "1rXyZa-0001Ab-Cd"},
		{"sendmail", "250 2.0.0 5APNa1Xk012345 Message accepted for delivery", "5APNa1Xk012345"},
		{"gmail", "250 2.0.0 OK  1732575600 d2e1a72fcca58-6c3b8a5a2a4si1234pfb.123 - gsmtp", "d2e1a72fcca58-6c3b8a5a2a4si1234pfb.123"},
		{"exchange", "250 2.6.0 <abc@example.com> [InternalId=12345678, Hostname=EX01] 1234 bytes in 0.100, 12.3 KB/sec Queued mail for delivery", "12345678"},
		{"none", "250 Ok", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := QueueID(tc.reply); got != tc.want {
				t.Errorf("QueueID(%q) = %q, want %q", tc.reply, got, tc.want)
			}
		})
	}
}

func events(lines ...string) []transcripts.Event {
	es := []transcripts.Event{{Kind: transcripts.Connect}}
	for _, l := range lines {
		k, text, _ := strings.Cut(l, ": ")
		switch k {
		case "C":
			es = append(es, transcripts.Event{Kind: transcripts.Client, Text: text})
		case "S":
			es = append(es, transcripts.Event{Kind: transcripts.Server, Text: text})
		case "D":
			es = append(es, transcripts.Event{Kind: transcripts.Data, Text: text})
		}
	}
	return es
}

// TestExchanges pairs commands and replies as RFC 5321 §4.2 and RFC 2920
// §3.1 order them.
func TestExchanges(t *testing.T) {
	tests := []struct {
		name   string
		events []transcripts.Event
		want   string // verb:code, space-separated
	}{
		{name: "greeting and EHLO", events: events("S: 220 mx ESMTP", "C: EHLO c", "S: 250-mx", "S: 250 PIPELINING"), want: ":220 EHLO:250"},
		{name: "pipelined group", events: events("S: 220 mx", "C: MAIL FROM:<a@b>", "C: RCPT TO:<c@d>", "C: RCPT TO:<e@f>", "S: 250 2.1.0 Ok", "S: 550 5.1.1 unknown", "S: 250 2.1.5 Ok"), want: ":220 MAIL:250 RCPT:550 RCPT:250"},
		{name: "data and its end", events: events("S: 220 mx", "C: DATA", "S: 354 go", "D: Subject: x", "D: ", "C: .", "S: 250 queued"), want: ":220 DATA:354 .:250"},
		{name: "sasl responses", events: events("S: 220 mx", "C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: YWxpY2U=", "S: 334 UGFzc3dvcmQ6", "C: c2VjcmV0", "S: 535 5.7.8 no"), want: ":220 AUTH:334 AUTH:334 AUTH:535"},
		{name: "unsolicited 421", events: events("S: 220 mx", "C: NOOP", "S: 250 ok", "S: 421 4.4.2 timeout"), want: ":220 NOOP:250 :421"},
		{name: "no reply yet", events: events("S: 220 mx", "C: QUIT"), want: ":220 QUIT:0"},
		{name: "unreadable reply", events: events("S: 220 mx", "C: EHLO c", "S: 25O oops"), want: ":220 EHLO:0"},
		// RFC 2033 §4.2's example: pat and green accepted, jones not;
		// the end of data gets a reply for each accepted, in order.
		{name: "lmtp, one reply per accepted recipient", events: events("S: 220 foo.edu LMTP server ready", "C: LHLO foo.edu", "S: 250 foo.edu",
			"C: MAIL FROM:<chris@bar.com>", "S: 250 OK", "C: RCPT TO:<pat@foo.edu>", "S: 250 OK", "C: RCPT TO:<jones@foo.edu>", "S: 550 No such user here",
			"C: RCPT TO:<green@foo.edu>", "S: 250 OK", "C: DATA", "S: 354 Start mail input; end with <CRLF>.<CRLF>", "D: Subject: x", "C: .",
			"S: 250 OK", "S: 452 <green@foo.edu> is temporarily over quota", "C: QUIT", "S: 221 foo.edu closing connection"),
			want: ":220 LHLO:250 MAIL:250 RCPT:250 RCPT:550 RCPT:250 DATA:354 .:250>pat@foo.edu .:452>green@foo.edu QUIT:221"},
		{name: "lmtp bdat last", events: events("S: 220 lmtp", "C: LHLO c", "S: 250 CHUNKING", "C: MAIL FROM:<>", "S: 250 ok",
			"C: RCPT TO:<a@x>", "S: 250 ok", "C: RCPT TO:<b@x>", "S: 250 ok", "C: BDAT 10", "S: 250 ok", "C: BDAT 5 LAST", "S: 250 a", "S: 250 b"),
			want: ":220 LHLO:250 MAIL:250 RCPT:250 RCPT:250 BDAT:250 BDAT:250>a@x BDAT:250>b@x"},
		{name: "lmtp, a new MAIL forgets the recipients", events: events("S: 220 lmtp", "C: LHLO c", "S: 250 x", "C: MAIL FROM:<>", "S: 250 ok",
			"C: RCPT TO:<a@x>", "S: 250 ok", "C: RSET", "S: 250 ok", "C: MAIL FROM:<>", "S: 250 ok", "C: RCPT TO:<b@x>", "S: 250 ok",
			"C: DATA", "S: 354 go", "C: .", "S: 250 b"),
			want: ":220 LHLO:250 MAIL:250 RCPT:250 RSET:250 MAIL:250 RCPT:250 DATA:354 .:250>b@x"},
		{name: "smtp: a second reply to the end of data is unasked", events: events("S: 220 mx", "C: EHLO c", "S: 250 x", "C: MAIL FROM:<>", "S: 250 ok",
			"C: RCPT TO:<a@x>", "S: 250 ok", "C: RCPT TO:<b@x>", "S: 250 ok", "C: DATA", "S: 354 go", "C: .", "S: 250 ok", "S: 250 again"),
			want: ":220 EHLO:250 MAIL:250 RCPT:250 RCPT:250 DATA:354 .:250 :250"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, x := range Exchanges(tc.events) {
				g := string(x.Verb) + ":" + itoa(x.Code)
				if x.Recipient != "" {
					g += ">" + x.Recipient
				}
				got = append(got, g)
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("got  %s\nwant %s", g, tc.want)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestBuild checks the message Build writes for each kind of body.
func TestBuild(t *testing.T) {
	now := time.Date(2026, 11, 25, 19, 10, 0, 0, time.UTC)
	base := Content{From: "<a@example.org>", To: []string{"<b@example.org>"}, Subject: "hi", Domain: "client.example", Now: now, Random: zeros{}}
	tests := []struct {
		name    string
		edit    func(c *Content)
		want    []string
		notWant []string
		err     string
	}{
		{name: "ascii", edit: func(c *Content) { c.Body = []byte("hello\n") },
			want: []string{"Date: Wed, 25 Nov 2026 19:10:00 +0000\r\n", "Message-ID: <000000000000000000000000@client.example>\r\n", "Content-Transfer-Encoding: 7bit\r\n\r\nhello\r\n"}},
		{name: "utf-8 body, no 8BITMIME", edit: func(c *Content) { c.Body = []byte("déjà\n") },
			want: []string{"charset=utf-8", "quoted-printable\r\n\r\nd=C3=A9j=C3=A0\r\n"}},
		{name: "utf-8 body, 8BITMIME", edit: func(c *Content) { c.Body = []byte("déjà\n"); c.EightBit = true },
			want: []string{"Content-Transfer-Encoding: 8bit\r\n\r\ndéjà\r\n"}},
		{name: "utf-8 subject encoded", edit: func(c *Content) { c.Subject = "ça" }, want: []string{"Subject: =?utf-8?q?=C3=A7a?=\r\n"}},
		{name: "utf-8 subject as is", edit: func(c *Content) { c.Subject = "ça"; c.UTF8 = true }, want: []string{"Subject: ça\r\n"}},
		{name: "header replaces", edit: func(c *Content) { c.Headers = []string{"subject: other", "X-A: 1"} }, want: []string{"subject: other\r\n", "X-A: 1\r\n"}, notWant: []string{"Subject: hi"}},
		{name: "header injection", edit: func(c *Content) { c.Subject = "hi\r\nBcc: x@y" }, err: "line break"},
		{name: "bad header", edit: func(c *Content) { c.Headers = []string{"No colon"} }, err: "want \"Name: value\""},
		{name: "binary body", edit: func(c *Content) { c.Body = []byte{0xff, 0, 1} }, want: []string{"application/octet-stream", "base64\r\n\r\n/wAB\r\n"}},
		{name: "long line", edit: func(c *Content) { c.Body = []byte(strings.Repeat("a", 1200)) }, want: []string{"quoted-printable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			msg, err := Build(c)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !bytes.Contains(msg, []byte(w)) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
			for _, w := range tc.notWant {
				if bytes.Contains(msg, []byte(w)) {
					t.Errorf("message has %q:\n%s", w, msg)
				}
			}
			if bytes.Contains(bytes.ReplaceAll(msg, []byte("\r\n"), nil), []byte("\n")) {
				t.Error("a bare LF in the message")
			}
		})
	}
}

// TestBuildAttachments round-trips attachments through mime/multipart.
func TestBuildAttachments(t *testing.T) {
	bin := bytes.Repeat([]byte{0, 1, 2, 0xfe, 0xff}, 1000)
	text := []byte("From the start\n=3D not an escape\ntrailing space \n")
	msg, err := Build(Content{From: "<a@example.org>", Body: []byte("body"), Now: time.Now(), Random: zeros{},
		Attachments: []Attachment{{Name: "x.bin", Data: bin}, {Name: "n.txt", Data: text}, {Name: "résumé.pdf", Data: []byte("%PDF-1.4")}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	got := map[string]string{}
	types := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			b, _ = io.ReadAll(b64(bytes.NewReader(b)))
		}
		got[p.FileName()] = string(b)
		types[p.FileName()] = p.Header.Get("Content-Type")
	}
	if got["x.bin"] != string(bin) || strings.ReplaceAll(got["n.txt"], "\r\n", "\n") != string(text) || got[""] != "body\r\n" {
		t.Errorf("parts arrived changed: %q", got)
	}
	if types["résumé.pdf"] != "application/pdf" || !strings.HasPrefix(types["n.txt"], "text/plain") || types["x.bin"] != "application/octet-stream" {
		t.Errorf("types %v", types)
	}
}

// BenchmarkBuild builds a message with a 1 MB attachment.
func BenchmarkBuild(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	c := Content{From: "<a@example.org>", Body: []byte("x"), Now: time.Now(), Random: zeros{}, Attachments: []Attachment{{Name: "a.bin", Data: data, Type: "application/octet-stream"}}}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(c); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzExchanges: any sequence of client and server lines pairs without
// panicking, every exchange has at most maxReplyLines lines, and the
// client lines come out in order.
func FuzzExchanges(f *testing.F) {
	f.Add("S: 220 mx\nC: EHLO c\nS: 250-mx\nS: 250 SIZE\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: x\nS: 235 ok")
	f.Add("S: 220 mx\nC: DATA\nS: 354 go\nD: .x\nC: .\nS: 250 Ok: queued as ABC\nS: 421 bye")
	f.Add("S: 220 lmtp\nC: LHLO c\nS: 250 x\nC: MAIL FROM:<>\nS: 250 ok\nC: RCPT TO:<a@x>\nS: 250 ok\nC: DATA\nS: 354 go\nC: .\nS: 250 a\nS: 452 b")
	f.Fuzz(func(t *testing.T, s string) {
		es := events(strings.Split(s, "\n")...)
		var clients []string
		rcpts := 0
		for _, e := range es {
			if e.Kind == transcripts.Client {
				clients = append(clients, e.Text)
				if v, _ := smtp.SplitVerb(e.Text); v == smtp.RCPT {
					rcpts++
				}
			}
		}
		var got []string
		for _, x := range Exchanges(es) {
			if len(x.Reply) > maxReplyLines {
				t.Fatalf("%d reply lines", len(x.Reply))
			}
			if x.client {
				got = append(got, x.Command)
			}
			if x.Recipient != "" && x.Verb != endOfData && x.Verb != "BDAT" {
				t.Fatalf("a recipient on %+v", x)
			}
		}
		// Recipients' results never outnumber the RCPTs sent (verbs are
		// case-insensitive, RFC 5321 §2.4: "RCPt" counts).
		if rs, n := recipientResults(Exchanges(es)), rcpts; len(rs) > n {
			t.Fatalf("%d results for %d RCPTs", len(rs), n)
		}
		if strings.Join(got, "\n") != strings.Join(clients, "\n") {
			t.Fatalf("commands %q, sent %q", got, clients)
		}
	})
}

func b64(r io.Reader) io.Reader { return base64.NewDecoder(base64.StdEncoding, r) }

// TestLMTPOutcome: the exit status and per-recipient results of an LMTP
// session by what the server said after the message (RFC 2033 §4.2), with
// replies in Dovecot's wording, and SMTP's single reply for comparison.
func TestLMTPOutcome(t *testing.T) {
	head := []string{"S: 220 mx Dovecot (Debian) ready.", "C: LHLO c", "S: 250-mx", "S: 250 PIPELINING", "C: MAIL FROM:<a@b>", "S: 250 2.1.0 OK",
		"C: RCPT TO:<u1@x>", "S: 250 2.1.5 OK", "C: RCPT TO:<nobody@x>", "S: 550 5.1.1 <nobody@x> User doesn't exist: nobody@x",
		"C: RCPT TO:<u2@x>", "S: 250 2.1.5 OK", "C: DATA", "S: 354 OK", "D: hi", "C: ."}
	saved := func(r string) string { return "S: 250 2.0.0 <" + r + "> sPugBPdsB2tVFwAAg+zDdQ Saved" }
	const quota = "S: 552 5.2.2 <u2@x> Quota exceeded (mailbox for user is full)"
	tests := []struct {
		name     string
		end      []string
		exit     int
		accepted string // the recipients accepted, space-separated
	}{
		{name: "delivered to both", end: []string{saved("u1@x"), saved("u2@x")}, exit: 0, accepted: "u1@x u2@x"},
		{name: "one over quota", end: []string{saved("u1@x"), quota}, exit: ExitPartial, accepted: "u1@x"},
		{name: "refused for both", end: []string{"S: 451 4.3.0 <u1@x> Temporary internal failure", quota}, exit: ExitMessage, accepted: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			xs := Exchanges(events(append(append([]string{}, head...), tc.end...)...))
			rs := recipientResults(xs)
			if len(rs) != 3 || rs[1].RcptCode != 550 || rs[1].Code != 0 {
				t.Fatalf("results %+v", rs)
			}
			var acc []string
			for _, r := range rs {
				if r.Accepted {
					acc = append(acc, r.Recipient)
				}
			}
			if g := strings.Join(acc, " "); g != tc.accepted {
				t.Errorf("accepted %q, want %q", g, tc.accepted)
			}
			err := lmtpOutcome(xs)
			var ee *shell.ExitError
			switch {
			case tc.exit == 0 && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.exit != 0 && (!errors.As(err, &ee) || ee.Code != tc.exit):
				t.Errorf("error %v, want exit %d", err, tc.exit)
			case tc.exit != 0 && !strings.Contains(err.Error(), "<u2@x>: 552 5.2.2"):
				t.Errorf("error %v does not name the refused recipient and its reply", err)
			}
		})
	}
	t.Run("smtp: one reply for all", func(t *testing.T) {
		xs := Exchanges(events("S: 220 mx", "C: EHLO c", "S: 250 mx", "C: MAIL FROM:<a@b>", "S: 250 2.1.0 Ok",
			"C: RCPT TO:<a@x>", "S: 250 2.1.5 Ok", "C: RCPT TO:<b@x>", "S: 250 2.1.5 Ok", "C: DATA", "S: 354 go", "C: .", "S: 250 2.0.0 Ok: queued as 4XyZ"))
		rs := recipientResults(xs)
		if len(rs) != 2 || !rs[0].Accepted || !rs[1].Accepted || rs[1].Code != 250 {
			t.Errorf("results %+v", rs)
		}
	})
}

// TestScriptLines: the lines the script gives, phase by phase, for LMTP
// and XCLIENT, answered well each time.
func TestScriptLines(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{name: "lmtp", o: Options{EHLO: "c.example", LMTP: true, From: "a@b", Recipients: []string{"u1@x"}, Message: []byte("x\r\n")},
			want: "LHLO c.example|MAIL FROM:<a@b> SIZE=3|RCPT TO:<u1@x>|:send <message, 3 bytes>"},
		{name: "xclient after starttls, before auth", o: Options{EHLO: "c", StartTLS: true, XCLIENT: "ADDR=192.0.2.1 NAME=client.example", Auth: "plain", User: "alice", From: "a@b", Recipients: []string{"u@x"}, QuitAfter: PhaseMail},
			want: "EHLO c|STARTTLS|EHLO c|:xclient ADDR=192.0.2.1 NAME=client.example|EHLO c|:auth plain alice|MAIL FROM:<a@b>"},
		{name: "quit after xclient", o: Options{EHLO: "c", XCLIENT: "ADDR=192.0.2.1", QuitAfter: PhaseXCLIENT},
			want: "EHLO c|:xclient ADDR=192.0.2.1|EHLO c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.o.Check(); err != nil {
				t.Fatal(err)
			}
			s := NewScript(tc.o, io.Discard)
			s.Event(transcripts.Event{Kind: transcripts.Connect}, nil)
			s.Event(transcripts.Event{Kind: transcripts.Server, Text: "220 mx"}, nil)
			var got []string
			for len(got) < 20 {
				l, err := s.ReadLine()
				if err != nil {
					break
				}
				got = append(got, l)
				// Answer each line well: 250, with SIZE to EHLO/LHLO, 220 to
				// STARTTLS and XCLIENT, 235 to AUTH.
				s.Event(transcripts.Event{Kind: transcripts.Client, Text: l}, nil)
				reply := "250 ok"
				switch {
				case strings.HasPrefix(l, "EHLO"), strings.HasPrefix(l, "LHLO"):
					s.Event(transcripts.Event{Kind: transcripts.Server, Text: "250-mx"}, nil)
					reply = "250 SIZE 1000"
				case l == "STARTTLS", strings.HasPrefix(l, ":xclient"):
					reply = "220 go"
				case strings.HasPrefix(l, ":auth"):
					reply = "235 ok"
				case strings.HasPrefix(l, ":send"):
					continue
				}
				s.Event(transcripts.Event{Kind: transcripts.Server, Text: reply}, nil)
			}
			if g := strings.Join(got, "|"); g != tc.want {
				t.Errorf("got  %s\nwant %s", g, tc.want)
			}
		})
	}
}

// TestCheckXCLIENT: --xclient takes Postfix's attribute names only
// (XCLIENT_README), in any case, and no control characters.
func TestCheckXCLIENT(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"ADDR=192.0.2.1 NAME=client.example", true},
		{"addr=2001:db8::1 proto=ESMTP helo=[192.0.2.1] login=alice", true},
		{"NAME=[UNAVAILABLE]", true},
		{"HELO=münchen.example", true},
		{"IDENT=x", false}, // XFORWARD's, not XCLIENT's
		{"ADDR", false},
		{"", false},
		{"NAME=a\x1b[31m", false},
		{strings.Repeat("NAME=x ", 200), false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			o := Options{EHLO: "c", XCLIENT: tc.in}
			if err := o.Check(); (err == nil) != tc.ok && tc.in != "" {
				t.Errorf("Check(%q) = %v, want ok %v", tc.in, err, tc.ok)
			}
			if tc.in == "" {
				if err := checkXCLIENT(tc.in); err == nil {
					t.Error("checkXCLIENT(\"\") = nil")
				}
			}
		})
	}
}
