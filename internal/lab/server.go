package lab

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab/store"
)

// ErrServerClosed is returned by Serve and ServeTLS after Shutdown.
var ErrServerClosed = errors.New("lab: server closed")

// Config is what a lab server needs.
type Config struct {
	// Profile is the server's personality; required.
	Profile *Profile
	// Store receives accepted messages; required.
	Store *store.Store
	// TLS is used for STARTTLS and implicit TLS; nil means no TLS at all
	// (STARTTLS is then not advertised, whatever the profile says).
	TLS *tls.Config
	// LogDir, when set, receives one transcript file per session.
	LogDir string
	// Now returns the current time; nil means time.Now. Tests use it to
	// move greylisting and rate limits forward without sleeping. Read
	// deadlines always use the real clock.
	Now func() time.Time
	// ErrorLog receives errors the server cannot report to a client, such
	// as a session log that could not be written; nil drops them.
	ErrorLog *log.Logger
}

// Server is a lab SMTP server. It holds no global state: several servers
// with different profiles can run in one process.
type Server struct {
	cfg     Config
	profile *Profile
	now     func() time.Time

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	wg        sync.WaitGroup
	closing   atomic.Bool
	done      chan struct{} // closed by Shutdown

	ids atomic.Uint64 // queue and session IDs

	greylist *greylist
	rates    *rateLimiter
}

// New checks cfg and returns a server ready to Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Profile == nil {
		return nil, errors.New("lab: Config.Profile is nil")
	}
	if cfg.Store == nil {
		return nil, errors.New("lab: Config.Store is nil")
	}
	if err := cfg.Profile.validate(); err != nil {
		return nil, fmt.Errorf("lab: profile %s: %w", cfg.Profile.Name, err)
	}
	s := &Server{
		cfg:       cfg,
		profile:   cfg.Profile,
		now:       cfg.Now,
		listeners: map[net.Listener]struct{}{},
		sessions:  map[*session]struct{}{},
		done:      make(chan struct{}),
		greylist:  newGreylist(),
		rates:     newRateLimiter(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	// IDs start from the clock so that two runs writing into one Maildir
	// or log directory do not reuse them.
	s.ids.Store(uint64(time.Now().Unix()) << 20)
	return s, nil
}

// Serve accepts plaintext connections on ln (STARTTLS is offered as the
// profile says) until Shutdown, and returns ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln, false) }

// ServeTLS accepts implicit-TLS connections on ln (RFC 8314 §3: TLS from the
// first byte, as on port 465) until Shutdown. It needs Config.TLS.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.cfg.TLS == nil {
		return errors.New("lab: ServeTLS needs Config.TLS")
	}
	return s.serve(ln, true)
}

func (s *Server) serve(ln net.Listener, implicitTLS bool) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Back off on temporary errors (out of file
				// descriptors), as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
				case <-s.done:
					return ErrServerClosed
				}
				continue
			}
			return fmt.Errorf("lab: accepting on %s: %w", ln.Addr(), err)
		}
		delay = 0
		sess := s.newSession(conn, implicitTLS)
		if sess == nil {
			continue
		}
		go sess.run()
	}
}

// newSession registers a session, or refuses the connection when the
// server is closing or full.
func (s *Server) newSession(conn net.Conn, implicitTLS bool) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		conn.Close()
		return nil
	}
	sess := newSession(s, conn, implicitTLS)
	if len(s.sessions) >= s.profile.Limits.Sessions {
		sess.full = true
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	return sess
}

func (s *Server) endSession(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	s.wg.Done()
}

// ActiveSessions returns the number of sessions in progress.
func (s *Server) ActiveSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Shutdown stops accepting connections, answers sessions waiting for a
// command with 421 4.3.2 and closes them, and waits for the others to end.
// When ctx ends first, it closes every connection, waits for the sessions
// to notice, and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing.Swap(true) {
		close(s.done)
	}
	for ln := range s.listeners {
		ln.Close()
	}
	for sess := range s.sessions {
		sess.wakeIfIdle()
	}
	s.mu.Unlock()

	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for sess := range s.sessions {
		sess.closeConn()
	}
	s.mu.Unlock()
	<-finished
	return ctx.Err()
}

// nextID returns a Postfix-like queue ID: upper-case hex, unique within
// the server.
func (s *Server) nextID() string {
	return strings.ToUpper(strconv.FormatUint(s.ids.Add(1), 16))
}

// logf reports an error nobody else will see.
func (s *Server) logf(format string, args ...any) {
	if s.cfg.ErrorLog != nil {
		s.cfg.ErrorLog.Printf(format, args...)
	}
}

// serveConn runs one session on conn in the caller's goroutine; for tests
// over net.Pipe.
func (s *Server) serveConn(conn net.Conn) {
	if sess := s.newSession(conn, false); sess != nil {
		sess.run()
	}
}
