package dial

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/smtpsh/smtpsh/internal/lab/selfsigned"
)

// fakePeer accepts one connection on loopback and runs serve on it; the
// test waits for serve to finish. serve's error fails the test.
func fakePeer(t *testing.T, serve func(c net.Conn) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		done <- serve(c)
	}()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("fake peer: %v", err)
		}
	})
	return ln.Addr().String()
}

// readHead reads an HTTP request head (up to the blank line).
func readHead(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		l, err := br.ReadString('\n')
		b.WriteString(l)
		if err != nil {
			return b.String(), err
		}
		if l == "\r\n" {
			return b.String(), nil
		}
	}
}

// TestDialHTTPProxyAnswers drives Dial against a fake HTTP proxy that
// answers CONNECT in each way real and broken proxies do.
func TestDialHTTPProxyAnswers(t *testing.T) {
	const banner = "220 mail.example.com ESMTP Postfix\r\n"
	cases := []struct {
		name   string
		answer string // written in one piece after the request; "" closes
		stall  bool   // never answer
		status int
		want   string // substring of the error; "" means Dial succeeds
	}{
		{name: "banner-in-same-packet", answer: "HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n" + banner},
		{name: "403", answer: "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", status: 403, want: `answered "HTTP/1.1 403 Forbidden": the proxy forbids this destination`},
		{name: "502", answer: "HTTP/1.1 502 Bad Gateway\r\n\r\n", status: 502, want: "could not connect to the server"},
		{name: "503", answer: "HTTP/1.1 503 Service Unavailable\r\n\r\n", status: 503, want: "could not reach the server or is overloaded"},
		{name: "405", answer: "HTTP/1.1 405 Method Not Allowed\r\n\r\n", status: 405, want: "does not support CONNECT"},
		{name: "closes", answer: "", want: "closed the connection without answering CONNECT"},
		{name: "closes-mid-answer", answer: "HTTP/1.1 200 Conn", want: "closed the connection in the middle of its answer"},
		{name: "smtp-server-not-proxy", answer: banner, want: `answered "220 mail.example.com ESMTP Postfix": the proxy's answer is not an HTTP/1.x response`},
		{name: "escape-sequences", answer: "HTTP/1.1 403 \x1b[2J\x1b]0;pwned\x07\r\n\r\n", want: `\x1b[2J\x1b]0;pwned\x07`},
		{name: "binary", answer: "\x00\xff\xfe garbage\r\n", want: `answered "\x00\xff\xfe garbage"`},
		{name: "stalls", stall: true, want: "timed out"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 1)
			addr := fakePeer(t, func(c net.Conn) error {
				head, err := readHead(bufio.NewReader(c))
				got <- head
				if err != nil {
					return err
				}
				if tc.stall {
					io.Copy(io.Discard, c) // until the client gives up
					return nil
				}
				_, err = io.WriteString(c, tc.answer)
				return err
			})
			o := Options{Proxy: "http://smtpsh:s3cret@" + addr, Timeout: 300 * time.Millisecond}
			c, err := Dial(context.Background(), "mail.example.com:25", o)
			if head := <-got; head != "CONNECT mail.example.com:25 HTTP/1.1\r\nHost: mail.example.com:25\r\nProxy-Authorization: Basic c210cHNoOnMzY3JldA==\r\n\r\n" {
				t.Errorf("proxy received %q", head)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				line, err := c.Reader().ReadString('\n')
				if err != nil || line != banner {
					t.Fatalf("read %q, %v; want the banner that came with the proxy's answer", line, err)
				}
				if p := c.Path(); p.Proxy == nil || p.Proxy.String() != "http://smtpsh@"+addr {
					t.Errorf("Path = %+v", p)
				}
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			var pe *ProxyError
			if !errors.As(err, &pe) || pe.Status != tc.status {
				t.Fatalf("err = %#v, want a *ProxyError with status %d", err, tc.status)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "proxy http://smtpsh@"+addr) {
				t.Errorf("error %q, want it to name the proxy and say %q", msg, tc.want)
			}
			if strings.Contains(msg, "s3cret") || !printable(msg) {
				t.Errorf("error shows the password or raw control bytes: %q", msg)
			}
		})
	}
}

