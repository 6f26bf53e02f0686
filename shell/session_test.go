package shell

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/transcripts"
)

// exitCode returns the exit status err asks for: 0 for nil, -1 for an
// error that is not an *ExitError.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

// clientLines returns the Client events of a transcript.
func clientLines(tr *transcripts.Transcript) []string {
	var out []string
	for _, e := range tr.Events {
		if e.Kind == transcripts.Client {
			out = append(out, e.Text)
		}
	}
	return out
}

// TestSessionAgainstLab drives whole sessions against the lab's default
// profile, as -c would, and checks the output, the exit status and what
// was sent. Lines come from RFC 5321 Appendix D and SMTP course notes.
func TestSessionAgainstLab(t *testing.T) {
	tests := []struct {
		name      string
		lines     []string
		noExplain bool
		want      []string // in the output, in this order
		notWant   []string
		code      int
	}{
		{
			name:  "vrfy-in-context",
			lines: []string{"EHLO client.example", "expect 250", "VRFY root", "expect 252", "QUIT"},
			want: []string{"S: 220 lab.smtpsh.test ESMTP smtpsh-lab", "C: EHLO client.example", "S: 250 CHUNKING",
				"PIPELINING", "expect 250: ok", "S: 252 2.0.0 root", "↳ The server will not say whether the user exists", "S: 221 2.0.0"},
			code: ExitOK,
		},
		{
			name:  "course-notes-forms-sent-as-typed",
			lines: []string{"helo mail1.inlanefreight.htb", "MAIL FROM: <student@inlanefreight.htb>", "expect 250", "QUIT"},
			want:  []string{"C: helo mail1.inlanefreight.htb", "S: 250 lab.smtpsh.test", "C: MAIL FROM: <student@inlanefreight.htb>", "! ", "S: 250 2.1.0"},
			code:  ExitOK,
		},
		{
			name:    "expectation-fails-then-quit",
			lines:   []string{"EHLO client.example", "expect 5xx", "NOOP"},
			want:    []string{"expect 5xx: got 250", "C: QUIT", "S: 221"},
			notWant: []string{"C: NOOP"},
			code:    ExitExpect,
		},
		{
			name:  "out-of-phase-verb-warned-and-sent",
			lines: []string{"EHLO client.example", "RCPT TO:<alice@lab.smtpsh.test>", "expect 503"},
			want:  []string{"C: RCPT TO:<alice@lab.smtpsh.test>", "! RCPT is out of place in phase mail (expected MAIL", "S: 503 5.5.1"},
			code:  ExitOK,
		},
		{
			name:  "expect-after-quit",
			lines: []string{"QUIT", "expect 221"},
			want:  []string{"S: 221", "expect 221: ok"},
			code:  ExitOK,
		},
		{
			name:    "line-after-close-fails",
			lines:   []string{"QUIT", "NOOP"},
			want:    []string{"S: 221", "not sent"},
			notWant: []string{"C: NOOP"},
			code:    ExitProtocol,
		},
		{
			name:  "meta-commands",
			lines: []string{"EHLO client.example", ":explain", ":explain 5.7.1", ":info", ":nope"},
			want: []string{"after EHLO:", "Reply code 250", "5.7.1", "phase:     mail", "capabilities:", "  PIPELINING",
				"unknown meta-command :nope"},
			code: ExitOK,
		},
		{
			name:    "raw-on-off",
			lines:   []string{":raw on", "NOOP", ":raw off", "QUIT"},
			want:    []string{"raw on:", `-> NOOP\r\n`, `<- 250 2.0.0 Ok\r\n`, "raw off", "C: QUIT"},
			notWant: []string{`-> QUIT`},
			code:    ExitOK,
		},
		{
			name:  "parameters-after-helo",
			lines: []string{"HELO client.example", "MAIL FROM:<a@example.org> SIZE=100", "expect 555"},
			want:  []string{"! MAIL parameters are ESMTP extensions, which exist only after EHLO", "S: 555"},
			code:  ExitOK,
		},
		{
			name:    "parameter-not-advertised",
			lines:   []string{"EHLO client.example", "MAIL FROM:<a@example.org> BODY=BINARYMIME REQUIRETLS"},
			want:    []string{"! BODY needs the BINARYMIME extension", "! REQUIRETLS needs the REQUIRETLS extension"},
			notWant: []string{"SIZE needs"},
			code:    ExitOK,
		},
		{
			name:  "extension-before-ehlo",
			lines: []string{"STARTTLS"},
			want:  []string{"! STARTTLS is an extension: send EHLO first"},
			code:  ExitOK,
		},
		{
			name:      "no-explain",
			lines:     []string{"EHLO client.example", "QUIT"},
			noExplain: true,
			want:      []string{"S: 250 CHUNKING", "S: 221"},
			notWant:   []string{"↳", "PIPELINING    "},
			code:      ExitOK,
		},
		{
			name:  "starttls-reply-shown-upgrade-not-faked",
			lines: []string{"EHLO client.example", "STARTTLS", "expect 220"},
			want:  []string{"S: 220 2.0.0", "cannot be upgraded to TLS"},
			code:  ExitOK,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := startLab(t, "default")
			out, s, err := runLines(t, addr, Config{NoExplain: tt.noExplain}, tt.lines...)
			if got := exitCode(err); got != tt.code {
				t.Errorf("exit code %d (%v), want %d", got, err, tt.code)
			}
			rest := out
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("output lacks %q after the earlier expectations:\n%s", w, out)
					break
				}
				rest = rest[i+len(w):]
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "\x1b") {
				t.Errorf("escape code in output for a non-terminal:\n%q", out)
			}
			// What was typed is what was sent.
			sent := clientLines(s.Transcript())
			for _, l := range tt.lines {
				if _, isExpect := expectLine(l); isExpect || strings.HasPrefix(l, ":") {
					continue
				}
				found := false
				for _, c := range sent {
					found = found || c == l
				}
				if !found && !strings.Contains(strings.Join(tt.notWant, "\n"), l) {
					t.Errorf("line %q was not sent as typed; sent %q", l, sent)
				}
			}
		})
	}
}

