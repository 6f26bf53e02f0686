package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/smtpsh/smtpsh/shell"
)

// shellMainEnv, when set, makes the test binary run as `smtpsh [flags]
// [host]` (see TestMain), so the pty tests run the real shell, readline and
// terminal included, in a process of its own.
const shellMainEnv = "SMTPSH_TEST_SHELL_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(shellMainEnv) == "1" {
		os.Exit(shellMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// shellMain runs smtpsh with args, as main does, and returns its exit
// status.
func shellMain(args []string) int { return execute(newRootCmd(), args) }

// runShellCmd runs the shell command in-process with args and stdin.
func runShellCmd(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func exitStatus(err error) int {
	var ee *shell.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.Code
	}
	return 1
}

// labAddr starts the in-process lab for a test and returns its address.
func labAddr(t *testing.T) string {
	t.Helper()
	l, err := startShellLab("default")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.stop)
	return l.addr
}

// TestShellNonInteractive runs the shell the ways a script does: -c,
// --script, piped stdin, and no host (the in-process lab), and checks
// output and exit status.
func TestShellNonInteractive(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "submit.smtp")
	if err := os.WriteFile(script, []byte("# a whole submission\nEHLO client.example\nexpect 250\nMAIL FROM:<student@example.org>\nRCPT TO:<alice@lab.smtpsh.test>\nexpect 2xx\nDATA\nexpect 354\nSubject: hi\n\n.dot\n.\nexpect 250\nQUIT\nexpect 221\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badScript := filepath.Join(dir, "bad.smtp")
	if err := os.WriteFile(badScript, []byte("EHLO client.example\nRCPT TO:<alice@lab.smtpsh.test>\nexpect 250\nNOOP\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := labAddr(t)
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  []string
	}{
		{"dash-c", "", []string{addr, "-c", "EHLO client.example", "-c", "expect 250", "-c", "VRFY root", "-c", "QUIT"}, 0,
			[]string{"C: EHLO client.example", "S: 250 CHUNKING", "S: 252 2.0.0 root", "↳ The server will not say", "S: 221"}},
		{"script", "", []string{addr, "--script", script}, 0,
			[]string{"S: 354", "sent as ..dot (dot-stuffed", "expect 221: ok"}},
		{"script-expectation-fails", "", []string{addr, "--script", badScript}, shell.ExitExpect,
			[]string{"S: 503 5.5.1", "expect 250: got 503", "C: QUIT"}},
		{"stdin-pipe", "ehlo client.example\r\nquit\r\n", []string{addr}, 0,
			[]string{"C: ehlo client.example", "S: 221"}},
		{"stdin-ends-without-quit", "EHLO client.example\n", []string{addr}, 0,
			[]string{"C: QUIT", "S: 221"}},
		{"no-explain", "", []string{addr, "--no-explain", "-c", "NOOP"}, 0, []string{"S: 250 2.0.0 Ok"}},
		{"no-host-starts-the-lab", "", []string{"-c", "EHLO client.example", "-c", "expect 250"}, 0,
			[]string{"no host given: practising on the lab (profile default) at 127.0.0.1:", "S: 220 lab.smtpsh.test"}},
		{"c-and-script", "", []string{addr, "-c", "NOOP", "--script", script}, 1, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runShellCmd(t, tt.stdin, tt.args...)
			if got := exitStatus(err); got != tt.code {
				t.Errorf("exit %d (%v), want %d\n%s", got, err, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.name == "no-explain" && strings.Contains(out, "↳") {
				t.Errorf("--no-explain still explains:\n%s", out)
			}
			if strings.Contains(out, "\x1b") {
				t.Errorf("escape codes when stdout is not a terminal:\n%q", out)
			}
		})
	}
}

func TestShellConnectionFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = runShellCmd(t, "", addr, "-c", "QUIT", "--timeout", "2s")
	if exitStatus(err) != shell.ExitConnect {
		t.Errorf("exit %d (%v), want %d", exitStatus(err), err, shell.ExitConnect)
	}
}

func TestShellRecord(t *testing.T) {
	addr := labAddr(t)
	path := filepath.Join(t.TempDir(), "s.txt")
	if _, err := runShellCmd(t, "", addr, "--record", path, "-c", "EHLO client.example", "-c", "AUTH PLAIN AHUAcA=="); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, w := range []string{"# smtpsh transcript v1", "S: 220 lab.smtpsh.test", "C: EHLO client.example", "C: AUTH PLAIN <redacted>", "C: QUIT", "S: 221"} {
		if !strings.Contains(text, w) {
			t.Errorf("--record file lacks %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "AHUAcA==") {
		t.Errorf("--record file holds the AUTH secret:\n%s", text)
	}
}

func TestTargetAddr(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"mx.example.com", "mx.example.com:25", ""},
		{"mx.example.com:587", "mx.example.com:587", ""},
		{"127.0.0.1", "127.0.0.1:25", ""},
		{"[::1]:2525", "[::1]:2525", ""},
		{"::1", "[::1]:25", ""},
		{"[::1]", "[::1]:25", ""},
		{"", "", "empty host"},
		{":25", "", "want host"},
		{"mx.example.com:", "", "want host"},
		{"http://mx", "", "want host"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := targetAddr(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("targetAddr(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("targetAddr(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestShellHelpDocumentsExitStatus(t *testing.T) {
	out, err := runShellCmd(t, "", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Exit status:", fmt.Sprintf("%d  the connection could not be opened", shell.ExitConnect),
		fmt.Sprintf("%d  an expectation failed", shell.ExitExpect), "--no-explain", "--record", "--script", "-c, --command"} {
		if !strings.Contains(out, w) {
			t.Errorf("help lacks %q:\n%s", w, out)
		}
	}
}

// ptyShell is the shell running in its own process on a pseudo-terminal.
type ptyShell struct {
	t    testing.TB
	tty  *os.File
	out  *syncBuffer
	cmd  *exec.Cmd
	done chan error
	// state is the shell's XDG_STATE_HOME.
	state string
}

// startPTYShell runs the test binary as smtpsh with args on a new pty,
// with history in a temporary XDG_STATE_HOME and colour off.
func startPTYShell(t testing.TB, args ...string) *ptyShell {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	state := t.TempDir()
	cmd.Env = append(os.Environ(), shellMainEnv+"=1", "XDG_STATE_HOME="+state, "NO_COLOR=1", "TERM=xterm")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyShell{t: t, tty: tty, out: &syncBuffer{}, cmd: cmd, done: make(chan error, 1), state: state}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			p.out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		<-copied
		p.done <- err
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		tty.Close()
	})
	return p
}

// waitFor waits until the output holds s after offset from, and returns
// the offset after it.
func (p *ptyShell) waitFor(from int, s string) int {
	p.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		out := p.out.String()
		if from <= len(out) {
			if i := strings.Index(out[from:], s); i >= 0 {
				return from + i + len(s)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.t.Fatalf("no %q in the terminal after byte %d:\n%q", s, from, p.out.String())
	return 0
}

func (p *ptyShell) typeText(s string) {
	p.t.Helper()
	if _, err := p.tty.WriteString(s); err != nil {
		p.t.Fatal(err)
	}
}

// wait waits for the shell to exit and returns its exit status.
func (p *ptyShell) wait() int {
	p.t.Helper()
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			p.t.Fatal(err)
		}
		return 0
	case <-time.After(5 * time.Second):
		p.t.Fatalf("the shell did not exit:\n%q", p.out.String())
		return -1
	}
}

// TestPTYCompletion types a partial verb and Tab in the real shell on a
// terminal, then Tab for the EHLO name, and checks what was sent.
func TestPTYCompletion(t *testing.T) {
	addr := labAddr(t)
	rec := filepath.Join(t.TempDir(), "s.txt")
	p := startPTYShell(t, addr, "--ehlo", "client.example", "--record", rec)
	at := p.waitFor(0, "helo> ")
	p.typeText("eh\t")
	at = p.waitFor(at, "ehlo ")
	p.typeText("\t")
	at = p.waitFor(at, "client.example")
	p.typeText("\r")
	at = p.waitFor(at, "S: 250 CHUNKING")
	at = p.waitFor(at, "mail> ")
	p.typeText("MA\t")
	at = p.waitFor(at, "MAIL FROM:<")
	p.typeText("student@example.org>\r")
	at = p.waitFor(at, "S: 250 2.1.0")
	p.waitFor(at, "rcpt> ")
	p.typeText("\x04") // Ctrl-D: QUIT and leave
	if code := p.wait(); code != 0 {
		t.Errorf("exit status %d\n%s", code, p.out.String())
	}
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"C: ehlo client.example\n", "C: MAIL FROM:<student@example.org>\n", "C: QUIT\n"} {
		if !strings.Contains(string(b), w) {
			t.Errorf("the server was not sent %q:\n%s", w, b)
		}
	}
}

// TestPTYSubmission sends a whole message from the real shell on a
// terminal: EHLO, MAIL, RCPT, DATA with the data> prompt, and :quit.
func TestPTYSubmission(t *testing.T) {
	addr := labAddr(t)
	rec := filepath.Join(t.TempDir(), "s.txt")
	p := startPTYShell(t, addr, "--record", rec)
	at := p.waitFor(0, "helo> ")
	for _, step := range []struct{ typed, want string }{
		{"EHLO client.example\r", "mail> "},
		{"MAIL FROM:<student@example.org>\r", "rcpt> "},
		{"RCPT TO:<alice@lab.smtpsh.test>\r", "S: 250 2.1.5"},
		{"DATA\r", "data> "},
		{"Subject: from the pty\r", "data> "},
		{"\r", "data> "},
		{".a line that needs stuffing\r", "dot-stuffed"},
		{".\r", "S: 250 2.0.0"},
		{":quit\r", "S: 221"},
	} {
		p.typeText(step.typed)
		at = p.waitFor(at, step.want)
	}
	if code := p.wait(); code != 0 {
		t.Errorf("exit status %d\n%s", code, p.out.String())
	}
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "C: ..a line that needs stuffing\n") && !strings.Contains(string(b), "..a line that needs stuffing") {
		t.Errorf("transcript lacks the stuffed line:\n%s", b)
	}
}

// TestPTYReplyWhileTyping has the server send a reply while a line is half
// typed: it is printed above the prompt and the line, finished afterwards,
// is sent whole.
func TestPTYReplyWhileTyping(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	send421 := make(chan struct{})
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprint(c, "220 mx.example ESMTP\r\n")
		<-send421
		fmt.Fprint(c, "421 4.4.2 mx.example Error: timeout exceeded\r\n")
		buf := make([]byte, 512)
		var line []byte
		for !bytes.HasSuffix(line, []byte("\r\n")) {
			n, err := c.Read(buf)
			if err != nil {
				break
			}
			line = append(line, buf[:n]...)
		}
		got <- string(line)
		fmt.Fprint(c, "221 2.0.0 Bye\r\n")
	}()
	p := startPTYShell(t, ln.Addr().String())
	at := p.waitFor(0, "helo> ")
	p.typeText("MAIL FR")
	at = p.waitFor(at, "MAIL FR")
	close(send421)
	at = p.waitFor(at, "S: 421 4.4.2")
	p.waitFor(at, "MAIL FR") // the line being edited is drawn again below
	p.typeText("OM:<a@example.org>\r")
	select {
	case l := <-got:
		if l != "MAIL FROM:<a@example.org>\r\n" {
			t.Errorf("server got %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the server got nothing:\n%q", p.out.String())
	}
}

// TestPTYInterruptAndHistory checks that Ctrl-C drops the line being
// edited, and that the history keeps commands but never an AUTH line.
func TestPTYInterruptAndHistory(t *testing.T) {
	addr := labAddr(t)
	rec := filepath.Join(t.TempDir(), "s.txt")
	p := startPTYShell(t, addr, "--record", rec)
	at := p.waitFor(0, "helo> ")
	p.typeText("NOOP\r")
	at = p.waitFor(at, "S: 250 2.0.0")
	p.typeText("AUTH PLAIN AHUAcA==\r")
	at = p.waitFor(at, "S: 503")
	p.typeText("VRFY ro")
	at = p.waitFor(at, "VRFY ro")
	p.typeText("\x03") // Ctrl-C
	at = p.waitFor(at, "^C")
	p.typeText("HELP\r")
	p.waitFor(at, "S: 214")
	p.typeText("\x04")
	if code := p.wait(); code != 0 {
		t.Errorf("exit status %d\n%s", code, p.out.String())
	}
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "C: VRFY") || !strings.Contains(string(b), "C: HELP") {
		t.Errorf("Ctrl-C did not drop the line:\n%s", b)
	}
	h, err := os.ReadFile(filepath.Join(p.state, "smtpsh", "history"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(h); got != "NOOP\nHELP\n" {
		t.Errorf("history file %q, want NOOP and HELP only", got)
	}
}

// BenchmarkStartToPrompt measures a newcomer's start: `smtpsh` with no
// host, on a terminal, until the first prompt (the in-process lab started
// and its greeting explained), then Ctrl-D until exit. The process is the
// test binary re-executed as smtpsh.
func BenchmarkStartToPrompt(b *testing.B) {
	var toPrompt time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		p := startPTYShell(b)
		p.waitFor(0, "helo> ")
		toPrompt += time.Since(start)
		p.typeText("\x04")
		if code := p.wait(); code != 0 {
			b.Fatalf("exit status %d\n%s", code, p.out.String())
		}
	}
	b.ReportMetric(float64(toPrompt.Microseconds())/1000/float64(b.N), "ms-to-prompt")
}

// TestPTYNoHost is a newcomer's first run: `smtpsh` on a terminal with no
// host practises on the in-process lab, says so in one line, and prompts
// with the lab's port and the phase.
func TestPTYNoHost(t *testing.T) {
	p := startPTYShell(t)
	at := p.waitFor(0, "no host given: practising on the lab (profile default) at 127.0.0.1:")
	at = p.waitFor(at, "S: 220 lab.smtpsh.test ESMTP smtpsh-lab")
	p.waitFor(at, "lab:")
	p.waitFor(at, " helo> ")
	p.typeText(":help\r")
	p.waitFor(at, ":explain [CODE]")
	p.typeText("\x04")
	if code := p.wait(); code != 0 {
		t.Errorf("exit status %d\n%s", code, p.out.String())
	}
}

// TestInterruptWritesRecord sends SIGINT to a shell reading a pipe that
// never ends: it stops, and --record still holds the session.
func TestInterruptWritesRecord(t *testing.T) {
	addr := labAddr(t)
	rec := filepath.Join(t.TempDir(), "s.txt")
	cmd := exec.Command(os.Args[0], addr, "--record", rec)
	cmd.Env = append(os.Environ(), shellMainEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	fmt.Fprint(stdin, "NOOP\n")
	for i := 0; i < 500 && !strings.Contains(out.String(), "S: 250 2.0.0"); i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit %v, want status 1\n%s", err, out.String())
	}
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "C: NOOP") || !strings.Contains(string(b), "*: close client interrupted") {
		t.Errorf("--record after SIGINT:\n%s", b)
	}
}

// TestPTYReconnect: the server closes the connection (421, RFC 5321 §3.8);
// the shell stays with a "closed" prompt, refuses SMTP lines, and
// :reconnect opens a new connection on which the session goes on.
func TestPTYReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	second := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		fmt.Fprint(c, "220 mx.example ESMTP\r\n")
		fmt.Fprint(c, "421 4.3.2 mx.example Service shutting down\r\n")
		c.Close()
		c, err = ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprint(c, "220 mx.example ESMTP again\r\n")
		r := bufio.NewReader(c)
		l, _ := r.ReadString('\n')
		second <- l
		fmt.Fprint(c, "250 mx.example\r\n")
		r.ReadString('\n') // QUIT
		fmt.Fprint(c, "221 2.0.0 Bye\r\n")
	}()
	p := startPTYShell(t, ln.Addr().String(), "--no-explain")
	at := p.waitFor(0, "S: 421 4.3.2")
	at = p.waitFor(at, ":reconnect connects again")
	at = p.waitFor(at, "closed> ")
	p.typeText("NOOP\r")
	at = p.waitFor(at, "not sent, the connection is closed")
	p.typeText(":reconnect\r")
	at = p.waitFor(at, "S: 220 mx.example ESMTP again")
	at = p.waitFor(at, "helo> ")
	p.typeText("EHLO client.example\r")
	select {
	case l := <-second:
		if l != "EHLO client.example\r\n" {
			t.Errorf("second connection got %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the second connection got nothing:\n%q", p.out.String())
	}
	at = p.waitFor(at, "mail> ")
	p.typeText("\x04") // Ctrl-D: QUIT and leave
	p.waitFor(at, "S: 221 2.0.0 Bye")
	if code := p.wait(); code != 0 {
		t.Errorf("exit status %d after a clean second connection, want 0", code)
	}
}
