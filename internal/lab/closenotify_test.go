package lab

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/peertest"
)

// TestPeerOpenSSLCleanQUIT: after QUIT on a TLS session the lab ends TLS
// with close_notify (RFC 8446 §6.1). OpenSSL 3's s_client is the judge: it
// exits 1 with "unexpected eof while reading" when a server just closes
// (Go's TLS client does not tell the two apart).
func TestPeerOpenSSLCleanQUIT(t *testing.T) {
	openssl := peertest.Program(t, "openssl")
	l := startLab(t, "default", labOptions{})
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"implicit TLS", []string{"s_client", "-quiet", "-connect", l.tlsAddr}},
		{"STARTTLS", []string{"s_client", "-quiet", "-starttls", "smtp", "-connect", l.addr}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(openssl, tc.args...)
			cmd.Stdin = strings.NewReader("QUIT\r\n")
			out, err := cmd.CombinedOutput()
			if err != nil || strings.Contains(string(out), "unexpected eof") {
				t.Errorf("openssl %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			}
			if !strings.Contains(string(out), "221 2.0.0 Bye") {
				t.Errorf("no 221 in:\n%s", out)
			}
		})
	}
}
