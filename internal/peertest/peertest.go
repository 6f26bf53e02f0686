// Package peertest gives tests access to the real peers smtpsh is checked
// against: Postfix, swaks, Python's smtplib, nmap, tshark, tinyproxy and
// microsocks.
//
// Tests that need a peer are named TestPeer… so `make test` can leave them
// out and count them. When SMTPSH_PEERS=1 (set by `make check`), a missing peer
// fails the test: the whole suite must never pass by skipping. Otherwise a
// missing peer skips the test with a message that says how to run it.
package peertest

import (
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Required reports whether peers are mandatory in this run (make check).
func Required() bool { return os.Getenv("SMTPSH_PEERS") == "1" }

// missing fails or skips t for a peer that is not there.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf("real peer missing (SMTPSH_PEERS=1): "+format, args...)
	}
	t.Skipf("needs a real peer, run by `make check`: "+format, args...)
}

// Program returns the path of an installed program, or fails/skips t.
func Program(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, "%s is not installed (apt-get install %s)", name, name)
	}
	return p
}

// Server returns addr if something accepts TCP connections there within a
// second, or fails/skips t. env names a variable that overrides addr.
func Server(t testing.TB, env, addr, what string) string {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		addr = v
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		missing(t, "%s is not listening on %s (%v); start it with ../shared/tools/ or set %s", what, addr, err, env)
		return addr
	}
	c.Close()
	return addr
}

// Postfix is the address of the Postfix lab from ../shared/tools/postfix-lab.sh
// (plain SMTP with STARTTLS; users alice/alicepass and bob/bobpass).
func Postfix(t testing.TB) string {
	return Server(t, "SMTPSH_POSTFIX", "127.0.0.1:10025", "the Postfix lab (postfix-lab.sh start)")
}

// PostfixTLS is the Postfix lab's implicit-TLS listener.
func PostfixTLS(t testing.TB) string {
	return Server(t, "SMTPSH_POSTFIX_TLS", "127.0.0.1:10465", "the Postfix lab's implicit TLS port (postfix-lab.sh start)")
}
