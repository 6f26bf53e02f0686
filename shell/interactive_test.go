package shell

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer a test reads while the session writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// typist is an interactive LineReader fed by the test, as a person at
// readline would be: lines arrive when the test sends them.
type typist struct {
	lines   chan string
	out     *lockedBuffer
	mu      sync.Mutex
	prompts []string
}

func newTypist() *typist { return &typist{lines: make(chan string), out: &lockedBuffer{}} }

func (ty *typist) ReadLine() (string, error) {
	l, ok := <-ty.lines
	if !ok {
		return "", io.EOF
	}
	return l, nil
}

func (ty *typist) SetPrompt(p string) {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	if n := len(ty.prompts); n == 0 || ty.prompts[n-1] != p {
		ty.prompts = append(ty.prompts, p)
	}
}

func (ty *typist) Stdout() io.Writer        { return ty.out }
func (ty *typist) SaveHistory(string) error { return nil }
func (ty *typist) Interactive() bool        { return true }
func (ty *typist) Close() error             { return nil }
func (ty *typist) waitFor(t *testing.T, s string) {
	t.Helper()
	for i := 0; i < 400; i++ {
		if strings.Contains(ty.out.String(), s) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %q in:\n%s", s, ty.out.String())
}

// TestInteractiveSlowServer: a person is told a reply is overdue and may
// go on waiting; :quit to a server that answers nothing still ends.
func TestInteractiveSlowServer(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn) {
		fmt.Fprint(c, "220 slow.example ESMTP\r\n")
		io.Copy(io.Discard, c)
	})
	kb, err := kbOnce()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Addr: addr, Name: "slow", KB: kb, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ty := newTypist()
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), ty) }()
	ty.lines <- "EHLO client.example"
	ty.waitFor(t, `still no reply to "EHLO client.example" after 100ms; keep waiting, or :quit`)
	ty.lines <- ":quit"
	select {
	case err := <-done:
		if exitCode(err) != ExitProtocol || !strings.Contains(err.Error(), `no reply to "QUIT"`) {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("the session did not end:\n%s", ty.out.String())
	}
	out := ty.out.String()
	if strings.Contains(out, "C: ") {
		t.Errorf("typed lines echoed on a terminal:\n%s", out)
	}
	ty.mu.Lock()
	defer ty.mu.Unlock()
	if len(ty.prompts) == 0 || ty.prompts[0] != "slow helo> " {
		t.Errorf("prompts %q, want the first to be %q", ty.prompts, "slow helo> ")
	}
}

// TestInteractivePrompts follows the prompt through a submission.
func TestInteractivePrompts(t *testing.T) {
	addr, _ := startLab(t, "default")
	kb, err := kbOnce()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Addr: addr, Name: "lab:2525", KB: kb})
	if err != nil {
		t.Fatal(err)
	}
	ty := newTypist()
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), ty) }()
	for _, l := range []string{"EHLO client.example", "MAIL FROM:<a@example.org>", "RCPT TO:<alice@lab.smtpsh.test>", "DATA", "Subject: x", ".", "QUIT"} {
		ty.lines <- l
	}
	if err := <-done; err != nil {
		t.Fatalf("%v\n%s", err, ty.out.String())
	}
	want := []string{"lab:2525 helo> ", "lab:2525 mail> ", "lab:2525 rcpt> ", "data> ", "lab:2525 mail> "}
	ty.mu.Lock()
	defer ty.mu.Unlock()
	if strings.Join(ty.prompts, "|") != strings.Join(want, "|") {
		t.Errorf("prompts %q, want %q", ty.prompts, want)
	}
}