// TestMessageSubmission sends a whole message with DATA, including a line
// that must be dot-stuffed (RFC 5321 §4.5.2), and checks the lab stored it
// unstuffed and the transcript recorded it stuffed.
func TestMessageSubmission(t *testing.T) {
	addr, st := startLab(t, "default")
	out, s, err := runLines(t, addr, Config{},
		"EHLO client.example",
		"MAIL FROM:<student@example.org>",
		"RCPT TO:<alice@lab.smtpsh.test>",
		"expect 250",
		"DATA",
		"expect 354",
		"Subject: dots",
		"",
		".hidden line",
		"..",
		".",
		"expect 250",
		"QUIT",
	)
	if err != nil {
		t.Fatalf("session failed: %v\n%s", err, out)
	}
	for _, w := range []string{"S: 354", "sent as ..hidden line (dot-stuffed", "sent as ... (dot-stuffed", "S: 250 2.0.0"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	msgs := st.Mailbox("alice")
	if len(msgs) != 1 {
		t.Fatalf("alice has %d messages, want 1", len(msgs))
	}
	if d := string(msgs[0].Data); !strings.HasSuffix(d, "Subject: dots\r\n\r\n.hidden line\r\n..\r\n") {
		t.Errorf("stored message ends %q", d[max(0, len(d)-60):])
	}
	var data []string
	for _, e := range s.Transcript().Events {
		if e.Kind == transcripts.Data {
			data = append(data, e.Text)
		}
	}
	if want := []string{"Subject: dots", "", "..hidden line", "..."}; strings.Join(data, "|") != strings.Join(want, "|") {
		t.Errorf("transcript data %q, want %q", data, want)
	}
	if p := s.Phase(); p != PhaseClosed {
		t.Errorf("phase after QUIT %v", p)
	}
}

// TestRecordRedactsAUTH checks that the transcript written for --record
// and :save redacts an AUTH PLAIN initial response typed by hand.
func TestRecordRedactsAUTH(t *testing.T) {
	addr, _ := startLab(t, "default")
	secret := "AHN0dWRlbnQAc2VjcmV0" // "\x00student\x00secret"
	_, s, err := runLines(t, addr, Config{}, "EHLO client.example", "AUTH PLAIN "+secret, "QUIT")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "session.txt")
	if err := WriteTranscript(path, s.Transcript()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if strings.Contains(text, secret) || !strings.Contains(text, "C: AUTH PLAIN <redacted>") {
		t.Errorf("transcript not redacted:\n%s", text)
	}
	back, err := transcripts.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatalf("the written transcript does not parse: %v", err)
	}
	if len(back.Events) != len(s.Transcript().Events) {
		t.Errorf("read back %d events, recorded %d", len(back.Events), len(s.Transcript().Events))
	}
}

func TestConnectFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, _, err = runLines(t, addr, Config{}, "QUIT")
	if exitCode(err) != ExitConnect || !strings.Contains(err.Error(), addr) {
		t.Errorf("got %v (exit %d), want exit %d naming %s", err, exitCode(err), ExitConnect, addr)
	}
}

