package lessons

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/smtpsh/smtpsh/internal/dial"
	"github.com/smtpsh/smtpsh/internal/lab"
	"github.com/smtpsh/smtpsh/internal/lab/selfsigned"
	"github.com/smtpsh/smtpsh/internal/lab/store"
	"github.com/smtpsh/smtpsh/shell"
)

// Lab is the practice server started in-process for a lesson: on a random
// loopback port, with a fresh self-signed certificate and an in-memory
// store, so every run of a lesson starts from the same empty lab.
type Lab struct {
	// Addr is the address the lab listens on, "127.0.0.1:PORT".
	Addr string
	// Profile is the profile the lab runs.
	Profile *lab.Profile
	// Store holds the messages the lab accepted (checked by stored_for).
	Store *store.Store
	// Roots trusts the lab's certificate, so STARTTLS verifies as it
	// would with a real CA, without --insecure.
	Roots *x509.CertPool

	srv  *lab.Server
	done chan struct{}
}

// StartLab starts the lab with the named built-in profile.
func StartLab(profile string) (*Lab, error) {
	p, err := lab.LoadProfile(profile)
	if err != nil {
		return nil, fmt.Errorf("lesson lab: %w", err)
	}
	cert, err := selfsigned.Certificate(p.Hostname)
	if err != nil {
		return nil, fmt.Errorf("lesson lab: certificate: %w", err)
	}
	st, err := store.New("")
	if err != nil {
		return nil, fmt.Errorf("lesson lab: %w", err)
	}
	srv, err := lab.New(lab.Config{
		Profile: p,
		Store:   st,
		TLS:     &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("lesson lab: %w", err)
	}
	// Loopback only (DESIGN.md, Safety), any free port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("lesson lab: listen: %w", err)
	}
	l := &Lab{Addr: ln.Addr().String(), Profile: p, Store: st, Roots: selfsigned.Pool(cert), srv: srv, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		_ = srv.Serve(ln)
	}()
	return l, nil
}

// Dialer returns the shell's dialer for the lab: plain TCP, with STARTTLS
// trusting the lab's certificate.
func (l *Lab) Dialer(timeout time.Duration) shell.Dialer {
	return &shell.TransportDialer{Options: dial.Options{
		Timeout:   timeout,
		TLSConfig: dial.TLSOptions{RootCAs: l.Roots},
	}}
}

// Close stops the lab, waiting up to two seconds for its sessions.
func (l *Lab) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := l.srv.Shutdown(ctx)
	<-l.done
	if errors.Is(err, lab.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, l.Store.Close())
}
