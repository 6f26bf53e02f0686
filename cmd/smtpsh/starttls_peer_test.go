package main

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/peertest"
	"github.com/smtpsh/smtpsh/shell"
)

// TestPeerShellStartTLS runs `smtpsh --starttls` against the real Postfix
// lab, directly and through tinyproxy (HTTP CONNECT): the EHLO the shell
// sends again after the handshake must list AUTH PLAIN LOGIN, the
// capability diff must show STARTTLS gone (RFC 3207 §4.2: not offered
// again under TLS), and alice can log in.
// Postfix's certificate is self-signed: without --insecure the session
// ends with exit 6 and the reason.
func TestPeerShellStartTLS(t *testing.T) {
	postfix := peertest.Postfix(t)
	httpProxy := peertest.HTTPProxy(t)
	alice := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00alicepass"))
	tests := []struct {
		name string
		args []string
		code int
		want []string // in this order
	}{
		{"direct --starttls --insecure", []string{"--starttls", "--insecure", postfix}, 0,
			[]string{"S: 250-STARTTLS", "C: STARTTLS", "S: 220 2.0.0 Ready to start TLS", "TLS TLSv1.", "certificate NOT verified",
				"C: EHLO client.smtpsh.test", "S: 250-AUTH PLAIN LOGIN", "- STARTTLS", "S: 235 2.7.0", "S: 221 2.0.0 Bye"}},
		{"through tinyproxy --starttls --insecure", []string{"--proxy", httpProxy, "--starttls", "--insecure", postfix}, 0,
			[]string{"through " + httpProxy, "C: STARTTLS", "S: 220 2.0.0", "TLS TLSv1.", "S: 250-AUTH PLAIN LOGIN", "S: 235 2.7.0", "S: 221 2.0.0 Bye"}},
		{"untrusted certificate ends with exit 6", []string{"--starttls", postfix}, shell.ExitTLS,
			[]string{"C: STARTTLS", "S: 220 2.0.0", "unknown authority", "--ca FILE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "-c", "EHLO client.smtpsh.test", "-c", "AUTH PLAIN "+alice, "-c", "expect 235", "-c", "QUIT")
			out, err := run(t, args...)
			if got := exitStatus(err); got != tc.code {
				t.Fatalf("smtpsh %s: exit %d (%v), want %d\n%s", strings.Join(args, " "), got, err, tc.code, out)
			}
			rest := out
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
			if tc.code == 0 && strings.Count(out, "C: EHLO client.smtpsh.test") != 2 {
				t.Errorf("want EHLO before and after TLS:\n%s", out)
			}
		})
	}
}
