package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/send"
)

// fakeXCLIENT is an SMTP server that offers XCLIENT as Postfix does
// (XCLIENT_README): authorized, it answers 220 and the session starts
// over; not, 550 5.7.0 Error: insufficient authorization. It keeps the
// commands it read.
func fakeXCLIENT(t *testing.T, authorized bool) (addr string, commands func() []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var cmds []string
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				fmt.Fprint(c, "220 mx.example ESMTP Postfix\r\n")
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					l = strings.TrimRight(l, "\r\n")
					mu.Lock()
					cmds = append(cmds, l)
					mu.Unlock()
					verb, _, _ := strings.Cut(strings.ToUpper(l), " ")
					switch verb {
					case "EHLO":
						fmt.Fprint(c, "250-mx.example\r\n250-PIPELINING\r\n250-XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT\r\n250 8BITMIME\r\n")
					case "XCLIENT":
						if !authorized {
							fmt.Fprint(c, "550 5.7.0 Error: insufficient authorization\r\n")
							continue
						}
						fmt.Fprint(c, "220 mx.example ESMTP Postfix\r\n")
					case "MAIL":
						fmt.Fprint(c, "250 2.1.0 Ok\r\n")
					case "RCPT":
						fmt.Fprint(c, "250 2.1.5 Ok\r\n")
					case "QUIT":
						fmt.Fprint(c, "221 2.0.0 Bye\r\n")
						return
					default:
						fmt.Fprint(c, "502 5.5.2 Error: command not recognized\r\n")
					}
				}
			}(c)
		}
	}()
	return ln.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), cmds...)
	}
}

// TestSendXCLIENT: --xclient sends XCLIENT after EHLO with the values
// xtext-encoded (RFC 3461 §4, as XCLIENT_README asks), then EHLO again
// after its 220; a refusal ends the session with exit 13, and a bad
// attribute is a usage error before connecting.
func TestSendXCLIENT(t *testing.T) {
	t.Run("authorized", func(t *testing.T) {
		addr, commands := fakeXCLIENT(t, true)
		out, err := runSendCmd(t, "", "--server", addr, "--from", "a@example.org", "--to", "b@example.org", "--quit-after", "rcpt",
			"--xclient", "ADDR=192.0.2.7 NAME=client+x.example helo=[192.0.2.7]", "--json")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		want := "EHLO client.example|XCLIENT ADDR=192.0.2.7 NAME=client+2Bx.example HELO=[192.0.2.7]|EHLO client.example|MAIL FROM:<a@example.org>|RCPT TO:<b@example.org>|QUIT"
		if got := strings.Join(commands(), "|"); got != want {
			t.Errorf("server read\n%s\nwant\n%s", got, want)
		}
		var s send.Summary
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(s.Phases, " "), "ehlo xclient mail rcpt") {
			t.Errorf("phases %v", s.Phases)
		}
	})
	t.Run("refused", func(t *testing.T) {
		addr, commands := fakeXCLIENT(t, false)
		out, err := runSendCmd(t, "", "--server", addr, "--from", "a@example.org", "--to", "b@example.org", "--xclient", "ADDR=192.0.2.7")
		if exitStatus(err) != send.ExitXCLIENT || !strings.Contains(err.Error(), "xclient: the server refused XCLIENT ADDR=192.0.2.7: 550 5.7.0") {
			t.Errorf("exit %d, error %v\n%s", exitStatus(err), err, out)
		}
		if got := strings.Join(commands(), "|"); strings.Contains(got, "MAIL") || !strings.HasSuffix(got, "QUIT") {
			t.Errorf("server read %s", got)
		}
	})
	t.Run("bad attribute", func(t *testing.T) {
		_, err := runSendCmd(t, "", "--server", "127.0.0.1:1", "--to", "b@example.org", "--xclient", "IDENT=x")
		if exitStatus(err) != send.ExitUsage || !strings.Contains(err.Error(), "NAME one of NAME ADDR") {
			t.Errorf("exit %d, error %v", exitStatus(err), err)
		}
	})
}
