// Package selfsigned makes and loads the lab's TLS certificate.
//
// The lab offers STARTTLS (RFC 3207) and implicit TLS (RFC 8314 §3.3) on a
// fresh machine that has no certificate, so it makes one at start:
// ECDSA P-256, self-signed, for the names a student actually types
// (localhost, 127.0.0.1, ::1 and the lab's hostname). Pool turns that
// certificate into a trust root so tests and the shell can verify the lab
// without --insecure, and Fingerprint gives the lab a line to print so a
// student can compare what the client saw with what the server holds.
package selfsigned

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"
)

// Validity of a certificate made by Certificate, relative to now.
const (
	// Backdate covers clock skew between the lab and a client in another
	// container or VM: a certificate dated "now" is "not yet valid" for a
	// client whose clock runs a few minutes behind.
	Backdate = time.Hour
	// Lifetime is far beyond any lab session (the certificate is made anew
	// at every start) and stays under the 398 days some TLS clients allow a
	// server certificate, so no client rejects it for its lifetime alone.
	Lifetime = 365 * 24 * time.Hour
)

// Certificate makes a self-signed ECDSA P-256 certificate for hostname.
// Its subject CN is hostname ("localhost" if hostname is empty), and its
// subject alternative names are localhost, 127.0.0.1, ::1 and hostname (an
// IP SAN if hostname is an IP address), because clients match SANs, not
// the CN (RFC 6125 §6.4.4). It is valid from an hour ago for a year, for
// digital signatures and TLS server authentication only. The serial is
// 128 random bits (CA/Browser Forum BR §7.1 asks for at least 64).
//
// The returned certificate has Leaf set.
func Certificate(hostname string) (tls.Certificate, error) {
	hostname = strings.TrimSuffix(strings.TrimSpace(hostname), ".")
	if hostname == "" {
		hostname = "localhost"
	}
	if err := checkHostname(hostname); err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("selfsigned: generate P-256 key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("selfsigned: random serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hostname, Organization: []string{"smtpsh lab"}},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.Add(Lifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(hostname); ip != nil {
		if !slices.ContainsFunc(tmpl.IPAddresses, ip.Equal) {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	} else if !strings.EqualFold(hostname, "localhost") {
		tmpl.DNSNames = append(tmpl.DNSNames, hostname)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("selfsigned: sign certificate for %q: %w", hostname, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("selfsigned: parse the certificate just made: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// checkHostname accepts an IP address or a DNS name of letters, digits,
// hyphens, underscores and dots, up to 253 bytes (RFC 1035 §2.3.4): a name
// outside that would make a SAN no client can ever match.
func checkHostname(h string) error {
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) > 253 {
		return fmt.Errorf("selfsigned: hostname is %d bytes, more than the 253 a DNS name may have", len(h))
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("selfsigned: hostname %q has an empty label or one over 63 bytes (RFC 1035 §2.3.4)", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("selfsigned: hostname %q: byte %q at column %d is not allowed in a DNS name", h, c, strings.Index(h, label)+i+1)
			}
		}
	}
	return nil
}

// Pool returns a certificate pool holding every certificate of cert's
// chain, to use as RootCAs: a client that trusts it verifies the lab (or a
// --cert chain) by name without --insecure. A chain entry that does not
// parse is left out; an empty pool then makes verification fail, as it
// should.
func Pool(cert tls.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, der := range cert.Certificate {
		if c, err := x509.ParseCertificate(der); err == nil {
			pool.AddCert(c)
		}
	}
	return pool
}

// Fingerprint returns the SHA-256 fingerprint of cert's leaf as upper-case
// hex pairs joined by colons, the form `openssl x509 -fingerprint -sha256`
// prints, so a student can compare the two. It is "" when cert has no
// certificate.
func Fingerprint(cert tls.Certificate) string {
	if len(cert.Certificate) == 0 {
		return ""
	}
	sum := sha256.Sum256(cert.Certificate[0])
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	b.Grow(len(h) + len(h)/2)
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// PEM encodes cert's chain as CERTIFICATE blocks and its private key as a
// PKCS #8 "PRIVATE KEY" block (RFC 7468 §5 and §10), the files Load reads
// and that swaks, Python and openssl accept as a CA file.
func PEM(cert tls.Certificate) (certPEM, keyPEM []byte, err error) {
	if len(cert.Certificate) == 0 {
		return nil, nil, errors.New("selfsigned: certificate has no chain to encode")
	}
	for _, der := range cert.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if cert.PrivateKey == nil {
		return certPEM, nil, errors.New("selfsigned: certificate has no private key to encode")
	}
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return certPEM, nil, fmt.Errorf("selfsigned: encode private key: %w", err)
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
