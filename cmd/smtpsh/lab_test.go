package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab"
)

func TestLabProfileList(t *testing.T) {
	out, err := run(t, "lab", "--profile", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range lab.ProfileNames() {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+\S`).MatchString(out) {
			t.Errorf("--profile list has no line for %q with a description:\n%s", name, out)
		}
	}
}

// syncBuffer is a bytes.Buffer that a test can read while runLab writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLab runs `smtpsh lab` with o until the test ends and returns what it
// printed once it printed its addresses.
func startLab(t *testing.T, o labOptions) *syncBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- runLab(ctx, &out, &errOut, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("lab ended with %v", err)
		}
	})
	for i := 0; i < 200 && !strings.Contains(out.String(), "Ctrl-C"); i++ {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("lab did not start: %v\n%s", err, errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return &out
}

// TestLabStartsAndGreets starts the lab on free loopback ports, reads the
// addresses it printed, and checks that both listeners greet.
func TestLabStartsAndGreets(t *testing.T) {
	dir := t.TempDir()
	out := startLab(t, labOptions{Listen: "127.0.0.1:0", TLSListen: "127.0.0.1:0", Profile: "htb",
		Maildir: filepath.Join(dir, "mail"), LogDir: filepath.Join(dir, "log")})
	text := out.String()
	for _, want := range []string{"profile htb", "alice@lab.smtpsh.test (password wonderland)",
		"bob@lab.smtpsh.test (password builder)", "root → alice", "team → alice, bob", "sha256 "} {
		if !strings.Contains(text, want) {
			t.Errorf("start message lacks %q:\n%s", want, text)
		}
	}
	addr := regexp.MustCompile(`smtp:\s+(\S+)`).FindStringSubmatch(text)
	if addr == nil {
		t.Fatalf("no smtp address in:\n%s", text)
	}
	c, err := net.DialTimeout("tcp", addr[1], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	banner, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || banner != "220 ESMTP Server\r\n" {
		t.Errorf("htb banner %q, %v; want the profile's \"220 ESMTP Server\"", banner, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "log")); err != nil {
		t.Errorf("--log directory not made: %v", err)
	}
}

func TestLabPrintProfile(t *testing.T) {
	out, err := run(t, "lab", "--print-profile", "enum")
	if err != nil {
		t.Fatal(err)
	}
	want, err := lab.ProfileSource("enum")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("--print-profile enum printed %d bytes, not the embedded file (%d bytes)", len(out), len(want))
	}
	if _, err := run(t, "lab", "--print-profile", "nosuch"); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("--print-profile nosuch: %v; want an error naming it", err)
	}
}

func TestLabBusyPortNamesTheFlag(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		o    labOptions
		flag string
	}{
		{labOptions{Listen: ln.Addr().String(), TLSListen: "", Profile: "default"}, "--listen"},
		{labOptions{Listen: "127.0.0.1:0", TLSListen: ln.Addr().String(), Profile: "default"}, "--tls-listen"},
	} {
		var out, errOut bytes.Buffer
		err := runLab(context.Background(), &out, &errOut, tc.o)
		if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("busy port: %v; want an error naming %s and %s", err, ln.Addr(), tc.flag)
		}
	}
}

func TestLabWarnsOffLoopback(t *testing.T) {
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runLab(ctx, &out, &errOut, labOptions{Listen: "0.0.0.0:0", Profile: "default"}) }()
	for i := 0; i < 200 && !strings.Contains(out.String(), "Ctrl-C"); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "not a loopback address") {
		t.Errorf("no warning for a non-loopback listener; stderr: %q", errOut.String())
	}
	if strings.Contains(out.String(), "--server :: ") || strings.Contains(out.String(), "--server [::]") {
		t.Errorf("the hint names the unspecified address:\n%s", out.String())
	}
}

func TestLabBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown profile", []string{"lab", "--profile", "nosuch"}, "nosuch"},
		{"cert without key", []string{"lab", "--cert", "x.pem"}, "--cert and --key go together"},
		{"missing cert file", []string{"lab", "--cert", "/nonexistent/c.pem", "--key", "/nonexistent/k.pem"}, "/nonexistent/c.pem"},
		{"argument", []string{"lab", "extra"}, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("smtpsh %s: %v; want an error containing %q", strings.Join(tc.args, " "), err, tc.want)
			}
		})
	}
}
