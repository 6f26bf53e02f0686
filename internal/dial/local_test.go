package dial

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/peertest"
)

// converse sends lines on c and returns the reply lines read up to each
// final line (code and a space), as a client waits for a reply.
func converse(t *testing.T, c *Conn, lines ...string) []string {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var got []string
	readReply := func() {
		for {
			l, err := c.Reader().ReadString('\n')
			if err != nil {
				t.Fatalf("reading after %d lines: %v (got %q)", len(got), err, got)
			}
			l = strings.TrimRight(l, "\r\n")
			got = append(got, l)
			if len(l) < 4 || l[3] != '-' {
				return
			}
		}
	}
	readReply() // the greeting
	for _, l := range lines {
		if _, err := c.Write([]byte(l + "\r\n")); err != nil {
			t.Fatal(err)
		}
		readReply()
	}
	return got
}

func TestDialUnix(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "lmtp.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// Dovecot's LMTP greeting and LHLO answer (RFC 2033 §4.1).
		c.Write([]byte("220 mail.example Dovecot (Debian) ready.\r\n"))
		r := bufio.NewReader(c)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case strings.HasPrefix(l, "LHLO"):
				c.Write([]byte("250-mail.example\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING\r\n"))
			case strings.HasPrefix(l, "QUIT"):
				c.Write([]byte("221 2.0.0 OK\r\n"))
				return
			}
		}
	}()
	d := &Dialer{Options: Options{Timeout: 5 * time.Second}}
	nc, err := d.Dial(context.Background(), UnixPrefix+sock)
	if err != nil {
		t.Fatal(err)
	}
	c := nc.(*Conn)
	defer c.Close()
	if got := c.Path().Target; got != "unix:"+sock {
		t.Errorf("Path().Target = %q", got)
	}
	got := converse(t, c, "LHLO client.example", "QUIT")
	want := []string{"220 mail.example Dovecot (Debian) ready.", "250-mail.example", "250-8BITMIME", "250-ENHANCEDSTATUSCODES", "250 PIPELINING", "221 2.0.0 OK"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestDialLocalErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		dial func() error
		want string
	}{
		{"unix: no such socket", func() error {
			_, err := DialUnix(ctx, filepath.Join(t.TempDir(), "none.sock"), Options{})
			return err
		}, "connect to unix socket"},
		{"unix: empty path", func() error { _, err := DialUnix(ctx, "", Options{}); return err }, "empty path"},
		{"unix: proxy", func() error {
			_, err := DialUnix(ctx, "/tmp/x", Options{Proxy: "socks5://127.0.0.1:1"})
			return err
		}, "does not apply to a local socket"},
		{"pipe: empty command", func() error { _, err := DialPipe(ctx, " ", Options{}); return err }, "empty command"},
		{"pipe: PROXY header", func() error {
			_, err := DialPipe(ctx, "cat", Options{ProxyProtocol: "v1"})
			return err
		}, "does not apply to a local program"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.dial(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestDialPipe speaks to a small shell script: the greeting, an echo of
// each command, and on Close its exit status and standard error.
func TestDialPipe(t *testing.T) {
	script := `printf '220 pipe.example ESMTP\r\n'; while read -r l; do case "$l" in QUIT*) printf '221 2.0.0 Bye\r\n'; echo "leaving" >&2; exit 3;; *) printf '250 2.0.0 %s\r\n' "$l";; esac; done`
	c, err := DialPipe(context.Background(), script, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr().Network() != "pipe" || c.RemoteAddr().String() != script {
		t.Errorf("RemoteAddr = %s %q", c.RemoteAddr().Network(), c.RemoteAddr())
	}
	got := converse(t, c, "NOOP", "QUIT")
	// read -r keeps the CR, so the echo ends "NOOP\r\r\n"; converse
	// trims both.
	want := []string{"220 pipe.example ESMTP", "250 2.0.0 NOOP", "221 2.0.0 Bye"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q", got, want)
	}
	err = c.Close()
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "leaving") {
		t.Errorf("Close = %v, want the exit status and stderr", err)
	}
}

// TestDialPipeKillsAHungProgram: a program that ignores its closed input
// is killed, and Close returns.
func TestDialPipeKillsAHungProgram(t *testing.T) {
	c, err := DialPipe(context.Background(), "exec sleep 60", Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = c.Close()
	if d := time.Since(start); d > pipeWait+2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Close = %v, want the kill reported", err)
	}
}

// TestPeerPipeSendmail speaks to Postfix's "sendmail -bs" (stand-alone SMTP
// on standard input and output, sendmail(1)): the banner, EHLO, a
// transaction refused or accepted, QUIT.
func TestPeerPipeSendmail(t *testing.T) {
	sendmail := peertest.Program(t, "/usr/sbin/sendmail")
	c, err := DialPipe(context.Background(), sendmail+" -bs", Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got := converse(t, c, "EHLO client.example", "MAIL FROM:<alice@example.com>", "RSET", "QUIT")
	if !strings.HasPrefix(got[0], "220 ") || !strings.Contains(got[0], "Postfix") {
		t.Errorf("banner %q, want Postfix's 220", got[0])
	}
	joined := strings.Join(got, "\n")
	for _, w := range []string{"250-PIPELINING", "250 2.1.0 Ok", "221 2.0.0 Bye"} {
		if !strings.Contains(joined, w) {
			t.Errorf("conversation lacks %q:\n%s", w, joined)
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestDialPipeKeepsSecrets: the --pipe program, the server, does not get
// the client's $SMTPSH_PASSWORD (or any SMTPSH_ variable); the rest of the
// environment is passed on.
func TestDialPipeKeepsSecrets(t *testing.T) {
	t.Setenv("SMTPSH_PASSWORD", "wonderland")
	t.Setenv("SMTPSH_OAUTH_TOKEN", "ya29.token")
	t.Setenv("SMTPSH_TEST_OTHER", "x")
	t.Setenv("PIPE_TEST_KEPT", "kept")
	script := `printf '220 [%s][%s][%s]\r\n' "$SMTPSH_PASSWORD$SMTPSH_OAUTH_TOKEN" "$SMTPSH_TEST_OTHER" "$PIPE_TEST_KEPT"; read -r l; printf '221 bye\r\n'`
	c, err := DialPipe(context.Background(), script, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := converse(t, c, "QUIT")
	if len(got) == 0 || got[0] != "220 [][][kept]" {
		t.Errorf("the program saw %q", got)
	}
}
