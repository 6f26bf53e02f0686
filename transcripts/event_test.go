package transcripts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// TestNewTLSInfo runs a real TLS 1.3 handshake over a pipe with a
// certificate made for the test, and checks the names a transcript records.
func TestNewTLSInfo(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "lab.smtpsh.test", Organization: []string{"smtpsh lab"}},
		DNSNames:     []string{"lab.smtpsh.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	srv := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"smtp"}})
	done := make(chan error, 1)
	go func() { done <- srv.Handshake() }()
	cli := tls.Client(c, &tls.Config{ServerName: "lab.smtpsh.test", InsecureSkipVerify: true, NextProtos: []string{"smtp"}})
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cs := cli.ConnectionState()
	got := NewTLSInfo(&cs)
	want := TLSInfo{Version: "TLSv1.3", CipherSuite: tls.CipherSuiteName(cs.CipherSuite),
		CertSubject: "CN=lab.smtpsh.test,O=smtpsh lab", ServerName: "lab.smtpsh.test", ALPN: "smtp"}
	if got != want {
		t.Errorf("NewTLSInfo = %+v, want %+v", got, want)
	}
	if got.CipherSuite[:4] != "TLS_" {
		t.Errorf("cipher suite %q is not an IANA name", got.CipherSuite)
	}
}

func TestVersionName(t *testing.T) {
	for v, want := range map[uint16]string{tls.VersionTLS10: "TLSv1.0", tls.VersionTLS11: "TLSv1.1",
		tls.VersionTLS12: "TLSv1.2", tls.VersionTLS13: "TLSv1.3", 0x0300: "SSLv3", 0x7f00: "0x7F00"} {
		if got := versionName(v); got != want {
			t.Errorf("versionName(%#04x) = %q, want %q", v, got, want)
		}
	}
}

func TestClone(t *testing.T) {
	tr := labSession()
	c := tr.Clone()
	if !c.Equal(tr) {
		t.Fatal("a clone differs from its original")
	}
	c.Meta["profile"] = "exim-like"
	c.Events[9].TLS.Version = "TLSv1.2"
	c.Events[0].Text = "changed"
	if tr.Meta["profile"] != "postfix-like" || tr.Events[9].TLS.Version != "TLSv1.3" || tr.Events[0].Text != "" {
		t.Error("changing a clone changed its original")
	}
	if c.Equal(tr) {
		t.Error("Equal missed the changes")
	}
}

func TestKindAndSideNames(t *testing.T) {
	for k := Client; k <= Note; k++ {
		if got, ok := kindByName(k.String()); !ok || got != k {
			t.Errorf("kind %d: name %q does not map back", k, k.String())
		}
	}
	if Kind(0).String() != "invalid" || Kind(99).String() != "invalid" {
		t.Error("invalid kinds should say so")
	}
	for _, s := range []Side{SideUnknown, SideClient, SideServer} {
		if got, ok := sideByName(s.String()); !ok || got != s {
			t.Errorf("side %d: name %q does not map back", s, s.String())
		}
	}
}
