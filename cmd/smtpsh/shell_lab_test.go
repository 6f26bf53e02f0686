package main

import (
	"strings"
	"testing"
)

// TestShellLabSTARTTLSVerifies: with no host the shell starts the lab and
// trusts the certificate the lab made, so STARTTLS verifies without
// --insecure and AUTH appears after the new EHLO (the default profile
// offers AUTH only over TLS).
func TestShellLabSTARTTLSVerifies(t *testing.T) {
	out, err := run(t, "--starttls", "--no-explain", "-c", "EHLO client.example", "-c", "QUIT")
	if code := exitStatus(err); code != 0 {
		t.Fatalf("exit %d (%v)\n%s", code, err, out)
	}
	for _, want := range []string{"no host given", "certificate verified", "S: 250-AUTH PLAIN LOGIN CRAM-MD5", "S: 221 2.0.0 Bye"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
