package dial

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab"
	"github.com/smtpsh/smtpsh/internal/lab/selfsigned"
	"github.com/smtpsh/smtpsh/internal/lab/store"
	"github.com/smtpsh/smtpsh/internal/smtp"
)

// labCert is the lab's certificate, made once per test binary.
var labCert = sync.OnceValues(func() (tls.Certificate, error) {
	return selfsigned.Certificate("lab.smtpsh.test")
})

// testLab is an in-process lab server with a plaintext (STARTTLS) and an
// implicit-TLS listener.
type testLab struct {
	addr, tlsAddr string
	cert          tls.Certificate
}

// trust returns TLS options that verify the lab's certificate by name.
func (l *testLab) trust() TLSOptions {
	return TLSOptions{RootCAs: selfsigned.Pool(l.cert), ServerName: "lab.smtpsh.test"}
}

// startLab runs the default profile on host (an IP literal) until the test
// ends.
func startLab(t testing.TB, host string) *testLab {
	t.Helper()
	cert, err := labCert()
	if err != nil {
		t.Fatal(err)
	}
	p, err := lab.LoadProfile("default")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New("")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := lab.New(lab.Config{Profile: p, Store: st, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	tln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- srv.ServeTLS(tln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("lab Shutdown: %v", err)
		}
		for range 2 {
			if err := <-errc; !errors.Is(err, lab.ErrServerClosed) {
				t.Errorf("lab Serve: %v", err)
			}
		}
	})
	return &testLab{addr: ln.Addr().String(), tlsAddr: tln.Addr().String(), cert: cert}
}

// session is an SMTP client conversation over a Conn, for tests.
type session struct {
	t  testing.TB
	c  *Conn
	rr *smtp.ReplyReader
}

func newSession(t testing.TB, c *Conn) *session {
	return &session{t: t, c: c, rr: smtp.NewReplyReader(c.Reader(), nil)}
}

// expect reads a reply and fails the test unless its code is code.
func (s *session) expect(code int) *smtp.Reply {
	s.t.Helper()
	s.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r, err := s.rr.ReadReply()
	if err != nil {
		s.t.Fatalf("reading a %d reply: %v", code, err)
	}
	if r.Code != code {
		s.t.Fatalf("got %q, want a %d reply", r.Text(), code)
	}
	return r
}

// cmd sends a command line and reads its reply.
func (s *session) cmd(line string, code int) *smtp.Reply {
	s.t.Helper()
	if _, err := fmt.Fprintf(s.c, "%s\r\n", line); err != nil {
		s.t.Fatalf("sending %s: %v", line, err)
	}
	return s.expect(code)
}

// has reports whether an EHLO reply lists keyword.
func has(r *smtp.Reply, keyword string) bool {
	for _, l := range r.Lines[1:] {
		if strings.EqualFold(strings.Fields(l + " x")[0], keyword) {
			return true
		}
	}
	return false
}