// TestHostileServers checks that what a broken or malicious server sends
// is reported, never passed raw to the terminal, and never hangs or
// exhausts memory; the transcript keeps what arrived.
func TestHostileServers(t *testing.T) {
	big := strings.Repeat("A", 1<<20)
	tests := []struct {
		name    string
		serve   func(c net.Conn)
		lines   []string
		timeout time.Duration
		want    []string
		code    int
		server  []string // Server events recorded
	}{
		{
			name: "escape-sequences-and-controls",
			serve: func(c net.Conn) {
				fmt.Fprint(c, "220 evil \x1b[2J\x1b]0;pwned\x07 \x9b31m\r\n")
				readLine(c)
				fmt.Fprint(c, "221 bye\r\n")
			},
			lines: []string{"QUIT"},
			// RFC 5321 §4.2 allows no control characters in reply text:
			// the reply is shown escaped, named malformed, and the
			// session goes on.
			want:   []string{`S: 220 evil \x1b[2J\x1b]0;pwned\x07 \x9b31m`, "control character", "S: 221 bye"},
			code:   ExitProtocol,
			server: []string{"220 evil \x1b[2J\x1b]0;pwned\x07 \x9b31m", "221 bye"},
		},
		{
			name: "non-utf8",
			serve: func(c net.Conn) {
				fmt.Fprint(c, "220 caf\xe9 \xff\xfe\r\n")
				readLine(c)
				fmt.Fprint(c, "221 bye\r\n")
			},
			lines: []string{"QUIT"},
			want:  []string{`S: 220 caf\xe9 \xff\xfe`},
			code:  ExitOK,
		},
		{
			name: "huge-reply-line",
			serve: func(c net.Conn) {
				fmt.Fprint(c, "220 ")
				for i := 0; i < 50; i++ { // 50 MB, never a line end
					if _, err := fmt.Fprint(c, big); err != nil {
						return
					}
				}
			},
			lines: []string{"QUIT"},
			want:  []string{"longer than"},
			code:  ExitProtocol,
		},
		{
			name: "endless-multiline-reply",
			serve: func(c net.Conn) {
				for i := 0; i < 1_000_000; i++ {
					if _, err := fmt.Fprint(c, "220-more\r\n"); err != nil {
						return
					}
				}
			},
			lines: []string{"QUIT"},
			want:  []string{"while waiting for the greeting", "more than 128 lines"},
			code:  ExitProtocol,
		},
		{
			name: "never-answers",
			serve: func(c net.Conn) {
				fmt.Fprint(c, "220 slow\r\n")
				readLine(c)
				io.Copy(io.Discard, c) // until the client gives up
			},
			lines:   []string{"EHLO client.example", "QUIT"},
			timeout: 150 * time.Millisecond,
			want:    []string{`S: 220 slow`},
			code:    ExitProtocol,
		},
		{
			name: "no-greeting",
			serve: func(c net.Conn) {
				io.Copy(io.Discard, c)
			},
			lines:   []string{"QUIT"},
			timeout: 150 * time.Millisecond,
			want:    []string{"timeout: no greeting after 150ms"},
			code:    ExitProtocol,
		},
		{
			name: "closes-mid-reply",
			serve: func(c net.Conn) {
				fmt.Fprint(c, "220 ok\r\n")
				readLine(c)
				fmt.Fprint(c, "250-mx.example\r\n250-PIPELI")
			},
			lines:  []string{"EHLO client.example", "MAIL FROM:<a@example.org>"},
			want:   []string{"S: 250-mx.example", "closed the connection in the middle of a reply while waiting for the reply to \"EHLO client.example\""},
			code:   ExitProtocol,
			server: []string{"220 ok", "250-mx.example"},
		},
		{
			name: "answers-quit-but-stays-open",
			serve: func(c net.Conn) {
				fmt.Fprint(c, "220 ok\r\n")
				readLine(c)
				fmt.Fprint(c, "221 bye\r\n")
				io.Copy(io.Discard, c)
			},
			lines:   []string{"QUIT", "expect 221"},
			timeout: 100 * time.Millisecond,
			want:    []string{"S: 221 bye", "expect 221: ok"},
			code:    ExitOK,
		},
		{
			name: "closes-without-421",
			serve: func(c net.Conn) {
				fmt.Fprint(c, "220 ok\r\n")
				readLine(c)
			},
			lines: []string{"NOOP"},
			want:  []string{`the server closed the connection while waiting for the reply to "NOOP"`},
			code:  ExitProtocol,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeServer(t, tt.serve)
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			out, s, err := runLines(t, addr, Config{Timeout: tt.timeout}, tt.lines...)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			// The server's 1 MB block is shared; the session must not hold
			// the line: allow a few buffers, far below the 50 MB sent.
			if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 16<<20 {
				t.Errorf("heap grew by %d bytes", grew)
			}
			if got := exitCode(err); got != tt.code {
				t.Errorf("exit %d (%v), want %d\n%s", got, err, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) && !(err != nil && strings.Contains(err.Error(), w)) {
					t.Errorf("output and error lack %q:\nerror: %v\n%s", w, err, out)
				}
			}
			if strings.ContainsAny(out, "\x1b\x07") {
				t.Errorf("raw control bytes reached the output: %q", out)
			}
			if tt.server != nil {
				var got []string
				for _, e := range s.Transcript().Events {
					if e.Kind == transcripts.Server {
						got = append(got, e.Text)
					}
				}
				if strings.Join(got, "\n") != strings.Join(tt.server, "\n") {
					t.Errorf("transcript server lines %q, want %q", got, tt.server)
				}
			}
			if n := len(s.Transcript().Events); n == 0 || s.Transcript().Events[n-1].Kind != transcripts.Close {
				t.Errorf("transcript does not end with the close: %+v", s.Transcript().Events)
			}
		})
	}
}

