package dial

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab/selfsigned"
	"github.com/smtpsh/smtpsh/internal/peertest"
)

// proxyCase is one column of the transport matrix.
type proxyCase struct {
	name string
	url  func(testing.TB) string // nil: direct
	user string                  // user the Path must show
}

var proxyCases = []proxyCase{
	{name: "direct"},
	{name: "http", url: peertest.HTTPProxy},
	{name: "http-auth", url: peertest.HTTPAuthProxy, user: "smtpsh"},
	{name: "socks5", url: peertest.SOCKSProxy},
	{name: "socks5-auth", url: peertest.SOCKSAuthProxy, user: "smtpsh"},
}

// TestPeerMatrix runs {direct, tinyproxy, tinyproxy with Basic auth,
// microsocks, microsocks with auth} × {plain, STARTTLS, implicit TLS}
// against the lab: a banner, EHLO, the upgrade where there is one with the
// certificate verified by name, EHLO again and QUIT.
func TestPeerMatrix(t *testing.T) {
	l := startLab(t, "127.0.0.1")
	for _, pc := range proxyCases {
		for _, mode := range []string{"plain", "starttls", "implicit"} {
			t.Run(pc.name+"/"+mode, func(t *testing.T) {
				o := Options{Timeout: 10 * time.Second, TLSConfig: l.trust()}
				if pc.url != nil {
					o.Proxy = pc.url(t)
				}
				addr := l.addr
				if mode == "implicit" {
					addr, o.TLS = l.tlsAddr, true
				}
				c, err := Dial(context.Background(), addr, o)
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer c.Close()
				checkPath(t, c.Path(), addr, pc)
				s := newSession(t, c)
				s.expect(220)
				ehlo := s.cmd("EHLO client.example", 250)
				switch mode {
				case "plain":
					if c.TLS() != nil {
						t.Error("TLS() is not nil on a plain connection")
					}
					if has(ehlo, "AUTH") {
						t.Error("the lab offers AUTH before TLS: the connection is not what the test thinks")
					}
				case "starttls":
					if !has(ehlo, "STARTTLS") {
						t.Fatalf("no STARTTLS in %q", ehlo.Text())
					}
					s.cmd("STARTTLS", 220)
					insp, err := c.StartTLS(context.Background())
					if err != nil {
						t.Fatalf("StartTLS: %v", err)
					}
					checkLabTLS(t, insp, l)
					if ehlo := s.cmd("EHLO client.example", 250); !has(ehlo, "AUTH") {
						t.Errorf("no AUTH after STARTTLS: %q", ehlo.Text())
					}
				case "implicit":
					checkLabTLS(t, c.TLS(), l)
					if !has(ehlo, "AUTH") {
						t.Errorf("no AUTH on implicit TLS: %q", ehlo.Text())
					}
				}
				s.cmd("QUIT", 221)
			})
		}
	}
}

// checkPath checks the recorded path and that it holds no password.
func checkPath(t *testing.T, p Path, target string, pc proxyCase) {
	t.Helper()
	if p.Target != target {
		t.Errorf("Path.Target = %q, want %q", p.Target, target)
	}
	if pc.url == nil {
		if p.Proxy != nil || p.Remote != target {
			t.Errorf("direct Path = %+v", p)
		}
		return
	}
	if p.Proxy == nil {
		t.Fatalf("Path.Proxy is nil through %s", pc.name)
	}
	if p.Proxy.User != pc.user || p.Remote != p.Proxy.Addr {
		t.Errorf("Path.Proxy = %+v, Remote %s; want user %q and Remote the proxy", p.Proxy, p.Remote, pc.user)
	}
	if strings.Contains(p.String(), "proxypass") {
		t.Errorf("Path.String() shows the password: %s", p)
	}
}

