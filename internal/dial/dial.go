package dial

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/smtpsh/smtpsh/internal/render"
)

// readerSize is the size of Conn's reader: at least internal/smtp's
// DefaultMaxReplyLineLength, so smtp.NewReplyReader shares it instead of
// wrapping it (and Buffered before STARTTLS sees everything), and at least
// maxProxyLine for the proxy's answer.
const readerSize = 4096

// maxInjection bounds the injected bytes kept for display.
const maxInjection = 512

// Path is how a connection reaches its server, for transcripts and the
// shell's status line. It never holds a proxy password.
type Path struct {
	// Target is the server as asked for (host:port).
	Target string
	// Proxy is the proxy on the way, nil for a direct connection.
	Proxy *Hop
	// Local and Remote are the two ends of the TCP connection smtpsh made:
	// Remote is the proxy's address when there is one.
	Local, Remote string
	// ProxyProtocol is the PROXY header version sent, "" for none.
	ProxyProtocol string
	// TLS is "implicit" for implicit TLS, "" otherwise (see Conn.TLS for
	// STARTTLS).
	TLS string
}

// String describes the path in one line, e.g.
// "127.0.0.1:25 via http://smtpsh@127.0.0.1:18889". Unescaped.
func (p Path) String() string {
	var b strings.Builder
	b.WriteString(p.Target)
	if p.Proxy != nil {
		b.WriteString(" via " + p.Proxy.String())
	} else {
		b.WriteString(" direct")
	}
	if p.ProxyProtocol != "" {
		b.WriteString(" with PROXY " + p.ProxyProtocol)
	}
	if p.TLS != "" {
		b.WriteString(", implicit TLS")
	}
	return b.String()
}

// Conn is a byte stream to an SMTP server. Read it through Reader, or
// through Read, which reads from Reader: bytes that arrived with a proxy's
// answer are already there. A Conn is a net.Conn, so code that takes one
// (the shell) can use it. It is used by one goroutine at a time, except
// that Close may be called from any.
type Conn struct {
	raw   net.Conn      // the TCP connection smtpsh made
	base  net.Conn      // raw, reading first what came with a proxy's answer
	conn  net.Conn      // the stream now: base, or TLS over base
	br    *bufio.Reader // reads conn; the same value for the Conn's life
	path  Path
	opts  Options
	sname string // server name for TLS
	insp  *Inspection
}

// Read reads from Reader, never from the connection directly.
func (c *Conn) Read(p []byte) (int, error) { return c.br.Read(p) }

// LocalAddr is the local end of the TCP connection.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr is the remote end of the TCP connection: the proxy's address
// when there is one (Path says where the stream really goes).
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetWriteDeadline sets the write deadline of the stream.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// Reader returns the buffered reader of the stream. It is the same value
// for the whole life of the Conn: after StartTLS it reads decrypted data.
func (c *Conn) Reader() *bufio.Reader { return c.br }

// Write writes to the stream (through TLS once it is up).
func (c *Conn) Write(p []byte) (int, error) { return c.conn.Write(p) }

// Close closes the connection.
func (c *Conn) Close() error { return c.conn.Close() }

// SetDeadline sets the read and write deadline of the underlying
// connection (see net.Conn).
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the read deadline (see net.Conn).
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// Path says how the connection reaches the server.
func (c *Conn) Path() Path { return c.path }

// TLS returns the inspection of the TLS session, nil before TLS.
func (c *Conn) TLS() *Inspection { return c.insp }

