package main

import (
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/peertest"
	"github.com/smtpsh/smtpsh/shell"
)

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
			if got := exitStatus(err); got != tc.code {
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

// TestPeerPTYPostfix drives the real shell on a terminal against Postfix:
// after EHLO, Tab after "AUTH " offers exactly the mechanisms Postfix
// advertised (postfix-lab.sh: PLAIN LOGIN), and STARTTLS upgrades with
// --insecure, the prompt then showing tls.
func TestPeerPTYPostfix(t *testing.T) {
	postfix := peertest.Postfix(t)
	p := startPTYShell(t, postfix, "--ehlo", "client.example", "--insecure", "--no-explain")
	at := p.waitFor(0, "helo> ")
	p.typeText("EHLO client.example\r")
	at = p.waitFor(at, "S: 250 CHUNKING")
	at = p.waitFor(at, "mail> ")
	start := at
	p.typeText("AUTH \t\t")
	at = p.waitFor(at, "LOGIN")
	// Only what Postfix advertised: CRAM-MD5 (which the lab offers) must
	// not appear.
	if offered := p.out.String()[start:at]; !strings.Contains(offered, "PLAIN") || strings.Contains(offered, "CRAM-MD5") {
		t.Errorf("completion after AUTH offered %q; want PLAIN and LOGIN only", offered)
	}
	p.typeText("\x15") // Ctrl-U: clear the line
	p.typeText("STARTTLS\r")
	at = p.waitFor(at, "S: 220 2.0.0")
	p.waitFor(at, "tls helo> ")
	p.typeText("\x04") // Ctrl-D: QUIT and leave
	if code := p.wait(); code != 0 {
		t.Errorf("exit status %d\n%s", code, p.out.String())
	}
}
