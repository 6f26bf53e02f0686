package lessons

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab/selfsigned"
	"github.com/smtpsh/smtpsh/internal/render"
)

// banner is what the test server sends first, as Postfix does.
const banner = "220 mx.example.net ESMTP Postfix\r\n"

// startServer starts a small SMTP-like server on loopback: it sends the
// banner, answers AUTH with 235, other lines with "250 ok: LINE", and on STARTTLS answers
// 220 and turns to TLS with a self-signed certificate.
func startServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := selfsigned.Certificate("mx.example.net")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var conn net.Conn = c
				io.WriteString(conn, banner)
				br := bufio.NewReader(conn)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					line = strings.TrimRight(line, "\r\n")
					if line == "STARTTLS" {
						io.WriteString(conn, "220 2.0.0 Ready to start TLS\r\n")
						tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
						if tc.Handshake() != nil {
							return
						}
						conn, br = tc, bufio.NewReader(tc)
						continue
					}
					if strings.HasPrefix(line, "AUTH ") {
						io.WriteString(conn, "235 2.7.0 Authentication successful\r\n")
						continue
					}
					io.WriteString(conn, "250 ok: "+line+"\r\n")
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func startProxy(t *testing.T, allow ...string) *Proxy {
	t.Helper()
	p, err := StartProxy(allow...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// lastTunnel waits until the proxy has recorded a closed tunnel and returns
// the last one.
func lastTunnel(t *testing.T, p *Proxy) Tunnel {
	t.Helper()
	for i := 0; i < 200; i++ {
		ts, _ := p.Tunnels()
		if len(ts) > 0 && ts[len(ts)-1].Done {
			return ts[len(ts)-1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no closed tunnel recorded")
	return Tunnel{}
}

func TestProxyRefuses(t *testing.T) {
	srv := startServer(t)
	closed := freeAddr(t)
	p := startProxy(t, srv, closed)
	long := "CONNECT " + strings.Repeat("a", maxProxyRequestLine) + ":25 HTTP/1.1\r\n\r\n"
	tests := []struct {
		name, req, status, target string
	}{
		// RFC 9110 §9.3.6 and §15.6.3: the server could not be reached.
		{"target refused", "CONNECT " + closed + " HTTP/1.1\r\nHost: " + closed + "\r\n\r\n", "HTTP/1.1 502 Bad Gateway", closed},
		{"not allowed", "CONNECT 192.0.2.1:25 HTTP/1.1\r\nHost: 192.0.2.1:25\r\n\r\n", "HTTP/1.1 403 Forbidden", "192.0.2.1:25"},
		{"GET is not CONNECT", "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", "HTTP/1.1 405 Method Not Allowed", ""},
		{"no port", "CONNECT " + strings.Split(srv, ":")[0] + " HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request", ""},
		{"port not numeric", "CONNECT 127.0.0.1:smtp HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request", ""},
		{"port out of range", "CONNECT 127.0.0.1:65536 HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request", ""},
		{"no version", "CONNECT " + srv + "\r\n\r\n", "HTTP/1.1 400 Bad Request", ""},
		{"HTTP/2 request line", "CONNECT " + srv + " HTTP/2.0\r\n\r\n", "HTTP/1.1 400 Bad Request", ""},
		{"SMTP to the proxy", "EHLO student.example\r\n\r\n", "HTTP/1.1 400 Bad Request", ""},
		{"line too long", long, "HTTP/1.1 400 Bad Request", ""},
		{"control byte", "CONNECT " + srv + " HTTP/1.1\r\nX: a\x1bb\r\n\r\n", "HTTP/1.1 400 Bad Request", ""},
		{"head cut short", "CONNECT " + srv + " HTTP/1.1\r\nHost: x", "HTTP/1.1 400 Bad Request", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", p.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, tc.req)
			if tc.name == "head cut short" {
				c.(*net.TCPConn).CloseWrite()
			}
			b, _ := io.ReadAll(c)
			got := string(b)
			if !strings.HasPrefix(got, tc.status+"\r\n") {
				t.Fatalf("answer %q, want %q first", got, tc.status)
			}
			if strings.Contains(got, "220 ") {
				t.Errorf("the server's banner came through a refused tunnel: %q", got)
			}
			tn := lastTunnel(t, p)
			if tn.Status != tc.status || tn.Target != tc.target {
				t.Errorf("recorded status %q target %q, want %q %q", tn.Status, tn.Target, tc.status, tc.target)
			}
			if tn.Up != 0 || tn.Down != 0 || len(tn.Chunks) != 0 {
				t.Errorf("a refused tunnel relayed %d/%d bytes", tn.Up, tn.Down)
			}
		})
	}
}

// TestProxyTunnel relays a plaintext exchange, then STARTTLS, and checks
// what the proxy recorded: the request with its credentials redacted, the
// 200, the bytes each way, the SMTP text it could read and only TLS
// records after the upgrade.
func TestProxyTunnel(t *testing.T) {
	srv := startServer(t)
	p := startProxy(t, srv)
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// user:secret in Basic (RFC 7617).
	req := "CONNECT " + srv + " HTTP/1.1\r\nHost: " + srv + "\r\nProxy-Authorization: Basic dXNlcjpzZWNyZXQ=\r\n\r\n"
	// The client may send its first line with the request: the proxy must
	// relay what it read past the head.
	io.WriteString(c, req+"EHLO student.example\r\n")
	br := bufio.NewReader(c)
	want := []string{"HTTP/1.1 200 Connection established\r\n", "\r\n", banner, "250 ok: EHLO student.example\r\n"}
	for _, w := range want {
		got, err := br.ReadString('\n')
		if err != nil || got != w {
			t.Fatalf("read %q (%v), want %q", got, err, w)
		}
	}
	up := int64(len("EHLO student.example\r\n"))
	down := int64(len(banner) + len("250 ok: EHLO student.example\r\n"))
	for _, l := range []string{"AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=", "STARTTLS"} {
		io.WriteString(c, l+"\r\n")
		r, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		up += int64(len(l) + 2)
		down += int64(len(r))
	}
	tc := tls.Client(&bufConn{Conn: c, r: br}, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(tc, "EHLO again.example\r\n")
	if r, err := bufio.NewReader(tc).ReadString('\n'); err != nil || r != "250 ok: EHLO again.example\r\n" {
		t.Fatalf("over TLS: %q (%v)", r, err)
	}
	tc.Close()
	tn := lastTunnel(t, p)
	if len(tn.Request) != 3 || tn.Request[0] != "CONNECT "+srv+" HTTP/1.1" || tn.Request[2] != "Proxy-Authorization: Basic <redacted>" {
		t.Errorf("request %q: want the request line, Host, and the credentials redacted", tn.Request)
	}
	if tn.Status != "HTTP/1.1 200 Connection established" || tn.Target != srv {
		t.Errorf("status %q target %q", tn.Status, tn.Target)
	}
	if tn.Up <= up || tn.Down <= down {
		t.Errorf("relayed %d up, %d down: want more than the %d and %d plaintext bytes (TLS follows)", tn.Up, tn.Down, up, down)
	}
	var sumUp, sumDown int64
	var text, tlsUp, tlsDown []string
	for _, ch := range tn.Chunks {
		if ch.Up {
			sumUp += int64(ch.Size)
		} else {
			sumDown += int64(ch.Size)
		}
		switch {
		case !ch.TLS:
			if len(tlsUp) > 0 && ch.Up || len(tlsDown) > 0 && !ch.Up {
				t.Errorf("plaintext %q after TLS started", ch.Head)
			}
			text = append(text, string(ch.Head))
		case ch.Up:
			tlsUp = append(tlsUp, ch.Records...)
		default:
			tlsDown = append(tlsDown, ch.Records...)
		}
	}
	if sumUp != tn.Up || sumDown != tn.Down {
		t.Errorf("chunks add up to %d/%d, counters say %d/%d", sumUp, sumDown, tn.Up, tn.Down)
	}
	all := strings.Join(text, "")
	for _, w := range []string{"EHLO student.example", banner, "STARTTLS\r\n", "220 2.0.0 Ready"} {
		if !strings.Contains(all, w) {
			t.Errorf("the plaintext relayed lacks %q: %q", w, all)
		}
	}
	if strings.Contains(all, "again.example") {
		t.Error("the proxy read the EHLO sent over TLS")
	}
	// RFC 8446 §5: the ClientHello is a handshake record, and TLS 1.3
	// wraps what follows in application_data records.
	if len(tlsUp) == 0 || tlsUp[0] != "handshake" || len(tlsDown) == 0 || tlsDown[0] != "handshake" {
		t.Errorf("TLS records up %q, down %q: want each to start with a handshake", tlsUp, tlsDown)
	}
	if !strings.Contains(strings.Join(tlsUp, " "), "application_data") {
		t.Errorf("no application_data record up: %q", tlsUp)
	}

	var log bytes.Buffer
	ts, dropped := p.Tunnels()
	WriteProxyLog(&log, render.Terminal{Width: 100}, p.URL(), ts, dropped)
	out := log.String()
	for _, w := range []string{"CONNECT " + srv, "HTTP/1.1 200 Connection established", "client → server", "EHLO student.example",
		"220 mx.example.net ESMTP Postfix", "AUTH PLAIN <redacted>", "TLS records", "TLS handshake", "Proxy-Authorization: Basic <redacted>"} {
		if !strings.Contains(out, w) {
			t.Errorf("the log lacks %q:\n%s", w, out)
		}
	}
	for _, nw := range []string{"AGFsaWNl", "dXNlcjpzZWNyZXQ=", "again.example"} {
		if strings.Contains(out, nw) {
			t.Errorf("the log shows %q:\n%s", nw, out)
		}
	}
}

// bufConn reads through r, which may hold bytes already read from Conn.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestTLSScan(t *testing.T) {
	hs := []byte{22, 3, 1, 0, 3, 'a', 'b', 'c'}
	app := []byte{23, 3, 3, 0, 2, 'x', 'y'}
	stream := append(append([]byte{}, hs...), app...)
	tests := []struct {
		name  string
		reads [][]byte
		tls   []bool
		types [][]string
	}{
		{"whole records", [][]byte{stream}, []bool{true}, [][]string{{"handshake", "application_data"}}},
		{"split in a header", [][]byte{stream[:10], stream[10:]}, []bool{true, true}, [][]string{{"handshake"}, {"application_data"}}},
		{"split in a body", [][]byte{stream[:6], stream[6:]}, []bool{true, true}, [][]string{{"handshake"}, {"application_data"}}},
		{"byte by byte", func() [][]byte {
			var rs [][]byte
			for i := range stream {
				rs = append(rs, stream[i:i+1])
			}
			return rs
		}(), nil, nil},
		{"text first", [][]byte{[]byte("STARTTLS\r\n"), stream}, []bool{false, true}, [][]string{nil, {"handshake", "application_data"}}},
		// A line's middle is never a record start.
		{"mid-line", [][]byte{[]byte("XYZ"), stream}, []bool{false, false}, [][]string{nil, nil}},
		{"text only", [][]byte{[]byte("220 mx ESMTP\r\n")}, []bool{false}, [][]string{nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s tlsScan
			var all []string
			for i, r := range tc.reads {
				on, types := s.scan(r)
				all = append(all, types...)
				if tc.tls == nil {
					continue
				}
				if on != tc.tls[i] || strings.Join(types, ",") != strings.Join(tc.types[i], ",") {
					t.Errorf("read %d: tls %v types %q, want %v %q", i, on, types, tc.tls[i], tc.types[i])
				}
			}
			if tc.tls == nil && strings.Join(all, ",") != "handshake,application_data" {
				t.Errorf("types %q", all)
			}
		})
	}
}

// TestRedactSASL checks the log hides what transcripts.Redact hides.
func TestRedactSASL(t *testing.T) {
	tests := []struct {
		line        string
		sasl        bool
		want        string
		stillInSASL bool
	}{
		{"AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=", false, "AUTH PLAIN <redacted>", false},
		{"auth login Ym9i", false, "auth login <redacted>", false},
		{"AUTH LOGIN", false, "AUTH LOGIN", false},
		{"AUTH PLAIN =", false, "AUTH PLAIN =", false}, // RFC 4954 §4: an empty initial response
		{"Ym9i", true, "<redacted>", false},
		{"*", true, "*", false}, // RFC 4954 §4: the client cancels
		{"MAIL FROM:<a@b>", false, "MAIL FROM:<a@b>", false},
	}
	for _, tc := range tests {
		got, sasl := redactSASL(tc.line, tc.sasl)
		if got != tc.want || sasl != tc.stillInSASL {
			t.Errorf("redactSASL(%q, %v) = %q, %v; want %q, %v", tc.line, tc.sasl, got, sasl, tc.want, tc.stillInSASL)
		}
	}
}

// TestProxyClose checks Close ends open tunnels and later connections are
// refused.
func TestProxyClose(t *testing.T) {
	srv := startServer(t)
	p, err := StartProxy(srv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "CONNECT "+srv+" HTTP/1.1\r\n\r\n")
	br := bufio.NewReader(c)
	for range 3 { // status, blank line, banner
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with a tunnel open")
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := br.ReadString('\n'); err == nil {
		t.Error("the tunnel still works after Close")
	}
	if c2, err := net.Dial("tcp", p.Addr); err == nil {
		c2.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, _ := c2.Read(make([]byte, 1)); n > 0 {
			t.Error("a closed proxy answered")
		}
		c2.Close()
	}
}

func FuzzProxyRequest(f *testing.F) {
	for _, s := range []string{
		"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n",
		"CONNECT [::1]:587 HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"CONNECT a HTTP/1.1\nProxy-Authorization: Basic dXNlcjpwYXNz\n\n",
		"\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := &Proxy{allow: []string{"127.0.0.1:25"}}
		tn := &Tunnel{}
		target, perr := p.readRequest(bufio.NewReaderSize(bytes.NewReader(b), maxProxyRequestLine), tn)
		if (perr == nil) == (target == "") {
			t.Fatalf("target %q with error %v", target, perr)
		}
		if perr == nil && target != "127.0.0.1:25" {
			t.Fatalf("relayed to %q, not allowed", target)
		}
		if perr != nil && (perr.status < 400 || perr.status > 599) {
			t.Fatalf("status %d", perr.status)
		}
		if len(tn.Request) > maxProxyRequestFields+1 {
			t.Fatalf("%d request lines kept", len(tn.Request))
		}
		// The request line is kept as it came; header fields are redacted.
		for i, l := range tn.Request {
			if i > 0 && strings.HasPrefix(strings.ToLower(l), "proxy-authorization:") && !strings.HasSuffix(l, "<redacted>") {
				t.Fatalf("credentials kept: %q", l)
			}
		}
	})
}

// BenchmarkProxyRelay sends bytes through a tunnel to a server that
// discards them: the cost of relaying and recording each read.
func BenchmarkProxyRelay(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	p, err := StartProxy(ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "CONNECT "+ln.Addr().String()+" HTTP/1.1\r\n\r\n")
	br := bufio.NewReader(c)
	for range 2 {
		if _, err := br.ReadString('\n'); err != nil {
			b.Fatal(err)
		}
	}
	buf := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTLSScan(b *testing.B) {
	rec := append([]byte{23, 3, 3, 0x40, 0}, make([]byte, 0x4000)...)
	stream := bytes.Repeat(rec, 4)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for range b.N {
		var s tlsScan
		for off := 0; off < len(stream); off += 1400 { // TCP-sized reads
			s.scan(stream[off:min(off+1400, len(stream))])
		}
	}
}