// Dial connects to addr (host:port) as o says: directly or through
// o.Proxy, then sends the PROXY header if asked, then does the implicit TLS
// handshake if o.TLS. o.Timeout bounds all of it.
func Dial(ctx context.Context, addr string, o Options) (*Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("server address %s: %w", render.Escape(addr), err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("server address %s: port must be 1 to 65535", render.Escape(addr))
	}
	network := o.Network
	switch network {
	case "":
		network = "tcp"
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("network %q: use tcp, tcp4 or tcp6", network)
	}
	switch o.ProxyProtocol {
	case "", "v1", "v2":
	default:
		return nil, fmt.Errorf("PROXY protocol version %q: use v1 or v2", o.ProxyProtocol)
	}
	var proxy *proxySpec
	if o.Proxy != "" {
		if proxy, err = parseProxy(o.Proxy); err != nil {
			return nil, err
		}
	}
	sname := o.TLSConfig.ServerName
	if sname == "" {
		sname = host
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	target := net.JoinHostPort(host, port)
	c := &Conn{opts: o, sname: sname, path: Path{Target: target, ProxyProtocol: o.ProxyProtocol}}
	var d net.Dialer
	switch {
	case proxy == nil:
		c.raw, err = d.DialContext(ctx, network, target)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", render.Escape(target), err)
		}
		c.base = c.raw
	case proxy.kind == proxyHTTP:
		c.path.Proxy = proxy.Hop()
		if err := c.dialHTTP(ctx, &d, network, proxy, target); err != nil {
			return nil, err
		}
	default:
		c.path.Proxy = proxy.Hop()
		if err := c.dialSOCKS(ctx, network, proxy, host, port); err != nil {
			return nil, err
		}
	}
	c.path.Local, c.path.Remote = c.raw.LocalAddr().String(), c.raw.RemoteAddr().String()
	c.conn = c.base
	c.br = bufio.NewReaderSize(c.base, readerSize)
	if err := c.setup(ctx, proxy, target); err != nil {
		c.raw.Close()
		return nil, err
	}
	return c, nil
}