// TestParseProxy checks the URLs --proxy accepts and that no error repeats
// a password.
func TestParseProxy(t *testing.T) {
	cases := []struct {
		in, hop, err string
		kind         proxyKind
	}{
		{in: "http://127.0.0.1:18888", hop: "http://127.0.0.1:18888", kind: proxyHTTP},
		{in: "HTTP://smtpsh:proxypass@127.0.0.1:18889/", hop: "http://smtpsh@127.0.0.1:18889", kind: proxyHTTP},
		{in: "socks5://[::1]:1080", hop: "socks5://[::1]:1080", kind: proxySOCKS5},
		{in: "socks5://proxy.example", hop: "socks5://proxy.example:1080", kind: proxySOCKS5},
		{in: "socks5h://u:p@proxy.example:9050", hop: "socks5h://u@proxy.example:9050", kind: proxySOCKS5H},
		{in: "http://proxy.example", err: "needs a port"},
		{in: "https://proxy.example:443", err: "https:// proxies"},
		{in: "socks4://proxy.example:1080", err: "SOCKS4 is not supported"},
		{in: "ftp://proxy.example:21", err: `unknown scheme "ftp"`},
		{in: "127.0.0.1:8080", err: "proxy URL"},
		{in: "proxy.example:3128", err: "proxy URL"},
		{in: "http://:3128", err: "no host"},
		{in: "http://proxy.example:99999", err: "port must be 1 to 65535"},
		{in: "http://proxy.example:3128/path", err: "no path"},
		{in: "http://proxy.example:port", err: `(invalid port ":port" after host)`},
		{in: "http://user:hunter2@proxy.example:port", err: "proxy URL"},
		{in: "http://user:hunter2%zz@proxy.example:3128", err: "proxy URL"},
		{in: "http://user:hunter2 x@proxy.example:3128", err: "proxy URL"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			p, err := parseProxy(tc.in)
			if tc.err != "" {
				var ue *ProxyURLError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want a *ProxyURLError with %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Hop().String(); got != tc.hop || p.kind != tc.kind {
				t.Errorf("hop %s kind %d, want %s kind %d", got, p.kind, tc.hop, tc.kind)
			}
		})
	}
}

// TestProxyFromEnv checks the order of the variables.
func TestProxyFromEnv(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, ""},
		{map[string]string{"all_proxy": "socks5://c:1080"}, "socks5://c:1080"},
		{map[string]string{"ALL_PROXY": "socks5://b:1080", "all_proxy": "socks5://c:1080"}, "socks5://b:1080"},
		{map[string]string{"SMTPSH_PROXY": " http://a:3128 ", "ALL_PROXY": "socks5://b:1080"}, "http://a:3128"},
		{map[string]string{"HTTP_PROXY": "http://web:3128", "HTTPS_PROXY": "http://web:3128"}, ""},
	}
	for _, tc := range cases {
		if got := ProxyFromEnv(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("ProxyFromEnv(%v) = %q, want %q", tc.env, got, tc.want)
		}
	}
}

// starttlsServer is a fake SMTP server: banner, then 220 to STARTTLS
// followed by extra, then (unless plaintext is set) a TLS handshake and
// one line over TLS.
func starttlsServer(t *testing.T, extra, plaintext string, stall bool) string {
	cert, err := labCert()
	if err != nil {
		t.Fatal(err)
	}
	return fakePeer(t, func(c net.Conn) error {
		br := bufio.NewReader(c)
		if _, err := io.WriteString(c, "220 fake ESMTP\r\n"); err != nil {
			return err
		}
		if l, err := br.ReadString('\n'); err != nil || l != "STARTTLS\r\n" {
			return errors.New("no STARTTLS: " + l)
		}
		if _, err := io.WriteString(c, "220 2.0.0 Ready to start TLS\r\n"+extra); err != nil {
			return err
		}
		if plaintext != "" {
			time.Sleep(50 * time.Millisecond) // a separate packet, after the client's check
			io.WriteString(c, plaintext)
			io.Copy(io.Discard, c)
			return nil
		}
		if stall {
			io.Copy(io.Discard, c)
			return nil
		}
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
		if err := tc.Handshake(); err != nil {
			return err
		}
		_, err := io.WriteString(tc, "250 over TLS\r\n")
		return err
	})
}

