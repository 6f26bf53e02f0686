package shell

import (
	"bytes"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/transcripts"
)

// fixedRandom is a random source that gives the same bytes every time, so
// that a message's Message-ID is known.
type fixedRandom struct{}

func (fixedRandom) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}

func TestBuildMessageGolden(t *testing.T) {
	now := time.Date(2026, 11, 25, 19, 10, 0, 0, time.FixedZone("", -5*3600))
	tests := []struct {
		name string
		c    Composition
	}{
		{"ascii", Composition{From: "Student <student@inlanefreight.htb>", To: "admin@inlanefreight.htb",
			Subject: "Hello", Body: []string{"Hi,", "", "a line.", ".starts with a dot"}}},
		{"utf8", Composition{From: "student@inlanefreight.htb", To: "Zoë <zoe@example.org>, bob@example.org",
			Subject: "Grüße", Body: []string{"Schöne Grüße"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := BuildMessage(tc.c, "client.example", now, fixedRandom{})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "messages", tc.name+".eml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("message differs from %s:\n%s", path, got)
			}
			// Whatever the golden file says, the message parses back.
			m, err := mail.ReadMessage(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			d, err := m.Header.Date()
			if err != nil || !d.Equal(now) {
				t.Errorf("Date %v (%v), want %v", d, err, now)
			}
			if id := m.Header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@client.example>") {
				t.Errorf("Message-ID %q", id)
			}
			mime := m.Header.Get("MIME-Version") != ""
			if ascii := isASCII(strings.Join(tc.c.Body, "")); mime == ascii {
				t.Errorf("MIME-Version present %v for an ASCII body %v", mime, ascii)
			}
			if bytes.Contains(bytes.ReplaceAll(got, []byte("\r\n"), nil), []byte("\n")) {
				t.Error("a bare LF in the message")
			}
		})
	}
}

func TestBuildMessageRejects(t *testing.T) {
	ok := Composition{From: "a@example.org", To: "b@example.org", Subject: "s"}
	tests := []struct {
		name string
		edit func(c *Composition)
		want string
	}{
		{"From not an address", func(c *Composition) { c.From = "not an address" }, "From"},
		{"To empty", func(c *Composition) { c.To = "" }, "To"},
		{"header injection in the subject", func(c *Composition) { c.Subject = "hi\r\nBcc: victim@example.org" }, "line break"},
		{"body line over 998 octets (RFC 5322 §2.1.1)", func(c *Composition) { c.Body = []string{strings.Repeat("x", 999)} }, "998"},
		{"subject line over 998 octets", func(c *Composition) { c.Subject = strings.Repeat("s", 1000) }, "998"},
		{"body not UTF-8", func(c *Composition) { c.Body = []string{"\xff\xfe"} }, "UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			_, err := BuildMessage(c, "client.example", time.Now(), fixedRandom{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestFromNote(t *testing.T) {
	tests := []struct {
		name     string
		msg      string
		mailFrom string
		want     string // "" for no note
	}{
		{"same address", "From: Alice <alice@lab.smtpsh.test>\r\n\r\nhi\r\n", "alice@lab.smtpsh.test", ""},
		{"same address, other case", "From: ALICE@LAB.SMTPSH.TEST\r\n\r\nhi\r\n", "alice@lab.smtpsh.test", ""},
		{"spoofed CEO", "From: CEO <ceo@bank.example>\r\n\r\nPay now.\r\n", "mallory@evil.example", "differs from MAIL FROM <mallory@evil.example>"},
		{"null reverse-path", "From: postmaster@lab.smtpsh.test\r\n\r\nbounce\r\n", "", "<> (the null reverse-path)"},
		{"no From (RFC 5322 §3.6)", "Subject: x\r\n\r\nhi\r\n", "a@example.org", "no From header field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := fromNote([]byte(tc.msg), tc.mailFrom)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("fromNote = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestComposeLab(t *testing.T) {
	addr, st := startLab(t, "default")
	out, s, err := runLines(t, addr, Config{EHLOName: "client.example"},
		"EHLO client.example",
		":compose --bdat",
		"Student <student@inlanefreight.htb>",
		"alice@lab.smtpsh.test",
		"Lab report",
		"Hello Alice,",
		".hidden dot line",
		".",
		"expect 250",
		"QUIT",
	)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, w := range []string{"C: MAIL FROM:<student@inlanefreight.htb>", "C: RCPT TO:<alice@lab.smtpsh.test>", "C: BDAT ", "expect 250: ok"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	msgs := st.Mailbox("alice")
	if len(msgs) != 1 {
		t.Fatalf("alice has %d messages, want 1\n%s", len(msgs), out)
	}
	m, err := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Subject") != "Lab report" || m.Header.Get("Date") == "" || !strings.HasSuffix(m.Header.Get("Message-ID"), "@client.example>") {
		t.Errorf("delivered header: %v", m.Header)
	}
	// BDAT is not dot-stuffed (RFC 3030 §2): the line arrives as typed.
	if !bytes.Contains(msgs[0].Data, []byte("\r\n.hidden dot line\r\n")) {
		t.Errorf("delivered body:\n%s", msgs[0].Data)
	}
	var data int
	for _, e := range s.Transcript().Events {
		if e.Kind == transcripts.Data {
			data++
		}
	}
	if data == 0 {
		t.Error("the message text is not in the transcript")
	}
}