// setup sends the PROXY header and does implicit TLS.
func (c *Conn) setup(ctx context.Context, proxy *proxySpec, target string) error {
	stop := context.AfterFunc(ctx, func() { c.raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if c.opts.ProxyProtocol != "" {
		dst := c.raw.RemoteAddr()
		if proxy != nil {
			// Through a proxy the server's address is only known when it
			// was given as an IP; otherwise the header says UNKNOWN.
			dst = nil
			if ap, err := netipAddrPort(target); err == nil {
				dst = ap
			}
		}
		h, err := ProxyHeader(c.opts.ProxyProtocol, c.raw.LocalAddr(), dst)
		if err != nil {
			return err
		}
		if _, err := c.base.Write(h); err != nil {
			return fmt.Errorf("send PROXY %s header: %w", c.opts.ProxyProtocol, ctxErr(ctx, err))
		}
	}
	if c.opts.TLS {
		c.path.TLS = "implicit"
		if _, err := c.handshake(ctx, "implicit TLS"); err != nil {
			return err
		}
	}
	return nil
}

// netipAddrPort parses an IP host:port into a *net.TCPAddr.
func netipAddrPort(hostport string) (*net.TCPAddr, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, errors.New("not an IP address")
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, err
	}
	return &net.TCPAddr{IP: ip, Port: p}, nil
}

// ctxErr prefers the context's error (a timeout) over the I/O error it
// caused by moving the deadline.
func ctxErr(ctx context.Context, err error) error {
	if ce := ctx.Err(); ce != nil {
		if errors.Is(ce, context.DeadlineExceeded) {
			return fmt.Errorf("timed out: %w", ce)
		}
		return ce
	}
	return err
}

// dialHTTP opens a tunnel through an HTTP proxy with CONNECT.
func (c *Conn) dialHTTP(ctx context.Context, d *net.Dialer, network string, p *proxySpec, target string) error {
	hop := p.Hop()
	raw, err := d.DialContext(ctx, network, p.addr)
	if err != nil {
		return &ProxyError{Proxy: hop, Target: target, Reason: "cannot connect to the proxy", Err: err}
	}
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(e *ProxyError) error {
		raw.Close()
		if e.Err != nil {
			e.Err = ctxErr(ctx, e.Err)
		}
		return e
	}
	if _, err := raw.Write(connectRequest(target, p)); err != nil {
		return fail(&ProxyError{Proxy: hop, Target: target, Reason: "cannot send CONNECT", Err: err})
	}
	br := bufio.NewReaderSize(raw, maxProxyLine)
	resp, err := readProxyResponse(br)
	if err != nil {
		pe := &ProxyError{Proxy: hop, Target: target, Err: err}
		if resp != nil {
			pe.StatusLine = resp.StatusLine
			pe.Status = resp.Status
		}
		var re *ProxyResponseError
		switch {
		case errors.Is(err, io.EOF):
			pe.Reason, pe.Err = "the proxy closed the connection without answering CONNECT", nil
		case errors.Is(err, io.ErrUnexpectedEOF):
			pe.Reason, pe.Err = "the proxy closed the connection in the middle of its answer", nil
		case errors.As(err, &re):
			pe.Reason = "the proxy's answer is not an HTTP/1.x response"
		}
		return fail(pe)
	}
	if resp.Status < 200 || resp.Status > 299 {
		// RFC 9110 §9.3.6: any 2xx means the tunnel is open; anything else
		// means it is not (a 1xx is not expected for CONNECT either).
		return fail(&ProxyError{Proxy: hop, Target: target, Status: resp.Status,
			StatusLine: resp.StatusLine, Reason: statusReason(resp.Status, p)})
	}
	c.raw = raw
	c.base = raw
	if n := br.Buffered(); n > 0 {
		rest, _ := br.Peek(n)
		c.base = &prefixConn{Conn: raw, prefix: append([]byte(nil), rest...)}
	}
	return nil
}

// prefixConn is a net.Conn whose reads return prefix first: the bytes that
// came after a proxy's answer, read into the proxy's buffer.
type prefixConn struct {
	net.Conn
	prefix []byte
}

// Read returns the kept bytes first, then reads the connection.
func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// StartTLS does the TLS handshake on the connection; call it after the
// server's 220 reply to STARTTLS (RFC 3207 §4). Bytes already read from
// the server and not consumed through Reader came before TLS: they are a
// STARTTLS injection (CVE-2011-0411), counted in Inspection.Injected and
// discarded, never read as if they had come over TLS. After StartTLS the
// client must forget what it knew and send EHLO again (RFC 3207 §4.2).
// After an error the stream is in an unknown state: close the Conn.
func (c *Conn) StartTLS(ctx context.Context) (*Inspection, error) {
	if c.insp != nil {
		return nil, errors.New("STARTTLS: TLS is already up")
	}
	if c.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
	}
	return c.handshake(ctx, "STARTTLS")
}

// handshake runs a TLS client handshake over base and makes the reader
// read through it.
func (c *Conn) handshake(ctx context.Context, op string) (*Inspection, error) {
	insp := &Inspection{ServerName: c.sname}
	if n := c.br.Buffered(); n > 0 {
		b, _ := c.br.Peek(n)
		insp.Injected = n
		insp.Injection = append([]byte(nil), b[:min(n, maxInjection)]...)
		c.br.Discard(n)
	}
	cfg, err := c.opts.TLSConfig.tlsConfig(c.sname, insp)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(c.base, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		if ce := ctx.Err(); ce != nil {
			err = fmt.Errorf("timed out (the server did not complete the handshake): %w", ce)
		}
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) {
			// The server answered in plaintext: typically an SMTP reply,
			// a server that did not really start TLS.
			err = fmt.Errorf("the server sent plaintext instead of TLS, starting %q: %w",
				render.Escape(string(rh.RecordHeader[:])), err)
		}
		e := &TLSError{Op: op, Err: err}
		if len(insp.Chain) > 0 || insp.Injected > 0 {
			e.Inspection = insp
		}
		return nil, e
	}
	c.conn = tc
	c.br.Reset(tc)
	c.insp = insp
	return insp, nil
}
