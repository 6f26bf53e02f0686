package capture

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab"
	"github.com/smtpsh/smtpsh/internal/lab/store"
	"github.com/smtpsh/smtpsh/internal/peertest"
	"github.com/smtpsh/smtpsh/shell"
)

// TestPeerLabCapture records, with tcpdump on loopback, swaks and the
// shell talking to the lab: swaks with DATA and a dot-stuffed line, the
// shell with BDAT (swaks has none). The decode must carry the commands
// swaks and the shell sent, and each message exactly as the lab stored it
// (the lab's own store is the truth: it prepends only its Received line).
func TestPeerLabCapture(t *testing.T) {
	tcpdump := peertest.Program(t, "tcpdump")
	swaks := peertest.Program(t, "swaks")
	if os.Geteuid() != 0 {
		if peertest.Required() {
			t.Fatal("tcpdump needs root (SMTPSH_PEERS=1)")
		}
		t.Skip("tcpdump needs root")
	}
	p, err := lab.LoadProfile("default")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New("")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := lab.New(lab.Config{Profile: p, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		st.Close()
	})
	addr := ln.Addr().String()
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	path, stop := startTcpdump(t, tcpdump, "lo", port)

	// swaks: DATA, with a body line that starts with a dot.
	out, err := exec.Command(swaks, "--server", host, "--port", portStr, "--ehlo", "swaks.test",
		"--from", "student@example.org", "--to", "alice@lab.smtpsh.test", "--body", ".dot line\r\nsecond line").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	// The shell: BDAT (RFC 3030), which only :send --bdat speaks here.
	msgFile := filepath.Join(t.TempDir(), "m.eml")
	body := "From: student@example.org\r\nTo: bob@lab.smtpsh.test\r\nSubject: chunked\r\n\r\n.not stuffed in BDAT\r\nend\r\n"
	if err := os.WriteFile(msgFile, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := shell.New(shell.Config{Addr: addr, NoExplain: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var so bytes.Buffer
	if err := s.Run(context.Background(), shell.Lines(&so, "EHLO shell.test", "MAIL FROM:<student@example.org>",
		"RCPT TO:<bob@lab.smtpsh.test>", ":send --bdat "+msgFile, "expect 250", "QUIT")); err != nil {
		t.Fatalf("shell: %v\n%s", err, so.String())
	}
	stop([]byte("221 2.0.0 Bye\r\n"))
	waitCount(t, path, []byte("221 2.0.0 Bye\r\n"), 2)

	convs := decodeConvs(t, []string{path}, nil, Options{Ports: append(DefaultPorts(), uint16(port))})
	if len(convs) != 2 {
		t.Fatalf("%d conversations, want 2 (swaks, the shell)", len(convs))
	}
	var got []*Conversation
	for _, c := range convs {
		got = append(got, c)
	}
	if got[0].Info.ID > got[1].Info.ID {
		got[0], got[1] = got[1], got[0]
	}
	for i, tc := range []struct {
		name, user, helo, method string
	}{
		{"swaks", "alice", "swaks.test", "DATA"},
		{"shell", "bob", "shell.test", "BDAT"},
	} {
		c := got[i]
		t.Run(tc.name, func(t *testing.T) {
			if c.Helo != tc.helo || len(c.Messages) != 1 || c.Messages[0].Method != tc.method {
				t.Fatalf("HELO %q, %d messages (%v)", c.Helo, len(c.Messages), c.Messages)
			}
			stored := st.Mailbox(tc.user)
			if len(stored) != 1 {
				t.Fatalf("%s has %d messages in the lab", tc.user, len(stored))
			}
			m := c.Messages[0]
			if !m.Complete || len(m.Data) == 0 || !bytes.HasSuffix(stored[0].Data, m.Data) {
				t.Errorf("decoded (complete %v):\n%q\nthe lab stored:\n%q", m.Complete, m.Data, stored[0].Data)
			}
			// What the lab prepended is its Received line, nothing else.
			if head := strings.TrimSuffix(string(stored[0].Data), string(m.Data)); !strings.HasPrefix(head, "Received: ") {
				t.Errorf("the stored message differs before the decoded one: %q", head)
			}
		})
	}
	if !bytes.Contains(got[0].Messages[0].Data, []byte("\r\n.dot line\r\n")) {
		t.Errorf("swaks' dot line was not unstuffed: %q", got[0].Messages[0].Data)
	}
}