// startTLS dials addr, reads the banner, sends STARTTLS and reads the 220.
func startTLS(t *testing.T, addr string, o Options) (*Conn, *Inspection, error) {
	t.Helper()
	c, err := Dial(context.Background(), addr, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	br := c.Reader()
	time.Sleep(20 * time.Millisecond) // let the injected bytes arrive with the 220
	for _, send := range []string{"", "STARTTLS\r\n"} {
		if send != "" {
			io.WriteString(c, send)
		}
		if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, "220 ") {
			t.Fatalf("read %q, %v", l, err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	insp, err := c.StartTLS(context.Background())
	return c, insp, err
}

// TestStartTLSInjection is CVE-2011-0411: a server (or a man in the
// middle) sends a reply after the 220 in the same packet; it must not be
// read as if it had come over TLS.
func TestStartTLSInjection(t *testing.T) {
	cert, _ := labCert()
	o := Options{Timeout: 5 * time.Second, TLSConfig: TLSOptions{RootCAs: selfsigned.Pool(cert), ServerName: "lab.smtpsh.test"}}
	const injected = "250-injected\r\n250 AUTH PLAIN\r\n"
	c, insp, err := startTLS(t, starttlsServer(t, injected, "", false), o)
	if err != nil {
		t.Fatal(err)
	}
	if insp.Injected != len(injected) || string(insp.Injection) != injected || !insp.Verified {
		t.Errorf("Injected %d %q verified %v, want %d %q", insp.Injected, insp.Injection, insp.Verified, len(injected), injected)
	}
	if l, err := c.Reader().ReadString('\n'); err != nil || l != "250 over TLS\r\n" {
		t.Errorf("after TLS read %q, %v; want the line sent over TLS", l, err)
	}
	if c.TLS() != insp {
		t.Error("TLS() does not return the inspection")
	}
	if _, err := c.StartTLS(context.Background()); err == nil {
		t.Error("a second StartTLS succeeded")
	}
}

// TestStartTLSPlaintext is a server that says 220 and then goes on in
// plaintext, and one that stalls the handshake.
func TestStartTLSPlaintext(t *testing.T) {
	o := Options{Timeout: 300 * time.Millisecond}
	_, _, err := startTLS(t, starttlsServer(t, "", "554 5.7.0 TLS not available after all\r\n", false), o)
	var te *TLSError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), `STARTTLS handshake: the server sent plaintext instead of TLS, starting "554 5"`) {
		t.Errorf("plaintext: err = %v", err)
	}
	_, _, err = startTLS(t, starttlsServer(t, "", "", true), o)
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "timed out") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stall: err = %v", err)
	}
}

// TestDialErrors checks arguments Dial refuses before connecting.
func TestDialErrors(t *testing.T) {
	cases := []struct {
		addr string
		o    Options
		want string
	}{
		{"mail.example.com", Options{}, "missing port"},
		{"mail.example.com:0", Options{}, "port must be 1 to 65535"},
		{"mail.example.com:25", Options{Network: "udp"}, `network "udp"`},
		{"mail.example.com:25", Options{ProxyProtocol: "v3"}, `PROXY protocol version "v3"`},
		{"mail.example.com:25", Options{Proxy: "gopher://x:70"}, `unknown scheme "gopher"`},
	}
	for _, tc := range cases {
		if _, err := Dial(context.Background(), tc.addr, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Dial(%q, %+v) = %v, want %q", tc.addr, tc.o, err, tc.want)
		}
	}
}

// printable reports whether s is safe for a terminal: valid UTF-8 with no
// C0 control byte or DEL.
func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0
}

// TestDialProxyDown names the proxy that is not there.
func TestDialProxyDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, scheme := range []string{"http", "socks5"} {
		_, err := Dial(context.Background(), "192.0.2.25:25", Options{Proxy: scheme + "://u:hunter2@" + addr, Timeout: 5 * time.Second})
		var pe *ProxyError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "proxy "+scheme+"://u@"+addr) ||
			!strings.Contains(err.Error(), "cannot connect to the proxy") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: err = %v", scheme, err)
		}
	}
}

// A *Conn is a net.Conn, so the shell can take it.
var _ net.Conn = (*Conn)(nil)
