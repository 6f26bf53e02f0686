package send

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

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
		{in: "xclient", err: true},
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, x := range Exchanges(tc.events) {
				got = append(got, string(x.Verb)+":"+itoa(x.Code))
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
	f.Fuzz(func(t *testing.T, s string) {
		es := events(strings.Split(s, "\n")...)
		var clients []string
		for _, e := range es {
			if e.Kind == transcripts.Client {
				clients = append(clients, e.Text)
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
		}
		if strings.Join(got, "\n") != strings.Join(clients, "\n") {
			t.Fatalf("commands %q, sent %q", got, clients)
		}
	})
}

func b64(r io.Reader) io.Reader { return base64.NewDecoder(base64.StdEncoding, r) }
