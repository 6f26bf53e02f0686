package dial

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab/selfsigned"
	"github.com/smtpsh/smtpsh/internal/render"
)

// testNow is the clock of the verification tests.
var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// issue makes a certificate from tmpl signed by parent (self-signed when
// parent is nil) and returns it with its key.
func issue(t testing.TB, tmpl *x509.Certificate, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = testNow.AddDate(-1, 0, 0), testNow.AddDate(1, 0, 0)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// TestVerifyChain checks that each verification failure says exactly why.
func TestVerifyChain(t *testing.T) {
	ca, caKey := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "Example Test CA"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	leaf := func(tmpl *x509.Certificate) *x509.Certificate {
		c, _ := issue(t, tmpl, ca, caKey)
		return c
	}
	good := leaf(&x509.Certificate{Subject: pkix.Name{CommonName: "mx.example.com"}, DNSNames: []string{"mx.example.com"}})
	self, _ := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "mx.example.com"}, DNSNames: []string{"mx.example.com"}}, nil, nil)
	many := make([]string, 300)
	for i := range many {
		many[i] = fmt.Sprintf("san%d.example", i)
	}
	cases := []struct {
		name   string
		chain  []*x509.Certificate
		roots  *x509.CertPool
		host   string
		now    time.Time
		reason string
		detail string
	}{
		{"trusted", []*x509.Certificate{good}, pool(ca), "mx.example.com", testNow, "", ""},
		{"intermediate-sent", []*x509.Certificate{good, ca}, pool(ca), "mx.example.com", testNow, "", ""},
		{"unknown-ca", []*x509.Certificate{good}, pool(), "mx.example.com", testNow,
			"unknown authority", `issued by "CN=Example Test CA", which is not a trusted authority`},
		{"self-signed", []*x509.Certificate{self}, pool(), "mx.example.com", testNow,
			"unknown authority", `self-signed certificate "CN=mx.example.com" is not trusted (use --ca FILE to trust it, or --insecure)`},
		{"name-mismatch", []*x509.Certificate{good}, pool(ca), "smtp.example.org", testNow,
			"name mismatch", `certificate is for "mx.example.com", not "smtp.example.org"`},
		{"hundreds-of-sans", []*x509.Certificate{leaf(&x509.Certificate{DNSNames: many})}, pool(ca), "mx.example.com", testNow,
			"name mismatch", `certificate is for "san0.example", "san1.example", "san2.example", "san3.example", "san4.example", "san5.example", "san6.example", "san7.example", "san8.example", "san9.example" and 290 more, not "mx.example.com"`},
		// Go ignores the CN since 1.15; say that it is all the certificate has.
		{"cn-only", []*x509.Certificate{leaf(&x509.Certificate{Subject: pkix.Name{CommonName: "legacy.example"}})}, pool(ca), "legacy.example", testNow,
			"name mismatch", `certificate is for "CN=legacy.example", not "legacy.example"`},
		{"no-names", []*x509.Certificate{leaf(&x509.Certificate{Subject: pkix.Name{Organization: []string{"Nameless"}}})}, pool(ca), "mx.example.com", testNow,
			"name mismatch", `certificate is for no names, not "mx.example.com"`},
		{"expired", []*x509.Certificate{good}, pool(ca), "mx.example.com", testNow.AddDate(2, 0, 0),
			"expired", `"CN=mx.example.com" expired on 2027-11-25T12:00:00Z; it is now 2028-11-25T12:00:00Z`},
		{"not-yet-valid", []*x509.Certificate{good}, pool(ca), "mx.example.com", testNow.AddDate(-2, 0, 0),
			"not yet valid", `"CN=mx.example.com" is valid from 2025-11-25T12:00:00Z; it is now 2024-11-25T12:00:00Z`},
		{"no-certificate", nil, pool(ca), "mx.example.com", testNow, "invalid", "the server sent no certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := verifyChain(tc.chain, tc.roots, tc.host, tc.now)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *CertificateError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *CertificateError", err)
			}
			if ce.Reason != tc.reason || !strings.HasPrefix(ce.Detail, tc.detail) {
				t.Errorf("got %s: %s\nwant %s: %s", ce.Reason, ce.Detail, tc.reason, tc.detail)
			}
		})
	}
}

// tlsServer serves implicit TLS with cert on loopback for one handshake.
func tlsServer(t *testing.T, cfg *tls.Config) string {
	return fakePeer(t, func(c net.Conn) error {
		tc := tls.Server(c, cfg)
		tc.Handshake() // the client may refuse: that is the test
		return nil
	})
}

