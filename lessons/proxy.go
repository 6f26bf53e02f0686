package lessons

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smtpsh/smtpsh/internal/dial"
	"github.com/smtpsh/smtpsh/shell"
)

// Bounds of the proxy: what it reads of a request and what it keeps of
// each tunnel. A lesson's session is short; these only keep a runaway
// client from growing the log without end.
const (
	// maxProxyRequestLine bounds one line of a CONNECT request, ending
	// included; it is also the buffered reader's size.
	maxProxyRequestLine = 4096
	// maxProxyRequestFields bounds the header fields of a request.
	maxProxyRequestFields = 64
	// maxProxyTunnels bounds the tunnels kept; older ones are dropped.
	maxProxyTunnels = 32
	// maxProxyChunks bounds the relayed reads kept per tunnel; later ones
	// are only counted.
	maxProxyChunks = 256
	// maxProxyHead bounds the bytes kept of each relayed read.
	maxProxyHead = 512
	// maxProxyRecords bounds the TLS record types noted per read.
	maxProxyRecords = 16
	// proxyHeadTimeout bounds the wait for a request head.
	proxyHeadTimeout = 10 * time.Second
	// proxyDialTimeout bounds the connection to the target.
	proxyDialTimeout = 5 * time.Second
)

// Proxy is a small HTTP CONNECT proxy (RFC 9110 §9.3.6) on loopback that
// smtpsh learn puts between the shell and the lab for lessons with
// `proxy = true`. It records what any such proxy sees: the CONNECT request,
// its answer, the bytes relayed each way, and the first bytes of every
// read, which are readable SMTP until STARTTLS and TLS records after it.
//
// It relays only to the targets it was started with, as a real proxy
// allows only some ports: anything else gets 403, so nothing the lesson
// does leaves the machine (DESIGN.md, Safety).
type Proxy struct {
	// Addr is where the proxy listens, "127.0.0.1:PORT".
	Addr string

	allow []string
	ln    net.Listener
	wg    sync.WaitGroup

	mu      sync.Mutex
	tunnels []*Tunnel
	dropped int // tunnels no longer kept
	seen    int // tunnels ever opened, for their numbers
	conns   map[net.Conn]struct{}
	closed  bool
}

// Tunnel is what the proxy saw of one client connection.
type Tunnel struct {
	// N numbers the tunnel from 1 in the proxy's life.
	N int
	// Client is the client's address.
	Client string
	// Request holds the request line and header lines as received, with a
	// Proxy-Authorization field's credentials replaced by "<redacted>".
	Request []string
	// Target is the request's authority-form target, "host:port".
	Target string
	// Status is the status line the proxy answered, "HTTP/1.1 200 ...".
	Status string
	// Up and Down count the bytes relayed client → server and server →
	// client.
	Up, Down int64
	// Chunks are the reads relayed, in the order the proxy relayed them
	// (at most maxProxyChunks); ChunksDropped counts the rest.
	Chunks        []Chunk
	ChunksDropped int
	// Done says the tunnel is closed.
	Done bool
}

// Chunk is one read the proxy relayed.
type Chunk struct {
	// Up is true for client → server.
	Up bool
	// Size is the read's size; Head its first bytes (at most
	// maxProxyHead).
	Size int
	Head []byte
	// TLS is true when the direction speaks TLS (RFC 8446 §5.1: every
	// record starts with its content type and version): Records names
	// the records that start in this read ("handshake",
	// "application_data", …), all the proxy can tell of them.
	TLS     bool
	Records []string
}

// StartProxy starts a proxy on a random loopback port that relays to the
// targets in allow ("127.0.0.1:2525") and refuses any other with 403.
func StartProxy(allow ...string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lesson proxy: listen: %w", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), allow: slices.Clone(allow), ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// URL returns the proxy as --proxy takes it: "http://127.0.0.1:PORT".
func (p *Proxy) URL() string { return "http://" + p.Addr }

// Dialer returns the shell's dialer for the lab through the proxy, with
// STARTTLS trusting the lab's certificate.
func (p *Proxy) Dialer(lb *Lab, timeout time.Duration) shell.Dialer {
	return &shell.TransportDialer{Options: dial.Options{
		Timeout:   timeout,
		Proxy:     p.URL(),
		TLSConfig: dial.TLSOptions{RootCAs: lb.Roots},
	}}
}

// SessionDialer returns the dialer a lesson's shell uses on lb: lb's own,
// or for a lesson with `proxy = true` one through a new Proxy, which it
// also returns (the caller closes it and gives it to the engine).
func SessionDialer(l *Lesson, lb *Lab, timeout time.Duration) (shell.Dialer, *Proxy, error) {
	if !l.Proxy {
		return lb.Dialer(timeout), nil, nil
	}
	p, err := StartProxy(lb.Addr)
	if err != nil {
		return nil, nil, err
	}
	return p.Dialer(lb, timeout), p, nil
}

// Tunnels returns a copy of the tunnels kept, oldest first, and how many
// older ones were dropped.
func (p *Proxy) Tunnels() ([]Tunnel, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ts := make([]Tunnel, len(p.tunnels))
	for i, t := range p.tunnels {
		ts[i] = *t
		ts[i].Request = slices.Clone(t.Request)
		ts[i].Chunks = make([]Chunk, len(t.Chunks))
		for j, c := range t.Chunks {
			c.Head = bytes.Clone(c.Head)
			c.Records = slices.Clone(c.Records)
			ts[i].Chunks[j] = c
		}
	}
	return ts, p.dropped
}

// Close stops the proxy and closes its tunnels.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			p.handle(c)
		}()
	}
}

