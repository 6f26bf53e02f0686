package shell

import (
	"bytes"
	"context"
	"crypto/tls"
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

// startLab starts the lab with profile on a free loopback port until the
// test ends, and returns its address and store.
func startLab(t testing.TB, profile string) (string, *store.Store) {
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
	srv, err := lab.New(lab.Config{Profile: p, Store: st,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		st.Close()
	})
	return ln.Addr().String(), st
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
