package audit

import (
	"bytes"
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab"
	"github.com/smtpsh/smtpsh/internal/lab/store"
)

// startLab runs the lab with profile on loopback for one test (no TLS, an
// in-memory store) and returns its address.
func startLab(t testing.TB, profile string) string {
	t.Helper()
	p, err := lab.LoadProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New("")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := lab.New(lab.Config{Profile: p, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
		st.Close()
	})
	return ln.Addr().String()
}

// newAuditor returns an auditor for addr whose output goes to the returned
// buffer and whose back-off does not sleep.
func newAuditor(t testing.TB, addr string, edit func(*Config)) (*Auditor, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	cfg := Config{Addr: addr, Out: &out, Timeout: 10 * time.Second,
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
	if edit != nil {
		edit(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a, &out
}

// labUsers are asked about on every profile: the lab's directory (users
// alice and bob, aliases root, admin and postmaster, list team) and two
// names it does not have.
var labUsers = []string{"alice", "bob", "root", "admin", "postmaster", "team", "mallory", "nosuchuser"}

func writeFile(name, text string) error { return os.WriteFile(name, []byte(text), 0o600) }