// checkLabTLS checks an inspection of the lab's certificate.
func checkLabTLS(t *testing.T, insp *Inspection, l *testLab) {
	t.Helper()
	if insp == nil {
		t.Fatal("no TLS inspection")
	}
	if !insp.Verified || insp.VerifyError != "" {
		t.Errorf("not verified: %s", insp.VerifyError)
	}
	if insp.Version != "TLSv1.3" || !strings.HasPrefix(insp.CipherSuite, "TLS_") || insp.ServerName != "lab.smtpsh.test" {
		t.Errorf("inspection = %s %s %s", insp.Version, insp.CipherSuite, insp.ServerName)
	}
	if insp.Injected != 0 {
		t.Errorf("%d bytes reported injected by an honest server", insp.Injected)
	}
	if len(insp.Chain) != 1 {
		t.Fatalf("chain has %d certificates, want the lab's one", len(insp.Chain))
	}
	c := insp.Chain[0]
	if c.SHA256 != selfsigned.Fingerprint(l.cert) {
		t.Errorf("fingerprint %s, selfsigned says %s", c.SHA256, selfsigned.Fingerprint(l.cert))
	}
	if c.Subject != "CN=lab.smtpsh.test,O=smtpsh lab" || c.KeyType != "ECDSA P-256" || !containsString(c.SANs, "lab.smtpsh.test") {
		t.Errorf("certificate = %+v", c)
	}
	if !c.NotBefore.Before(time.Now()) || !c.NotAfter.After(time.Now()) {
		t.Errorf("validity %s to %s does not include now", c.NotBefore, c.NotAfter)
	}
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestPeerPostfix reaches the real Postfix through a few paths: its
// self-signed certificate is untrusted, so verification must fail with
// the reason, and pass the connection with Insecure while saying why.
func TestPeerPostfix(t *testing.T) {
	plain, implicit := peertest.Postfix(t), peertest.PostfixTLS(t)
	type cell struct {
		name  string
		proxy func(testing.TB) string
		addr  string
		tls   bool
	}
	// Every proxy path × {STARTTLS, implicit TLS}; the plaintext column
	// is TestPeerPostfixPlain.
	var cases []cell
	for _, p := range []struct {
		name  string
		proxy func(testing.TB) string
	}{{"direct", nil}, {"http", peertest.HTTPProxy}, {"http-auth", peertest.HTTPAuthProxy},
		{"socks5", peertest.SOCKSProxy}, {"socks5-auth", peertest.SOCKSAuthProxy}} {
		cases = append(cases, cell{p.name + "-starttls", p.proxy, plain, false}, cell{p.name + "-implicit", p.proxy, implicit, true})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, insecure := range []bool{false, true} {
				o := Options{Timeout: 10 * time.Second, TLS: tc.tls, TLSConfig: TLSOptions{Insecure: insecure}}
				if tc.proxy != nil {
					o.Proxy = tc.proxy(t)
				}
				insp, err := postfixTLS(t, tc.addr, o)
				if !insecure {
					var te *TLSError
					var ce *CertificateError
					if !errors.As(err, &te) || !errors.As(err, &ce) || ce.Reason != "unknown authority" {
						t.Fatalf("verified Postfix's self-signed certificate: err = %v", err)
					}
					if te.Inspection == nil || len(te.Inspection.Chain) == 0 || te.Inspection.Chain[0].Subject != "CN=smtpsh-lab.local,O=smtpsh lab" {
						t.Errorf("the refused chain is not reported: %+v", te.Inspection)
					}
					continue
				}
				if err != nil {
					t.Fatalf("with Insecure: %v", err)
				}
				if insp.Verified || !strings.Contains(insp.VerifyError, "self-signed certificate") {
					t.Errorf("Insecure: Verified=%v VerifyError=%q, want what verification would have said", insp.Verified, insp.VerifyError)
				}
				if !containsString(insp.Chain[0].SANs, "smtpsh-lab.local") || !strings.HasPrefix(insp.Chain[0].KeyType, "RSA") && !strings.HasPrefix(insp.Chain[0].KeyType, "ECDSA") {
					t.Errorf("certificate = %+v", insp.Chain[0])
				}
			}
		})
	}
}

