package selfsigned

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/peertest"
)

const labHost = "lab.smtpsh.test"

// tcpPair returns both ends of a loopback TCP connection. Not net.Pipe:
// its writes block until read, so a client that rejects the certificate
// and writes an alert while the server still writes its flight deadlocks.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	return client, server
}

// handshake runs a TLS handshake over loopback TCP between a server holding
// cert and a client that trusts only pool and asks for serverName.
func handshake(t *testing.T, cert tls.Certificate, serverName string) error {
	return handshakePool(t, cert, Pool(cert), serverName)
}

func handshakePool(t *testing.T, cert tls.Certificate, pool *x509.CertPool, serverName string) error {
	t.Helper()
	cc, sc := tcpPair(t)
	defer cc.Close()
	defer sc.Close()
	srv := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{cert}})
	cli := tls.Client(cc, &tls.Config{RootCAs: pool, ServerName: serverName})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.HandshakeContext(ctx) }()
	err := cli.HandshakeContext(ctx)
	cc.Close() // a failed client handshake leaves the server waiting
	<-done
	return err
}

func TestCertificateVerifiesByName(t *testing.T) {
	cert, err := Certificate(labHost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, serverName string
		ok               bool
	}{
		{"DNS SAN localhost", "localhost", true},
		{"IPv4 SAN", "127.0.0.1", true},
		{"IPv6 SAN", "::1", true},
		{"lab hostname", labHost, true},
		{"hostname in upper case", "LAB.SMTPSH.TEST", true},
		{"another name", "mail.example.com", false},
		{"a subdomain of the lab", "mx." + labHost, false},
		{"another loopback address", "127.0.0.2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := handshake(t, cert, tt.serverName)
			if tt.ok && err != nil {
				t.Fatalf("handshake as %q: %v", tt.serverName, err)
			}
			if !tt.ok {
				var herr x509.HostnameError
				if !errors.As(err, &herr) {
					t.Fatalf("handshake as %q: got %v, want a hostname mismatch", tt.serverName, err)
				}
			}
		})
	}
}

func TestCertificateFields(t *testing.T) {
	before := time.Now()
	cert, err := Certificate(labHost)
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		t.Fatal("Leaf not set")
	}
	if leaf.Subject.CommonName != labHost {
		t.Errorf("CN = %q, want %q", leaf.Subject.CommonName, labHost)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", leaf.PublicKey)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage = %v, want digital signature only", leaf.KeyUsage)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("ExtKeyUsage = %v, want server auth only", leaf.ExtKeyUsage)
	}
	if leaf.IsCA {
		t.Error("certificate claims to be a CA")
	}
	if nb := leaf.NotBefore; nb.After(before.Add(-Backdate+time.Second)) || nb.Before(before.Add(-Backdate-time.Minute)) {
		t.Errorf("NotBefore = %v, want about an hour before %v", nb, before)
	}
	if na := leaf.NotAfter; na.Before(before.Add(Lifetime-time.Second)) || na.After(before.Add(Lifetime+time.Minute)) {
		t.Errorf("NotAfter = %v, want about a year after %v", na, before)
	}
	if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v: want positive, at most 128 bits", leaf.SerialNumber)
	}
	other, err := Certificate(labHost)
	if err != nil {
		t.Fatal(err)
	}
	if other.Leaf.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Error("two certificates share a serial: it is not random")
	}
	if Fingerprint(other) == Fingerprint(cert) {
		t.Error("two certificates share a fingerprint")
	}
}