// track remembers c so that Close can close it; false once closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// newTunnel starts the record of a client connection.
func (p *Proxy) newTunnel(client string) *Tunnel {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen++
	t := &Tunnel{N: p.seen, Client: client}
	if len(p.tunnels) == maxProxyTunnels {
		p.tunnels = p.tunnels[1:]
		p.dropped++
	}
	p.tunnels = append(p.tunnels, t)
	return t
}

// update changes t under the lock.
func (p *Proxy) update(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
}

// proxyError is an answer the proxy gives instead of 200.
type proxyError struct {
	status int
	reason string
	why    string // the body: one line for a person
}

// handle serves one client connection: the request head, then the tunnel.
func (p *Proxy) handle(c net.Conn) {
	t := p.newTunnel(c.RemoteAddr().String())
	br := bufio.NewReaderSize(c, maxProxyRequestLine)
	_ = c.SetReadDeadline(time.Now().Add(proxyHeadTimeout))
	target, perr := p.readRequest(br, t)
	var srv net.Conn
	if perr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), proxyDialTimeout)
		var d net.Dialer
		var err error
		srv, err = d.DialContext(ctx, "tcp", target)
		cancel()
		if err != nil {
			// RFC 9110 §15.6.3: 502 when the proxy got no valid answer
			// from the server it went to.
			perr = &proxyError{502, "Bad Gateway", "cannot connect to " + target + ": " + errString(err)}
		}
	}
	if perr != nil {
		status := fmt.Sprintf("HTTP/1.1 %d %s", perr.status, perr.reason)
		p.update(func() { t.Status, t.Done = status, true })
		body := perr.why + "\r\n"
		fmt.Fprintf(c, "%s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", status, len(body), body)
		return
	}
	defer srv.Close()
	if !p.track(srv) {
		return
	}
	defer p.untrack(srv)
	_ = c.SetReadDeadline(time.Time{})
	// RFC 9110 §9.3.6: a 2xx makes the connection a tunnel from the
	// blank line on; it has no body.
	status := "HTTP/1.1 200 Connection established"
	p.update(func() { t.Status = status })
	if _, err := io.WriteString(c, status+"\r\n\r\n"); err != nil {
		p.update(func() { t.Done = true })
		return
	}
	// Bytes the client sent right after the head are already in br: it is
	// the reader for that direction.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.relay(t, true, srv, br) }()
	go func() { defer wg.Done(); p.relay(t, false, c, srv) }()
	wg.Wait()
	p.update(func() { t.Done = true })
}

// errString is err's message without the "dial tcp" noise of net.OpError.
func errString(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// readRequest reads a request head (RFC 9112 §2.1: request line, header
// fields, an empty line) and returns its target when it is a CONNECT the
// proxy serves.
//
// Accepted: "CONNECT host:port HTTP/1.x" with the target in
// authority-form (RFC 9112 §3.2.3) and a numeric port, lines ending in
// CRLF or LF. Other methods get 405, a malformed head 400, a target not
// allowed 403.
func (p *Proxy) readRequest(br *bufio.Reader, t *Tunnel) (string, *proxyError) {
	bad := func(why string) *proxyError { return &proxyError{400, "Bad Request", why} }
	line, err := readRequestLine(br)
	if err != nil {
		return "", bad(err.Error())
	}
	p.update(func() { t.Request = append(t.Request, line) })
	for n := 0; ; n++ {
		f, err := readRequestLine(br)
		if err != nil {
			return "", bad(err.Error())
		}
		if f == "" {
			break
		}
		if n == maxProxyRequestFields {
			return "", bad(fmt.Sprintf("more than %d header fields", maxProxyRequestFields))
		}
		p.update(func() { t.Request = append(t.Request, redactProxyAuth(f)) })
	}
	method, rest, ok1 := strings.Cut(line, " ")
	target, version, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || (version != "HTTP/1.1" && version != "HTTP/1.0") {
		return "", bad("want a request line such as CONNECT host:port HTTP/1.1")
	}
	if method != "CONNECT" {
		return "", &proxyError{405, "Method Not Allowed", "this proxy only tunnels: CONNECT host:port"}
	}
	host, port, err := net.SplitHostPort(target)
	if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		return "", bad("CONNECT wants host:port (RFC 9110 §9.3.6)")
	}
	p.update(func() { t.Target = target })
	if !slices.Contains(p.allow, target) {
		return "", &proxyError{403, "Forbidden", "this proxy relays only to the lab"}
	}
	return target, nil
}

