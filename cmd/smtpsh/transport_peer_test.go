package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/peertest"
	"github.com/smtpsh/smtpsh/shell"
)

// exitCode is the status main would exit with for err.
func exitCode(err error) int {
	var ee *shell.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return 1
}

// TestPeerShellTransports runs the shell as a newcomer would type it against
// the real Postfix lab: through tinyproxy (HTTP CONNECT) and microsocks
// (SOCKS5), and over implicit TLS, whose self-signed certificate must be
// refused (exit 6) unless --insecure is given.
func TestPeerShellTransports(t *testing.T) {
	postfix := peertest.Postfix(t)
	postfixTLS := peertest.PostfixTLS(t)
	httpProxy := peertest.HTTPProxy(t)
	socksAuth := peertest.SOCKSAuthProxy(t)
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"HTTP CONNECT through tinyproxy", []string{"--proxy", httpProxy, postfix}, 0,
			[]string{"through " + httpProxy, "S: 220 smtpsh-lab.local ESMTP", "S: 221 2.0.0 Bye"}},
		{"SOCKS5 with auth through microsocks, implicit TLS, --insecure", []string{"--proxy", socksAuth, "--tls", "--insecure", postfixTLS}, 0,
			[]string{"through socks5://smtpsh@", "implicit TLS: TLSv1.", "NOT verified", "unknown authority", "S: 220 smtpsh-lab.local"}},
		{"implicit TLS with an untrusted certificate", []string{"--tls", postfixTLS}, shell.ExitTLS,
			[]string{"unknown authority"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "--no-explain", "-c", "EHLO client.smtpsh.test", "-c", "QUIT")
			out, err := run(t, args...)
			if got := exitCode(err); got != tc.code {
				t.Fatalf("smtpsh %s: exit %d (%v), want %d\n%s", strings.Join(args, " "), got, err, tc.code, out)
			}
			all := out
			if err != nil {
				all += err.Error()
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			if strings.Contains(all, "proxypass") {
				t.Errorf("the proxy password was printed:\n%s", all)
			}
		})
	}
}