// TestPeerPostfixPlain: Postfix's banner and EHLO in plaintext over every
// proxy path; the banner tinyproxy sends with its 200 must not be lost.
func TestPeerPostfixPlain(t *testing.T) {
	plain := peertest.Postfix(t)
	for _, p := range []struct {
		name  string
		proxy func(testing.TB) string
	}{{"direct", nil}, {"http", peertest.HTTPProxy}, {"http-auth", peertest.HTTPAuthProxy},
		{"socks5", peertest.SOCKSProxy}, {"socks5-auth", peertest.SOCKSAuthProxy}} {
		t.Run(p.name, func(t *testing.T) {
			o := Options{Timeout: 10 * time.Second}
			if p.proxy != nil {
				o.Proxy = p.proxy(t)
			}
			c, err := Dial(context.Background(), plain, o)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			s := newSession(t, c)
			if r := s.expect(220); !strings.Contains(r.Text(), "ESMTP") {
				t.Errorf("banner %q", r.Text())
			}
			s.cmd("EHLO client.example", 250)
			s.cmd("QUIT", 221)
			if (c.Path().Proxy == nil) != (p.proxy == nil) {
				t.Errorf("Path = %v", c.Path())
			}
		})
	}
}

// postfixTLS reaches TLS with Postfix and says EHLO over it.
func postfixTLS(t *testing.T, addr string, o Options) (*Inspection, error) {
	t.Helper()
	c, err := Dial(context.Background(), addr, o)
	if o.TLS {
		if err != nil {
			return nil, err
		}
		defer c.Close()
		s := newSession(t, c)
		s.expect(220)
		s.cmd("EHLO client.example", 250)
		s.cmd("QUIT", 221)
		return c.TLS(), nil
	}
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	s := newSession(t, c)
	if r := s.expect(220); !strings.Contains(r.Text(), "ESMTP") {
		t.Errorf("banner %q", r.Text())
	}
	s.cmd("EHLO client.example", 250)
	s.cmd("STARTTLS", 220)
	insp, err := c.StartTLS(context.Background())
	if err != nil {
		return nil, err
	}
	s.cmd("EHLO client.example", 250)
	s.cmd("QUIT", 221)
	return insp, nil
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestPeerProxyRefusals checks the errors real proxies cause: wrong and
// missing credentials, and a CONNECT to a port where nothing listens.
func TestPeerProxyRefusals(t *testing.T) {
	l := startLab(t, "127.0.0.1")
	httpAuth := strings.Replace(peertest.HTTPAuthProxy(t), "proxypass", "wrongpass", 1)
	socksAuth := strings.Replace(peertest.SOCKSAuthProxy(t), "proxypass", "wrongpass", 1)
	cases := []struct {
		name, proxy, addr string
		status            int
		want              string
	}{
		// tinyproxy answers wrong credentials with 401, not RFC 9110's 407.
		{"http-wrong-password", httpAuth, l.addr, 401, "rejected the credentials"},
		{"http-no-credentials", strings.Replace(httpAuth, "smtpsh:wrongpass@", "", 1), l.addr, 407, "needs credentials"},
		{"socks5-wrong-password", socksAuth, l.addr, 0, "rejected the credentials"},
		{"socks5-no-credentials", strings.Replace(socksAuth, "smtpsh:wrongpass@", "", 1), l.addr, 0, "needs credentials"},
		{"http-closed-port", peertest.HTTPProxy(t), closedPort(t), 500, "could not connect to the server"},
		{"socks5-closed-port", peertest.SOCKSProxy(t), closedPort(t), 0, "could not connect to the server"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Dial(context.Background(), tc.addr, Options{Proxy: tc.proxy, Timeout: 10 * time.Second})
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			var pe *ProxyError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v, want a *ProxyError", err, err)
			}
			msg := err.Error()
			if pe.Status != tc.status || !strings.Contains(msg, tc.want) {
				t.Errorf("status %d, error %q; want status %d and %q", pe.Status, msg, tc.status, tc.want)
			}
			if strings.Contains(msg, "wrongpass") || strings.Contains(msg, "proxypass") {
				t.Errorf("error shows the password: %s", msg)
			}
			if !strings.Contains(msg, pe.Proxy.Addr) {
				t.Errorf("error does not name the proxy: %s", msg)
			}
			t.Logf("%s", msg)
		})
	}
}