// TestOddCertificates checks that certificates with strange fields are
// inspected as they are (raw), that the verification error is printable,
// and that escaping them for display is safe.
func TestOddCertificates(t *testing.T) {
	many := make([]string, 500)
	for i := range many {
		many[i] = fmt.Sprintf("host%03d.example", i)
	}
	cases := []struct {
		name string
		tmpl *x509.Certificate
		raw  string // a substring of the raw Subject
		sans int
	}{
		{"no-cn", &x509.Certificate{Subject: pkix.Name{Organization: []string{"No CN Inc"}}, DNSNames: []string{"mx.example.com"}}, "O=No CN Inc", 1},
		{"hundreds-of-sans", &x509.Certificate{Subject: pkix.Name{CommonName: "many"}, DNSNames: many}, "CN=many", 500},
		{"control-characters", &x509.Certificate{Subject: pkix.Name{CommonName: "evil\x1b[2J\x1b]0;pwned\x07", Organization: []string{"line\r\nbreak"}}}, "\x1b[2J", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, key := issue(t, tc.tmpl, nil, nil)
			addr := tlsServer(t, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{c.Raw}, PrivateKey: key}}})
			conn, err := Dial(context.Background(), addr, Options{TLS: true, Timeout: 5 * time.Second, TLSConfig: TLSOptions{Insecure: true, ServerName: "mx.example.com"}})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			insp := conn.TLS()
			got := insp.Chain[0]
			if !strings.Contains(got.Subject, tc.raw) || len(got.SANs) != tc.sans {
				t.Errorf("Subject %q with %d SANs, want %q in it and %d SANs", got.Subject, len(got.SANs), tc.raw, tc.sans)
			}
			if insp.Verified || !printable(insp.VerifyError) {
				t.Errorf("Verified %v, VerifyError %q: want unverified and printable", insp.Verified, insp.VerifyError)
			}
			if shown := render.Escape(got.Subject); !printable(shown) {
				t.Errorf("escaped subject %q is not printable", shown)
			}
		})
	}
}

// TestKeyType names the key algorithms servers use.
func TestKeyType(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	cert, err := labCert()
	if err != nil {
		t.Fatal(err)
	}
	lab, _ := x509.ParseCertificate(cert.Certificate[0])
	cases := []struct {
		name string
		key  crypto.Signer
		want string
	}{
		{"ed25519", edKey, "Ed25519"},
		{"p384", p384, "ECDSA P-384"},
	}
	for _, tc := range cases {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: testNow, NotAfter: testNow.AddDate(1, 0, 0)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, tc.key.Public(), tc.key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		if got := keyType(c); got != tc.want {
			t.Errorf("%s: keyType = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := describe(lab); got.KeyType != "ECDSA P-256" || got.SHA256 != selfsigned.Fingerprint(cert) {
		t.Errorf("lab certificate: %s %s, want ECDSA P-256 %s", got.KeyType, got.SHA256, selfsigned.Fingerprint(cert))
	}
}

// TestTLSOptions covers --ca, --client-cert/--client-key and --tls-min.
func TestTLSOptions(t *testing.T) {
	cert, err := labCert()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPEM, keyPEM, err := selfsigned.PEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	caFile, keyFile := filepath.Join(dir, "lab.pem"), filepath.Join(dir, "lab.key")
	os.WriteFile(caFile, certPEM, 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate"), 0o600)

	t.Run("ca-file", func(t *testing.T) {
		addr := tlsServer(t, &tls.Config{Certificates: []tls.Certificate{cert}})
		c, err := Dial(context.Background(), addr, Options{TLS: true, Timeout: 5 * time.Second, TLSConfig: TLSOptions{CAFile: caFile, ServerName: "lab.smtpsh.test"}})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if !c.TLS().Verified {
			t.Errorf("not verified with --ca: %s", c.TLS().VerifyError)
		}
	})
	t.Run("client-cert", func(t *testing.T) {
		got := make(chan int, 1)
		addr := fakePeer(t, func(c net.Conn) error {
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert})
			err := tc.Handshake()
			got <- len(tc.ConnectionState().PeerCertificates)
			return err
		})
		c, err := Dial(context.Background(), addr, Options{TLS: true, Timeout: 5 * time.Second,
			TLSConfig: TLSOptions{Insecure: true, ClientCert: caFile, ClientKey: keyFile}})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if n := <-got; n != 1 {
			t.Errorf("server saw %d client certificates, want 1", n)
		}
	})
	t.Run("tls-min-1.3-against-1.2", func(t *testing.T) {
		addr := tlsServer(t, &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12})
		_, err := Dial(context.Background(), addr, Options{TLS: true, Timeout: 5 * time.Second, TLSConfig: TLSOptions{Insecure: true, MinVersion: "1.3"}})
		var te *TLSError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "protocol version") {
			t.Errorf("err = %v, want a protocol version failure", err)
		}
	})
	for _, tc := range []struct {
		name string
		o    TLSOptions
		want string
	}{
		{"bad-min", TLSOptions{MinVersion: "1.1"}, `TLS minimum version "1.1"`},
		{"ca-garbage", TLSOptions{CAFile: garbage}, "no PEM certificate"},
		{"ca-missing", TLSOptions{CAFile: filepath.Join(dir, "missing.pem")}, "no such file"},
		{"cert-without-key", TLSOptions{ClientCert: caFile}, "both --client-cert and --client-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.o.tlsConfig("x", &Inspection{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
