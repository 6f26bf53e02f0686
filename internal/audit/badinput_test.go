package audit

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeServer serves each connection with handle, which gets the client's
// lines one by one and returns the reply to write ("" for none) and
// whether to hang up after it.
func fakeServer(t *testing.T, greeting string, handle func(n int, line string) (string, bool)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
			go func() {
				defer c.Close()
				c.Write([]byte(greeting))
				if strings.HasPrefix(greeting, "421") {
					return
				}
				br := bufio.NewReader(c)
				for n := 1; ; n++ {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					reply, hangup := handle(n, strings.TrimRight(line, "\r\n"))
					if reply != "" {
						c.Write([]byte(reply))
					}
					if hangup {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestBadServers: a server that drops the connection, tarpits, answers
// 421 or says 250 to everything gets no crash and an honest "unknown"
// with the reason.
func TestBadServers(t *testing.T) {
	tests := []struct {
		name     string
		greeting string
		handle   func(n int, line string) (string, bool)
		tarpit   time.Duration
		// wanted substrings of the reasons
		fpReason, enumReason, relayReason, smuggleReason string
	}{
		{
			name: "drops after EHLO", greeting: "220 fake ESMTP\r\n",
			handle: func(n int, line string) (string, bool) {
				if n == 1 {
					return "250 fake\r\n", false
				}
				return "", true
			},
			fpReason: "no signature matched", enumReason: "connection was lost", relayReason: "stopped at pattern 1", smuggleReason: "could not be tested",
		},
		{
			name: "421 at once", greeting: "421 4.3.2 Service shutting down\r\n",
			handle:   func(int, string) (string, bool) { return "", true },
			fpReason: "421", enumReason: "421", relayReason: "421", smuggleReason: "421",
		},
		{
			name: "250 to everything", greeting: "220 fake ESMTP\r\n",
			handle:   func(int, string) (string, bool) { return "250 OK\r\n", false },
			fpReason: "accepts anything", enumReason: "proves nothing", relayReason: "", smuggleReason: "could not start a message",
		},
		{
			name: "tarpit", greeting: "220 fake ESMTP\r\n", tarpit: 50 * time.Millisecond,
			handle: func(n int, line string) (string, bool) {
				time.Sleep(80 * time.Millisecond)
				if n == 1 {
					return "250 fake\r\n", false
				}
				return "421 4.7.0 Too many errors\r\n", true
			},
			fpReason: "", enumReason: "421", relayReason: "421", smuggleReason: "421",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := fakeServer(t, tc.greeting, tc.handle)
			a, out := newAuditor(t, addr, func(c *Config) { c.Timeout = 2 * time.Second; c.Tarpit = tc.tarpit })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r, err := a.Run(ctx, RunOptions{
				Checks:  []Check{CheckFingerprint, CheckEnum, CheckRelay, CheckSmuggle},
				Enum:    EnumOptions{Users: []string{"alice", "bob"}},
				Smuggle: SmuggleOptions{IOwnThisServer: true},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if t.Failed() {
					t.Logf("session:\n%s", out)
				}
			}()
			if r.Fingerprint.Product != ProductUnknown || !strings.Contains(r.Fingerprint.Reason, tc.fpReason) {
				t.Errorf("fingerprint = %s (%s), want unknown with %q", r.Fingerprint.Product, r.Fingerprint.Reason, tc.fpReason)
			}
			for _, u := range r.Enum.Users {
				if u.Status != Unknown {
					t.Errorf("%s: %s, want unknown", u.User, u.Status)
				}
			}
			if why := r.Enum.Reason + strings.Join(r.Enum.Steps, ";"); !strings.Contains(why, tc.enumReason) {
				t.Errorf("enum reason %q, want %q", why, tc.enumReason)
			}
			if tc.relayReason != "" && (r.Relay.Verdict != VerdictUnknown || !strings.Contains(r.Relay.Reason, tc.relayReason)) {
				t.Errorf("relay = %s (%s), want unknown with %q", r.Relay.Verdict, r.Relay.Reason, tc.relayReason)
			}
			if r.Smuggle.Verdict != VerdictUnknown || !strings.Contains(r.Smuggle.Reason, tc.smuggleReason) {
				t.Errorf("smuggle = %s (%s), want unknown with %q", r.Smuggle.Verdict, r.Smuggle.Reason, tc.smuggleReason)
			}
			if tc.tarpit > 0 && len(r.Tarpits) == 0 {
				t.Error("tarpit not reported")
			}
		})
	}
}