func TestCertificateHostnames(t *testing.T) {
	tests := []struct {
		name, host string
		wantCN     string
		wantDNS    []string
		wantIPs    int
		wantErr    string
	}{
		{"empty means localhost", "", "localhost", []string{"localhost"}, 2, ""},
		{"localhost not repeated", "localhost", "localhost", []string{"localhost"}, 2, ""},
		{"trailing dot of an FQDN dropped", labHost + ".", labHost, []string{"localhost", labHost}, 2, ""},
		{"IPv4 hostname becomes an IP SAN", "192.0.2.25", "192.0.2.25", []string{"localhost"}, 3, ""},
		{"loopback hostname not repeated", "::1", "::1", []string{"localhost"}, 2, ""},
		{"space in name", "lab smtpsh", "", nil, 0, "column 4"},
		{"empty label", "lab..test", "", nil, 0, "empty label"},
		{"overlong label", strings.Repeat("a", 64) + ".test", "", nil, 0, "over 63"},
		{"overlong name", strings.Repeat("abcdefgh.", 30) + "test", "", nil, 0, "253"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := Certificate(tt.host)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Certificate(%q) error = %v, want one containing %q", tt.host, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cert.Leaf.Subject.CommonName != tt.wantCN {
				t.Errorf("CN = %q, want %q", cert.Leaf.Subject.CommonName, tt.wantCN)
			}
			if strings.Join(cert.Leaf.DNSNames, ",") != strings.Join(tt.wantDNS, ",") {
				t.Errorf("DNS SANs = %q, want %q", cert.Leaf.DNSNames, tt.wantDNS)
			}
			if len(cert.Leaf.IPAddresses) != tt.wantIPs {
				t.Errorf("IP SANs = %v, want %d", cert.Leaf.IPAddresses, tt.wantIPs)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	// The SHA-256 of the empty string (FIPS 180-4 test vector) in
	// openssl's notation.
	empty := tls.Certificate{Certificate: [][]byte{{}}}
	want := "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
	if got := Fingerprint(empty); got != want {
		t.Errorf("Fingerprint = %s, want %s", got, want)
	}
	if got := Fingerprint(tls.Certificate{}); got != "" {
		t.Errorf("Fingerprint of nothing = %q, want empty", got)
	}
}

func TestPoolIgnoresGarbage(t *testing.T) {
	cert, err := Certificate(labHost)
	if err != nil {
		t.Fatal(err)
	}
	bad := tls.Certificate{Certificate: [][]byte{[]byte("not DER")}, PrivateKey: cert.PrivateKey}
	if err := handshake(t, cert, "localhost"); err != nil {
		t.Fatalf("good pool: %v", err)
	}
	// A client that trusts a pool made from garbage must not trust the lab.
	err = handshakePool(t, cert, Pool(bad), "localhost")
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Fatalf("handshake trusting a garbage pool: %v, want unknown authority", err)
	}
}

// writePair writes cert as PEM files in dir and returns their names.
func writePair(t *testing.T, dir string, cert tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	c, k, err := PEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, c, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, k, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	cert, err := Certificate(labHost)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Certificate(labHost)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := writePair(t, dir, cert)
	otherDir := t.TempDir()
	_, otherKey := writePair(t, otherDir, other)
	certPEM, _ := os.ReadFile(certFile)

	file := func(name string, content []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// An encrypted key as `openssl genpkey -aes256` writes it starts so;
	// Load must refuse it before trying to parse it.
	encrypted := file("enc.pem", []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"))
	legacyEncrypted := file("legacy.pem", []byte("-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nMIIB\n-----END EC PRIVATE KEY-----\n"))
	badDER := file("bad-der.pem", []byte("-----BEGIN CERTIFICATE-----\nTUlJQg==\n-----END CERTIFICATE-----\n"))
	chain := file("chain.pem", append(append([]byte("comment before the block\n"), certPEM...), certPEM...))
	big := file("big.pem", bytes.Repeat([]byte("A"), MaxFileSize+1))
	empty := file("empty.pem", nil)

	tests := []struct {
		name      string
		cert, key string
		wantErr   []string // substrings, all of them; nil means success
	}{
		{"pair written by PEM", certFile, keyFile, nil},
		{"chain with text before it", chain, keyFile, nil},
		{"missing cert file", filepath.Join(dir, "nope.pem"), keyFile, []string{"--cert file", "nope.pem", "no such file"}},
		{"missing key file", certFile, filepath.Join(dir, "nope.key"), []string{"--key file", "nope.key", "no such file"}},
		{"empty cert file", empty, keyFile, []string{"--cert file", "empty.pem", `no PEM "CERTIFICATE" block`}},
		{"files swapped", keyFile, certFile, []string{"--cert file", "key.pem", "swapped"}},
		{"key given as cert too", certFile, certFile, []string{"--key file", "cert.pem", "no private key"}},
		{"certificate that does not parse", badDER, keyFile, []string{"--cert file", "bad-der.pem", "certificate 1 does not parse"}},
		{"key of another certificate", certFile, otherKey, []string{"--key file", otherKey, "does not go with", certFile}},
		{"encrypted PKCS #8 key", certFile, encrypted, []string{"--key file", "enc.pem", "encrypted"}},
		{"encrypted traditional key", certFile, legacyEncrypted, []string{"--key file", "legacy.pem", "encrypted"}},
		{"huge file", big, keyFile, []string{"--cert file", "big.pem", "larger than"}},
		{"directory", dir, keyFile, []string{"--cert file", dir}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(tt.cert, tt.key)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if Fingerprint(got) != Fingerprint(cert) {
					t.Errorf("loaded fingerprint %s, want %s", Fingerprint(got), Fingerprint(cert))
				}
				if got.Leaf == nil || got.PrivateKey == nil {
					t.Errorf("Leaf or PrivateKey not set")
				}
				if err := handshake(t, got, labHost); err != nil {
					t.Errorf("handshake with the loaded pair: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestPeerOpenSSLText checks with openssl, not with Go's parser, that the
// certificate carries what the lab promises.
func TestPeerOpenSSLText(t *testing.T) {
	openssl := peertest.Program(t, "openssl")
	cert, err := Certificate(labHost)
	if err != nil {
		t.Fatal(err)
	}
	certFile, _ := writePair(t, t.TempDir(), cert)
	out, err := exec.Command(openssl, "x509", "-noout", "-text", "-fingerprint", "-sha256", "-in", certFile).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`DNS:localhost\b`),
		regexp.MustCompile(`DNS:lab\.smtpsh\.test\b`),
		regexp.MustCompile(`IP Address:127\.0\.0\.1\b`),
		regexp.MustCompile(`IP Address:(0:0:0:0:0:0:0:1|::1)\b`),
		regexp.MustCompile(`Subject: .*CN ?= ?lab\.smtpsh\.test`),
		regexp.MustCompile(`ASN1 OID: prime256v1`),
		regexp.MustCompile(`Key Usage: critical\s+Digital Signature\s`),
		regexp.MustCompile(`Extended Key Usage:\s+TLS Web Server Authentication\s`),
		regexp.MustCompile(`(?i)sha256 Fingerprint=` + regexp.QuoteMeta(Fingerprint(cert))),
	} {
		if !want.MatchString(text) {
			t.Errorf("openssl x509 -text lacks %s:\n%s", want, text)
		}
	}
}

// TestPeerOpenSSLVerify has openssl's own verifier check the certificate
// against itself as the trust anchor for the names a client uses, the way
// swaks and Python's smtplib (both OpenSSL) will.
func TestPeerOpenSSLVerify(t *testing.T) {
	openssl := peertest.Program(t, "openssl")
	cert, err := Certificate(labHost)
	if err != nil {
		t.Fatal(err)
	}
	certFile, _ := writePair(t, t.TempDir(), cert)
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"hostname", []string{"-verify_hostname", labHost}, true},
		{"localhost", []string{"-verify_hostname", "localhost"}, true},
		{"IPv4", []string{"-verify_ip", "127.0.0.1"}, true},
		{"IPv6", []string{"-verify_ip", "::1"}, true},
		{"another name", []string{"-verify_hostname", "mail.example.com"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"verify", "-purpose", "sslserver", "-CAfile", certFile}, tt.args...)
			out, err := exec.Command(openssl, append(args, certFile)...).CombinedOutput()
			if tt.ok && err != nil {
				t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			if !tt.ok && err == nil {
				t.Fatalf("openssl %s accepted it:\n%s", strings.Join(args, " "), out)
			}
		})
	}
}

// TestPeerOpenSSLHandshake has openssl s_client, an OpenSSL client like
// swaks and Python's smtplib, complete a verified TLS handshake with a Go
// server holding the certificate, trusting only the certificate itself.
func TestPeerOpenSSLHandshake(t *testing.T) {
	openssl := peertest.Program(t, "openssl")
	cert, err := Certificate(labHost)
	if err != nil {
		t.Fatal(err)
	}
	certFile, _ := writePair(t, t.TempDir(), cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	for _, name := range []string{labHost, "localhost"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", ln.Addr().String(),
				"-servername", name, "-verify_hostname", name, "-CAfile", certFile,
				"-verify_return_error", "-brief")
			cmd.Stdin = strings.NewReader("")
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Verification: OK") {
				t.Fatalf("openssl s_client as %s: %v\n%s", name, err, out)
			}
		})
	}
}
