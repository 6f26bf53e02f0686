package shell

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/explain"
	"github.com/smtpsh/smtpsh/internal/smtp"
)

func TestCRLF(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"CRLF kept", "a\r\nb\r\n", "a\r\nb\r\n"},
		{"bare LF (a Unix file)", "a\nb\n", "a\r\nb\r\n"},
		{"bare CR (old Mac, and smuggling's <CR>.<CR>)", "a\r.\rb", "a\r\n.\r\nb\r\n"},
		{"LF CR is two line ends", "a\n\rb", "a\r\n\r\nb\r\n"},
		{"missing last line end", "a", "a\r\n"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(CRLF([]byte(tc.in))); got != tc.want {
				t.Errorf("CRLF(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestDataText(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		stuffed int
	}{
		// RFC 5321 §4.5.2: a line beginning with "." gets another.
		{"no dots", "Subject: x\r\n\r\nhi\r\n", "Subject: x\r\n\r\nhi\r\n.\r\n", 0},
		{"lone dot line", "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n", 1},
		{"dot first in the message", ".x\r\n", "..x\r\n.\r\n", 1},
		{"two dots become three", "a\r\n..\r\n", "a\r\n...\r\n.\r\n", 1},
		{"dot inside a line untouched", "a.b\r\n", "a.b\r\n.\r\n", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n, err := DataText([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want || n != tc.stuffed {
				t.Errorf("DataText(%q) = %q, %d; want %q, %d", tc.in, got, n, tc.want, tc.stuffed)
			}
		})
	}
}

func TestReadMessageFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.eml")
	if err := os.WriteFile(small, []byte("Subject: x\r\n\r\nhi\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.eml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		max  int64
		want string // error text; "" for success
	}{
		{"fits", small, 100, ""},
		{"over the bound", small, 10, "more than the 10 bytes"},
		{"missing", filepath.Join(dir, "nope.eml"), 100, "no such file"},
		{"a directory", dir, 100, "not a regular file"},
		{"empty", empty, 100, "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ReadMessageFile(tc.path, tc.max)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want == "" && int64(len(b)) > tc.max:
				t.Errorf("read %d bytes, bound %d", len(b), tc.max)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestSendLab(t *testing.T) {
	spoof := filepath.Join("testdata", "messages", "spoof.eml")
	tests := []struct {
		name    string
		lines   []string
		want    []string
		notWant []string
		deliver bool
	}{
		{
			// The spoofing lesson: the envelope and the header disagree
			// and the server takes it all the same.
			name: "bdat in the transaction, From differs",
			lines: []string{"EHLO client.example", "MAIL FROM:<mallory@evil.example>", "RCPT TO:<alice@lab.smtpsh.test>",
				":send --bdat " + spoof, "expect 250", "QUIT"},
			want:    []string{"the header From (ceo@bank.example) differs from MAIL FROM <mallory@evil.example>", "C: BDAT ", " LAST", "expect 250: ok"},
			deliver: true,
		},
		{
			// Without --bdat the text goes after DATA's 354, dot-stuffed.
			name: "data in the transaction",
			lines: []string{"EHLO client.example", "MAIL FROM:<mallory@evil.example>", "RCPT TO:<alice@lab.smtpsh.test>",
				":send " + spoof, "expect 250", "QUIT"},
			want: []string{"C: DATA", "S: 354", "S: 250 2.0.0 Ok: queued", "expect 250: ok"},
			// :send types the text itself: no invitation to type it.
			notWant: []string{"type the message"},
			deliver: true,
		},
		{
			name:  "no transaction open",
			lines: []string{"EHLO client.example", ":send " + spoof},
			want:  []string{":send sends in the current transaction: MAIL FROM and RCPT TO first"},
		},
		{
			name: "file missing",
			lines: []string{"EHLO client.example", "MAIL FROM:<a@example.org>", "RCPT TO:<alice@lab.smtpsh.test>",
				":send testdata/messages/none.eml"},
			want: []string{"message file: open testdata/messages/none.eml"},
		},
		{
			name:    "before EHLO",
			lines:   []string{":send " + spoof},
			want:    []string{":send: say EHLO first"},
			notWant: []string{"C: DATA"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, st := startLab(t, "default")
			out, _, _ := runLines(t, addr, Config{}, tc.lines...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			verb := "C: BDAT "
			if !strings.Contains(strings.Join(tc.lines, "\n"), "--bdat") {
				verb = "C: DATA"
			}
			if b, m := strings.Index(out, verb), strings.Index(out, "C: From: CEO"); tc.deliver && (b < 0 || m < b) {
				t.Errorf("the message is shown before its %s command:\n%s", verb, out)
			}
			msgs := st.Mailbox("alice")
			if !tc.deliver {
				if len(msgs) != 0 {
					t.Errorf("%d messages delivered, want none", len(msgs))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("alice has %d messages, want 1\n%s", len(msgs), out)
			}
			// The file's LF line ends arrive as CRLF; BDAT sends the dot
			// lines unstuffed (RFC 3030 §2), DATA stuffs them and the lab
			// unstuffs them (RFC 5321 §4.5.2): the same text arrives.
			if !bytes.Contains(msgs[0].Data, []byte("Please pay the invoice today.\r\n.\r\n..two dots\r\n")) {
				t.Errorf("delivered:\n%q", msgs[0].Data)
			}
		})
	}
}

// stepSession connects a Session to addr outside Run and reads the
// greeting, so that a meta-command's steps can be driven the way the
// session loop drives them once it hands them the replies: each step, then
// the replies to what it sent.
func stepSession(t *testing.T, addr string, cfg Config) (*Session, *bytes.Buffer, *smtp.ReplyReader) {
	t.Helper()
	kb, err := kbOnce()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr, cfg.KB, cfg.Timeout = addr, kb, 5*time.Second
	if cfg.Dialer == nil {
		cfg.Dialer = &TCPDialer{}
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s.in, s.out = Lines(&out), &out
	conn, err := cfg.Dialer.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	s.tap = &tapConn{Conn: conn}
	s.conn = s.tap
	s.tr.Started = s.now()
	s.pending = []pending{{verb: explain.Greeting, sent: s.tr.Started}}
	rr := smtp.NewReplyReader(s.tap, nil)
	settle(t, s, rr)
	return s, &out, rr
}

// settle reads the reply to every command waiting for one.
func settle(t *testing.T, s *Session, rr *smtp.ReplyReader) {
	t.Helper()
	for len(s.pending) > 0 && !s.closed {
		r, err := rr.ReadReply()
		if err != nil {
			t.Fatalf("reading a reply: %v\n%s", err, s.out)
		}
		s.handleReply(replyResult{r: r, at: s.now()})
	}
}

// drive runs steps from first until one returns nil.
func drive(t *testing.T, s *Session, rr *smtp.ReplyReader, first step) {
	t.Helper()
	for st, n := first, 0; st != nil; n++ {
		if n > 20 {
			t.Fatal("more than 20 steps")
		}
		next := st()
		settle(t, s, rr)
		st = next
	}
}

// TestStepsData drives the DATA path of :send and :compose, whose text
// waits for DATA's 354 (RFC 5321 §4.1.1.4), against the lab, with and
// without PIPELINING.
func TestStepsData(t *testing.T) {
	msg, err := os.ReadFile(filepath.Join("testdata", "messages", "spoof.eml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		ehlo  string // EHLO gets PIPELINING, HELO nothing
		wantC []string
	}{
		{"pipelined after EHLO (RFC 2920 §3.1)", "EHLO client.example", []string{"MAIL FROM:<mallory@evil.example>", "RCPT TO:<alice@lab.smtpsh.test>", "DATA", "."}},
		{"one by one after HELO", "HELO client.example", []string{"MAIL FROM:<mallory@evil.example>", "RCPT TO:<alice@lab.smtpsh.test>", "DATA", "."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, st := startLab(t, "default")
			s, out, rr := stepSession(t, addr, Config{})
			drive(t, s, rr, func() step { s.sendLine(tc.ehlo); return nil })
			out.Reset()
			drive(t, s, rr, s.transmitSteps(msg, "mallory@evil.example", []string{"alice@lab.smtpsh.test"}, false))
			got := clientLines(s.Transcript())
			tail := got[len(got)-len(tc.wantC):]
			if strings.Join(tail, "\n") != strings.Join(tc.wantC, "\n") {
				t.Errorf("client lines end %q, want %q\n%s", tail, tc.wantC, out)
			}
			if s.last == nil || s.last.Code != 250 {
				t.Fatalf("last reply %v, want 250\n%s", s.last, out)
			}
			if !strings.Contains(out.String(), "2 line(s) dot-stuffed") {
				t.Errorf("no dot-stuffing note:\n%s", out)
			}
			msgs := st.Mailbox("alice")
			if len(msgs) != 1 || !bytes.Contains(msgs[0].Data, []byte("today.\r\n.\r\n..two dots\r\n")) {
				t.Fatalf("delivered %d messages, want 1 with the dot lines unstuffed\n%s", len(msgs), out)
			}
			if s.Phase() != PhaseMail {
				t.Errorf("phase %s after the message, want mail", s.Phase())
			}
		})
	}
}

// FuzzMessageText checks what :send does to a hostile message file: CRLF
// leaves no bare CR or LF, DataText of it reads back through internal/smtp's
// DotReader as the same bytes (RFC 5321 §4.5.2), its output is bounded, and
// HeaderFrom never panics.
func FuzzMessageText(f *testing.F) {
	f.Add([]byte("From: a@example.org\r\n\r\nhi\r\n"))
	f.Add([]byte("a\r.\rb\n.\n..\r\n"))
	f.Add([]byte(".\r\n"))
	f.Add([]byte("From: <>\n\n\x00\xff"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		c := CRLF(msg)
		if len(c) > 2*len(msg)+2 {
			t.Fatalf("CRLF grew %d bytes to %d", len(msg), len(c))
		}
		for i, b := range c {
			if b == '\r' && (i+1 >= len(c) || c[i+1] != '\n') || b == '\n' && (i == 0 || c[i-1] != '\r') {
				t.Fatalf("bare line break at %d in %q", i, c)
			}
		}
		wire, _, err := DataText(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := io.ReadAll(smtp.NewDotReader(bufio.NewReader(bytes.NewReader(wire)), nil))
		if err != nil {
			t.Fatalf("DotReader: %v on %q", err, wire)
		}
		if !bytes.Equal(back, c) {
			t.Fatalf("round trip: %q became %q", c, back)
		}
		_, _ = HeaderFrom(c)
	})
}

// BenchmarkDataText measures the DATA encoding of a 1 MB message file.
func BenchmarkDataText(b *testing.B) {
	line := []byte("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\n")
	msg := CRLF(bytes.Repeat(line, (1<<20)/len(line)))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DataText(msg); err != nil {
			b.Fatal(err)
		}
	}
}
