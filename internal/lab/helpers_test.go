package lab

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab/selfsigned"
	"github.com/smtpsh/smtpsh/internal/lab/store"
)

// testCert is made once per test binary: ECDSA keys are cheap but not free.
var testCert = sync.OnceValues(func() (tls.Certificate, error) {
	return selfsigned.Certificate("lab.smtpsh.test")
})

// fakeClock is a settable clock for greylisting and rate limits.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lab is a running server for one test.
type lab struct {
	srv     *Server
	store   *store.Store
	addr    string // plaintext listener
	tlsAddr string // implicit-TLS listener
	clock   *fakeClock
	pool    *tls.Config // client TLS config trusting the lab's certificate
}

type labOptions struct {
	noTLS  bool
	logDir string
	edit   func(*Profile)
}

// startLab runs a server with the named profile on loopback and shuts it
// down at the end of the test.
func startLab(t testing.TB, profile string, o labOptions) *lab {
	t.Helper()
	p, err := LoadProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	if o.edit != nil {
		o.edit(p)
	}
	st, err := store.New("")
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{store: st, clock: &fakeClock{t: time.Date(2026, 11, 25, 19, 10, 0, 0, time.UTC)}}
	cfg := Config{Profile: p, Store: st, LogDir: o.logDir, Now: l.clock.Now}
	if !o.noTLS {
		cert, err := testCert()
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		l.pool = &tls.Config{RootCAs: selfsigned.Pool(cert), ServerName: "lab.smtpsh.test"}
	}
	l.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.addr = ln.Addr().String()
	errc := make(chan error, 2)
	go func() { errc <- l.srv.Serve(ln) }()
	n := 1
	if !o.noTLS {
		tln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l.tlsAddr = tln.Addr().String()
		go func() { errc <- l.srv.ServeTLS(tln) }()
		n++
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := l.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for range n {
			if err := <-errc; !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		}
	})
	return l
}

// client is a raw-line test client.
type client struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

func (l *lab) dial(t testing.TB) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", l.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, conn: conn, br: bufio.NewReader(conn)}
}

// send writes raw bytes in one write: several lines form a pipelined batch.
func (c *client) send(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// line reads one reply line without CRLF.
func (c *client) line() string {
	c.t.Helper()
	l, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading a reply line: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("reply line %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// reply reads one whole reply (RFC 5321 §4.2.1) and returns its lines.
func (c *client) reply() []string {
	c.t.Helper()
	var lines []string
	for {
		l := c.line()
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return lines
		}
	}
}

// expect reads lines and compares them with want; a want ending in "*"
// matches any line with that prefix.
func (c *client) expect(want ...string) {
	c.t.Helper()
	for _, w := range want {
		got := c.line()
		if !lineMatches(got, w) {
			c.t.Fatalf("got  %q\nwant %q", got, w)
		}
	}
}

func lineMatches(got, want string) bool {
	if p, ok := strings.CutSuffix(want, "*"); ok {
		return strings.HasPrefix(got, p)
	}
	return got == want
}

// closed checks that the server closed the connection.
func (c *client) closed() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if l, err := c.br.ReadString('\n'); err == nil || l != "" {
		c.t.Fatalf("connection still open: read %q, %v", l, err)
	}
}

// starttls upgrades the client connection after a 220 reply.
func (c *client) starttls(cfg *tls.Config) {
	c.t.Helper()
	tc := tls.Client(c.conn, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.conn = tc
	c.br = bufio.NewReader(tc)
}

func tlsDial(addr string, cfg *tls.Config) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn, nil
}

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

// waitLog waits for the one session log in dir and returns its text.
func waitLog(t testing.TB, dir string) string {
	t.Helper()
	var text string
	waitFor(t, func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
		if len(m) != 1 {
			return false
		}
		b, err := os.ReadFile(m[0])
		text = string(b)
		return err == nil && strings.Contains(text, "*: close")
	})
	return text
}