// TestPeerNameMismatch verifies the lab's certificate for another name.
func TestPeerNameMismatch(t *testing.T) {
	l := startLab(t, "127.0.0.1")
	for _, insecure := range []bool{false, true} {
		o := Options{TLS: true, Timeout: 10 * time.Second, Proxy: peertest.SOCKSProxy(t), TLSConfig: l.trust()}
		o.TLSConfig.ServerName, o.TLSConfig.Insecure = "mail.example.com", insecure
		c, err := Dial(context.Background(), l.tlsAddr, o)
		want := `certificate name mismatch: certificate is for "localhost", "lab.smtpsh.test", "127.0.0.1", "::1", not "mail.example.com"`
		if !insecure {
			var ce *CertificateError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want %s", err, want)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Insecure: %v", err)
		}
		if insp := c.TLS(); insp.Verified || !strings.HasPrefix(insp.VerifyError, want) {
			t.Errorf("Insecure: VerifyError = %q, want %s", insp.VerifyError, want)
		}
		c.Close()
	}
}

// TestPeerIPv6 reaches a lab on [::1] directly and through both proxies.
func TestPeerIPv6(t *testing.T) {
	l := startLab(t, "::1")
	for _, pc := range []proxyCase{{name: "direct"}, {name: "socks5", url: peertest.SOCKSProxy}, {name: "http", url: peertest.HTTPProxy}} {
		for _, mode := range []string{"starttls", "implicit"} {
			t.Run(pc.name+"/"+mode, func(t *testing.T) {
				o := Options{Timeout: 10 * time.Second, TLSConfig: l.trust()}
				if pc.url != nil {
					o.Proxy = pc.url(t)
				} else {
					o.Network = "tcp6"
				}
				addr := l.addr
				if mode == "implicit" {
					addr, o.TLS = l.tlsAddr, true
				}
				if !strings.HasPrefix(addr, "[::1]:") {
					t.Fatalf("lab address %s", addr)
				}
				c, err := Dial(context.Background(), addr, o)
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer c.Close()
				s := newSession(t, c)
				s.expect(220)
				s.cmd("EHLO client.example", 250)
				if mode == "starttls" {
					s.cmd("STARTTLS", 220)
					if _, err := c.StartTLS(context.Background()); err != nil {
						t.Fatal(err)
					}
					s.cmd("EHLO client.example", 250)
				}
				checkLabTLS(t, c.TLS(), l)
				s.cmd("QUIT", 221)
			})
		}
	}
}

// TestPeerSOCKSResolution reaches the lab by name: socks5:// resolves
// "localhost" here (in the family -4 asks for), socks5h:// lets microsocks
// resolve it.
func TestPeerSOCKSResolution(t *testing.T) {
	l := startLab(t, "127.0.0.1")
	_, port, _ := net.SplitHostPort(l.addr)
	for _, scheme := range []string{"socks5", "socks5h"} {
		t.Run(scheme, func(t *testing.T) {
			proxy := strings.Replace(peertest.SOCKSProxy(t), "socks5", scheme, 1)
			c, err := Dial(context.Background(), "localhost:"+port, Options{Proxy: proxy, Network: "tcp4", Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Path().Target != "localhost:"+port || c.Path().Proxy.Scheme != scheme {
				t.Errorf("Path = %+v", c.Path())
			}
			s := newSession(t, c)
			s.expect(220)
			s.cmd("QUIT", 221)
		})
	}
}