// readRequestLine returns one line without its ending; an error for a line
// too long, control bytes, or the end of input before the head's end.
func readRequestLine(br *bufio.Reader) (string, error) {
	b, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", fmt.Errorf("a line longer than %d bytes", maxProxyRequestLine)
	case err != nil:
		return "", errors.New("the request head ended early")
	}
	b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return "", errors.New("a control byte in the request head")
		}
	}
	return string(b), nil
}

// redactProxyAuth hides the credentials of a Proxy-Authorization field
// (RFC 9110 §11.7.1; Basic is base64 of user:password, RFC 7617), keeping
// its scheme.
func redactProxyAuth(f string) string {
	name, value, ok := strings.Cut(f, ":")
	if !ok || !strings.EqualFold(strings.TrimSpace(name), "Proxy-Authorization") {
		return f
	}
	scheme, _, _ := strings.Cut(strings.TrimSpace(value), " ")
	return name + ": " + scheme + " <redacted>"
}

// relay copies src to dst, recording each read in t, and half-closes dst
// at src's end so the other direction can finish.
func (p *Proxy) relay(t *Tunnel, up bool, dst net.Conn, src io.Reader) {
	var scan tlsScan
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			b := buf[:n]
			c := Chunk{Up: up, Size: n}
			c.TLS, c.Records = scan.scan(b)
			p.update(func() {
				if up {
					t.Up += int64(n)
				} else {
					t.Down += int64(n)
				}
				if len(t.Chunks) < maxProxyChunks {
					c.Head = bytes.Clone(b[:min(n, maxProxyHead)])
					t.Chunks = append(t.Chunks, c)
				} else {
					t.ChunksDropped++
				}
			})
			if _, werr := dst.Write(b); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		dst.Close()
	}
}

// tlsScan follows one direction's TLS records across reads (RFC 8446
// §5.1: a record is a content type byte, a two-byte legacy version and a
// two-byte length, then that many bytes). The direction turns to TLS when
// a read starts at a line's end with a record header: SMTP text never
// starts with such bytes, and after STARTTLS's 220 the client's next bytes
// are a ClientHello (RFC 3207 §4).
type tlsScan struct {
	on      bool
	midLine bool // the last read did not end with LF
	hdr     [5]byte
	nhdr    int
	left    int // body bytes of the current record still to come
}

// recordType names a TLS content type (RFC 8446 §5.1, RFC 6520 for
// heartbeat).
func recordType(b byte) string {
	switch b {
	case 20:
		return "change_cipher_spec"
	case 21:
		return "alert"
	case 22:
		return "handshake"
	case 23:
		return "application_data"
	case 24:
		return "heartbeat"
	}
	return fmt.Sprintf("type %d", b)
}

// looksTLS reports whether b starts like a TLS record header, as far as
// it goes: a content type byte (a control byte no SMTP line starts with),
// then major version 3 and a minor version up to 4.
func looksTLS(b []byte) bool {
	return len(b) >= 1 && b[0] >= 20 && b[0] <= 24 &&
		(len(b) < 2 || b[1] == 3) && (len(b) < 3 || b[2] <= 4)
}

// scan reads p and reports whether it is TLS, and the types of the records
// starting in it.
func (s *tlsScan) scan(p []byte) (bool, []string) {
	if !s.on {
		if s.midLine || !looksTLS(p) {
			s.midLine = p[len(p)-1] != '\n'
			return false, nil
		}
		s.on = true
	}
	var types []string
	for len(p) > 0 {
		if s.left > 0 {
			k := min(s.left, len(p))
			s.left -= k
			p = p[k:]
			continue
		}
		k := copy(s.hdr[s.nhdr:], p)
		s.nhdr += k
		p = p[k:]
		if s.nhdr < len(s.hdr) {
			break
		}
		s.nhdr = 0
		s.left = int(s.hdr[3])<<8 | int(s.hdr[4])
		if len(types) < maxProxyRecords {
			types = append(types, recordType(s.hdr[0]))
		}
	}
	return true, types
}