// TestTimeoutNamesCommand checks the timeout error names what was waited
// for.
func TestTimeoutNamesCommand(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn) {
		fmt.Fprint(c, "220 slow\r\n")
		readLine(c)
		io.Copy(io.Discard, c)
	})
	_, _, err := runLines(t, addr, Config{Timeout: 100 * time.Millisecond}, "EHLO client.example")
	if want := `timeout: no reply to "EHLO client.example" after 100ms`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v does not name the command", err)
	}
}

// TestColour checks reply lines are coloured by class on a colour terminal
// and that nothing is coloured otherwise.
func TestColour(t *testing.T) {
	addr, _ := startLab(t, "default")
	out, _, err := runLines(t, addr, Config{Terminal: render.Terminal{TTY: true, Color: true}}, "EHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<bob@example.net>", "QUIT")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"\x1b[32mS: 220 ", "\x1b[32mS: 250 ", "\x1b[31mS: 554 5.7.1"} {
		if !strings.Contains(out, w) {
			t.Errorf("no %q in:\n%q", w, out)
		}
	}
}

func TestPrompt(t *testing.T) {
	tests := []struct {
		name string
		st   state
		want string
	}{
		{"connect", state{phase: PhaseConnect}, "lab:2525 connect> "},
		{"mail", state{phase: PhaseMail}, "lab:2525 mail> "},
		{"tls-auth-rcpt", state{phase: PhaseRcptData, tls: true, authed: true}, "lab:2525 tls auth rcpt> "},
		{"data", state{phase: PhaseData, tls: true}, "data> "},
		{"sasl", state{phase: PhaseMail, sasl: true}, "lab:2525 sasl> "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Session{cfg: Config{Name: "lab:2525"}, st: tt.st}
			if got := s.prompt(); got != tt.want {
				t.Errorf("prompt %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExpectLine(t *testing.T) {
	tests := []struct {
		line string
		code string
		ok   bool
	}{
		{"expect 250", "250", true},
		{"EXPECT 2xx", "2", true},
		{"expect 5", "5", true},
		{"expect  354 ", "354", true},
		{"expect", "", false},
		{"expect 25", "", false},
		{"expect 2yz", "", false},
		{"expect 250 ok", "", false},
		{"EXPN staff", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			code, ok := expectLine(tt.line)
			if code != tt.code || ok != tt.ok {
				t.Errorf("expectLine(%q) = %q, %v; want %q, %v", tt.line, code, ok, tt.code, tt.ok)
			}
		})
	}
}

// TestStuffLine checks one typed line becomes what RFC 5321 §4.5.2 wants
// on the wire.
func TestStuffLine(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "Subject: hi", "Subject: hi\r\n"},
		{"empty", "", "\r\n"},
		{"leading-dot", ".hidden", "..hidden\r\n"},
		{"two-dots", "..", "...\r\n"},
		{"dot-later", "a.b", "a.b\r\n"},
		{"bare-cr-split", "a\rb", "a\r\nb\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := stuffLine(tt.in)
			if err != nil || string(got) != tt.want {
				t.Errorf("stuffLine(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
