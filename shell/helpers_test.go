package shell

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/explain"
	"github.com/smtpsh/smtpsh/internal/lab"
	"github.com/smtpsh/smtpsh/internal/lab/selfsigned"
	"github.com/smtpsh/smtpsh/internal/lab/store"
)

// labOptions say how a test lab listens.
type labOptions struct {
	implicitTLS bool // serve implicit TLS (RFC 8314 §3.3) instead of plain SMTP
	noTLS       bool // no certificate at all: STARTTLS is not offered
}

// testLab is a lab server running for one test.
type testLab struct {
	addr  string
	store *store.Store
	pool  *x509.CertPool // trusts the lab's certificate
}

// runLab starts the lab with profile on a free loopback port until the
// test ends. The shell's lab tests all start here.
func runLab(t testing.TB, profile string, o labOptions) testLab {
	t.Helper()
	p, err := lab.LoadProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := selfsigned.Certificate(p.Hostname)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New("")
	if err != nil {
		t.Fatal(err)
	}
	cfg := lab.Config{Profile: p, Store: st}
	if !o.noTLS {
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	srv, err := lab.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.implicitTLS {
		go srv.ServeTLS(ln)
	} else {
		go srv.Serve(ln)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		st.Close()
	})
	return testLab{addr: ln.Addr().String(), store: st, pool: selfsigned.Pool(cert)}
}

// startLab starts the lab with profile on plain SMTP and returns its
// address and store.
func startLab(t testing.TB, profile string) (string, *store.Store) {
	t.Helper()
	l := runLab(t, profile, labOptions{})
	return l.addr, l.store
}

// kbOnce shares one knowledge base between tests: building it parses the
// embedded data.
var kbOnce = sync.OnceValues(explain.New)

// runLines runs a session against addr with lines as -c would give them
// and returns its output, transcript and error.
func runLines(t testing.TB, addr string, cfg Config, lines ...string) (string, *Session, error) {
	t.Helper()
	kb, err := kbOnce()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = addr
	cfg.KB = kb
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = s.Run(context.Background(), Lines(&out, lines...))
	return out.String(), s, err
}

// fakeServer accepts one connection on loopback and runs serve on it.
func fakeServer(t testing.TB, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// readLine reads one CRLF line a client sent, for fake servers.
func readLine(c net.Conn) string {
	var b strings.Builder
	one := make([]byte, 1)
	for b.Len() < 4096 {
		if _, err := c.Read(one); err != nil {
			break
		}
		if one[0] == '\n' {
			break
		}
		b.WriteByte(one[0])
	}
	return strings.TrimSuffix(b.String(), "\r")
}
