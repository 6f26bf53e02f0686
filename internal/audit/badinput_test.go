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
		// controls: the control probes ran and are in the results.
		controls bool
		// domain, when set, is the name enumeration must take from the
		// server (not the "2.0.0" of "250 2.0.0 Ok").
		domain string
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
			// Every line, DATA included, gets 250: sixteen relay patterns
			// "accepted", every random name "exists".
			name: "250 to everything", greeting: "220 fake ESMTP\r\n",
			handle:   func(int, string) (string, bool) { return "250 OK\r\n", false },
			fpReason: "accepts anything", enumReason: "answers 250 to everything, even to VRFY smtpsh-",
			relayReason:   "the server answers 250 to everything, even to XSMTPSHPROBE (a command no server knows: 250) and RCPT TO:<smtpsh-probe@invalid (a path without its closing \">\": 250), so acceptance proves nothing without sending",
			smuggleReason: "the server answers 250 to everything, even to XSMTPSH-SYNC (a command no server knows: 250), so a 2xx after a form cannot tell",
			controls:      true,
		},
		{
			// A line-by-line sink that also says 354 to DATA: without the
			// control, every smuggling form "ended the data" (the line
			// after it got 250) and the server was "vulnerable".
			name: "250 to everything, 354 to DATA", greeting: "220 sink.example.net ESMTP\r\n",
			handle: func(_ int, line string) (string, bool) {
				if line == "DATA" {
					return "354 go ahead\r\n", false
				}
				return "250 2.0.0 Ok\r\n", false
			},
			fpReason: "accepts anything", enumReason: "no method can tell users apart",
			relayReason:   "so acceptance proves nothing without sending",
			smuggleReason: "XSMTPSH-SYNC (a command no server knows: 250)",
			controls:      true, domain: "sink.example.net",
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
			if tc.domain != "" && r.Enum.Domain != tc.domain {
				t.Errorf("enumeration domain %q, want %q from the greeting", r.Enum.Domain, tc.domain)
			}
			if tc.controls {
				if len(r.Relay.Accepted) != 16 || len(r.Relay.Controls) == 0 {
					t.Errorf("relay: %d accepted, controls %v: want all 16 and the control probe's exchanges", len(r.Relay.Accepted), r.Relay.Controls)
				}
				if r.Smuggle.Control == nil || len(r.Smuggle.Attempts) != 0 {
					t.Errorf("smuggle: control %v, %d attempts: want the control and no message sent", r.Smuggle.Control, len(r.Smuggle.Attempts))
				}
			}
			if tc.tarpit > 0 && len(r.Tarpits) == 0 {
				t.Error("tarpit not reported")
			}
		})
	}
}
