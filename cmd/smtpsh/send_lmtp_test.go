package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/send"
)

// fakeLMTP is an LMTP server on a Unix socket (RFC 2033), in Dovecot's
// wording: nobody@ is unknown at RCPT, full@ is over quota after the data
// (552 5.2.2), every other recipient is delivered. It keeps the commands
// it read.
type fakeLMTP struct {
	path string
	mu   sync.Mutex
	cmds []string
}

func startFakeLMTP(t *testing.T) *fakeLMTP {
	t.Helper()
	f := &fakeLMTP{path: filepath.Join(t.TempDir(), "lmtp")}
	ln, err := net.Listen("unix", f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(c)
		}
	}()
	return f
}

func (f *fakeLMTP) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

func (f *fakeLMTP) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	fmt.Fprint(c, "220 vm Dovecot (Debian) ready.\r\n")
	var rcpts []string
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		l = strings.TrimRight(l, "\r\n")
		f.mu.Lock()
		f.cmds = append(f.cmds, l)
		f.mu.Unlock()
		verb, _, _ := strings.Cut(strings.ToUpper(l), " ")
		switch verb {
		case "LHLO":
			fmt.Fprint(c, "250-vm\r\n250-8BITMIME\r\n250-CHUNKING\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING\r\n")
		case "EHLO", "HELO":
			fmt.Fprint(c, "500 5.5.1 Unknown command\r\n") // LMTP has no EHLO (RFC 2033 §4.1)
		case "MAIL":
			rcpts = nil
			fmt.Fprint(c, "250 2.1.0 OK\r\n")
		case "RCPT":
			addr := l[strings.Index(l, "<")+1 : strings.LastIndex(l, ">")]
			if strings.HasPrefix(addr, "nobody@") {
				fmt.Fprintf(c, "550 5.1.1 <%s> User doesn't exist: %s\r\n", addr, addr)
				continue
			}
			rcpts = append(rcpts, addr)
			fmt.Fprint(c, "250 2.1.5 OK\r\n")
		case "DATA":
			fmt.Fprint(c, "354 OK\r\n")
			for {
				d, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if d == ".\r\n" {
					break
				}
			}
			for _, a := range rcpts {
				if strings.HasPrefix(a, "full@") {
					fmt.Fprintf(c, "552 5.2.2 <%s> Quota exceeded (mailbox for user is full)\r\n", a)
				} else {
					fmt.Fprintf(c, "250 2.0.0 <%s> sPugBPdsB2tVFwAAg+zDdQ Saved\r\n", a)
				}
			}
		case "QUIT":
			fmt.Fprint(c, "221 2.0.0 Bye\r\n")
			return
		default:
			fmt.Fprint(c, "500 5.5.1 Unknown command\r\n")
		}
	}
}

// TestSendLMTP sends with --lmtp to a unix: socket: LHLO, and one reply
// per accepted recipient after the message, each in the JSON summary's
// recipients; the exit status says whether every recipient, none or some
// got the message.
func TestSendLMTP(t *testing.T) {
	lm := startFakeLMTP(t)
	tests := []struct {
		name     string
		to       string
		exit     int
		accepted []bool
		err      string
	}{
		{name: "delivered to all", to: "u1@example.org,u2@example.org", exit: 0, accepted: []bool{true, true}},
		{name: "one over quota", to: "u1@example.org,full@example.org", exit: send.ExitPartial, accepted: []bool{true, false},
			err: "delivered the message to 1 recipient(s) and refused it for 1: <full@example.org>: 552 5.2.2"},
		{name: "refused for the only one", to: "full@example.org", exit: send.ExitMessage, accepted: []bool{false},
			err: "refused the message for every recipient (1)"},
		{name: "unknown at rcpt", to: "nobody@example.org", exit: send.ExitRcpt, accepted: []bool{false}, err: "rcpt: the server refused RCPT TO:<nobody@example.org>: 550 5.1.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runSendCmd(t, "", "--lmtp", "--server", "unix:"+lm.path, "--from", "a@example.com", "--to", tc.to, "--json")
			if got := exitStatus(err); got != tc.exit {
				t.Fatalf("exit %d (%v), want %d\n%s", got, err, tc.exit, out)
			}
			if tc.err != "" && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %q lacks %q", err, tc.err)
			}
			var s send.Summary
			if err := json.Unmarshal([]byte(out), &s); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !s.LMTP || s.Commands[1].Verb != "LHLO" || s.Server != "unix:"+lm.path {
				t.Errorf("lmtp %v, second command %+v, server %q", s.LMTP, s.Commands[1], s.Server)
			}
			if len(s.Recipients) != len(tc.accepted) {
				t.Fatalf("recipients %+v, want %d", s.Recipients, len(tc.accepted))
			}
			for i, r := range s.Recipients {
				if r.Accepted != tc.accepted[i] {
					t.Errorf("recipient %+v, want accepted %v", r, tc.accepted[i])
				}
				if r.Accepted && (r.Code != 250 || !strings.Contains(strings.Join(r.Reply, ""), "<"+r.Recipient+">")) {
					t.Errorf("recipient %+v has another's reply", r)
				}
			}
			if tc.exit != 0 && s.Exit != tc.exit {
				t.Errorf("summary exit %d, want %d", s.Exit, tc.exit)
			}
		})
	}
	cmds := strings.Join(lm.commands(), "\n")
	if strings.Contains(cmds, "EHLO") {
		t.Errorf("EHLO sent to an LMTP server:\n%s", cmds)
	}
}

// TestSendLMTPNeedsAServer: the lab speaks SMTP, so --lmtp without
// --server or --pipe is a usage error; so are --pipe with --server and a
// proxy for a Unix socket.
func TestSendLMTPNeedsAServer(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "lmtp on the lab", args: []string{"--lmtp"}, want: "--lmtp needs --server"},
		{name: "pipe and server", args: []string{"--pipe", "cat", "--server", "127.0.0.1:1"}, want: "--pipe and --server do not go together"},
		{name: "proxy to a unix socket", args: []string{"--server", "unix:/nonexistent", "--proxy", "socks5://127.0.0.1:1"}, want: "do not apply to --pipe or a unix: socket"},
		{name: "relative unix path spelled wrong", args: []string{"--server", "unix:sock"}, want: "want unix:/absolute/path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runSendCmd(t, "", append([]string{"--to", "a@example.org"}, tc.args...)...)
			if exitStatus(err) != send.ExitUsage || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("exit %d, error %v; want usage error %q\n%s", exitStatus(err), err, tc.want, out)
			}
		})
	}
}
