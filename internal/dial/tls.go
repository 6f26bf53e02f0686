package dial

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// maxCAFile bounds a --ca file: a full system bundle is about 250 KB.
const maxCAFile = 4 << 20

// Inspection is what a TLS handshake showed, for display and transcripts.
// Strings are raw data from the certificate: escape them to display them.
type Inspection struct {
	Version     string // "TLSv1.2", "TLSv1.3"
	CipherSuite string // IANA name, e.g. "TLS_AES_128_GCM_SHA256"
	ALPN        string // negotiated protocol, usually ""
	ServerName  string // the name sent (SNI) and verified
	// Chain is the certificates as the server sent them, leaf first.
	Chain []Certificate
	// Verified reports whether the chain verified for ServerName. With
	// TLSOptions.Insecure the connection goes on either way and
	// VerifyError says what verification would have said.
	Verified    bool
	VerifyError string
	// Injected is how many bytes the server sent after its 220 reply to
	// STARTTLS and before the handshake (CVE-2011-0411): they were
	// discarded. Injection holds the first of them (at most 512).
	Injected  int
	Injection []byte
}

// Certificate is one certificate of a chain, as shown to people.
type Certificate struct {
	Subject, Issuer     string // RFC 4514 form, e.g. "CN=lab.smtpsh.test"
	SANs                []string
	NotBefore, NotAfter time.Time
	// SHA256 is the fingerprint of the DER encoding as upper-case hex
	// pairs joined by colons, as `openssl x509 -fingerprint -sha256`.
	SHA256  string
	KeyType string // "RSA 2048", "ECDSA P-256", "Ed25519"
}

// CertificateError is a certificate chain that did not verify, with the
// reason in words a user can act on.
type CertificateError struct {
	// Reason is "unknown authority", "name mismatch", "expired",
	// "not yet valid" or "invalid".
	Reason string
	Detail string
	Err    error // the crypto/x509 error
}

// Error is "certificate <reason>: <detail>".
func (e *CertificateError) Error() string {
	return "certificate " + e.Reason + ": " + e.Detail
}

// Unwrap returns the crypto/x509 error.
func (e *CertificateError) Unwrap() error { return e.Err }

// TLSError is a failed TLS handshake. Inspection, when not nil, holds what
// the server showed before it failed (its certificate chain, typically,
// when verification failed), so the user sees the certificate that was
// refused.
type TLSError struct {
	Op         string // "implicit TLS" or "STARTTLS"
	Inspection *Inspection
	Err        error
}

// Error is "<op> handshake: <cause>".
func (e *TLSError) Error() string { return e.Op + " handshake: " + e.Err.Error() }

// Unwrap returns the cause (a *CertificateError when verification failed).
func (e *TLSError) Unwrap() error { return e.Err }

// tlsConfig builds the crypto/tls configuration for serverName. The
// library's own verification is always off: verifyChain does it in
// VerifyConnection, so that an insecure connection can still report what
// verification would have said, and a failure carries the chain.
func (o *TLSOptions) tlsConfig(serverName string, insp *Inspection) (*tls.Config, error) {
	cfg := &tls.Config{
		ServerName:         serverName,
		InsecureSkipVerify: true,
	}
	switch o.MinVersion {
	case "", "1.2":
		cfg.MinVersion = tls.VersionTLS12
	case "1.3":
		cfg.MinVersion = tls.VersionTLS13
	default:
		return nil, fmt.Errorf("TLS minimum version %q: use 1.2 or 1.3", o.MinVersion)
	}
	roots := o.RootCAs
	if roots == nil && o.CAFile != "" {
		pem, err := readBounded(o.CAFile, maxCAFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in it", o.CAFile)
		}
	}
	if (o.ClientCert == "") != (o.ClientKey == "") {
		return nil, errors.New("a client certificate needs both --client-cert and --client-key")
	}
	if o.ClientCert != "" {
		pair, err := tls.LoadX509KeyPair(o.ClientCert, o.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	insecure := o.Insecure
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		fillInspection(insp, cs, serverName)
		err := verifyChain(cs.PeerCertificates, roots, serverName, time.Now())
		insp.Verified = err == nil
		if err != nil {
			insp.VerifyError = err.Error()
			if !insecure {
				return err
			}
		}
		return nil
	}
	return cfg, nil
}

// readBounded reads a file of at most limit bytes.
func readBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	return b, nil
}

// verifyChain verifies chain (leaf first) for name, as crypto/tls would,
// and classifies the failure.
func verifyChain(chain []*x509.Certificate, roots *x509.CertPool, name string, now time.Time) error {
	if len(chain) == 0 {
		return &CertificateError{Reason: "invalid", Detail: "the server sent no certificate"}
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		DNSName:       name,
		CurrentTime:   now,
	})
	if err == nil {
		return nil
	}
	return classify(err, chain[0], name, now)
}

// classify turns a crypto/x509 error into a CertificateError that says
// exactly why: which authority is unknown, which names the certificate has
// against the one asked for, and when it expired.
func classify(err error, leaf *x509.Certificate, name string, now time.Time) *CertificateError {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		issuer := leaf.Issuer.String()
		if ua.Cert != nil {
			issuer = ua.Cert.Issuer.String()
		}
		detail := fmt.Sprintf("issued by %q, which is not a trusted authority", issuer)
		if leaf.Subject.String() == leaf.Issuer.String() {
			detail = fmt.Sprintf("self-signed certificate %q is not trusted (use --ca FILE to trust it, or --insecure)", leaf.Subject.String())
		}
		return &CertificateError{Reason: "unknown authority", Detail: detail, Err: err}
	case errors.As(err, &he):
		names := certNames(leaf)
		have := "no names"
		if len(names) > 0 {
			have = strings.Join(quoteAll(limit(names, 10)), ", ")
			if len(names) > 10 {
				have += fmt.Sprintf(" and %d more", len(names)-10)
			}
		}
		return &CertificateError{Reason: "name mismatch",
			Detail: fmt.Sprintf("certificate is for %s, not %q (use --servername to ask for another name)", have, name), Err: err}
	case errors.As(err, &ci):
		switch ci.Reason {
		case x509.Expired:
			c := leaf
			if ci.Cert != nil {
				c = ci.Cert
			}
			if now.Before(c.NotBefore) {
				return &CertificateError{Reason: "not yet valid",
					Detail: fmt.Sprintf("%q is valid from %s; it is now %s", c.Subject.String(), c.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)), Err: err}
			}
			return &CertificateError{Reason: "expired",
				Detail: fmt.Sprintf("%q expired on %s; it is now %s", c.Subject.String(), c.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)), Err: err}
		}
	}
	return &CertificateError{Reason: "invalid", Detail: err.Error(), Err: err}
}

func limit(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func quoteAll(s []string) []string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return q
}

// certNames is what a certificate can be verified for: its SANs, or its CN
// when it has none (which Go no longer accepts, but people still look for).
func certNames(c *x509.Certificate) []string {
	n := sans(c)
	if len(n) == 0 && c.Subject.CommonName != "" {
		n = append(n, "CN="+c.Subject.CommonName)
	}
	return n
}

// sans lists a certificate's subject alternative names: DNS names, IP
// addresses, e-mail addresses and URIs.
func sans(c *x509.Certificate) []string {
	var n []string
	n = append(n, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		n = append(n, ip.String())
	}
	n = append(n, c.EmailAddresses...)
	for _, u := range c.URIs {
		n = append(n, u.String())
	}
	return n
}

// fillInspection records the connection state.
func fillInspection(insp *Inspection, cs tls.ConnectionState, serverName string) {
	insp.Version = versionName(cs.Version)
	insp.CipherSuite = tls.CipherSuiteName(cs.CipherSuite)
	insp.ALPN = cs.NegotiatedProtocol
	insp.ServerName = serverName
	insp.Chain = insp.Chain[:0]
	for _, c := range cs.PeerCertificates {
		insp.Chain = append(insp.Chain, describe(c))
	}
}

// versionName names a TLS version as openssl does ("TLSv1.3"), the form
// the transcript format uses.
func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1.0"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// describe turns a certificate into its display form.
func describe(c *x509.Certificate) Certificate {
	sum := sha256.Sum256(c.Raw)
	return Certificate{
		Subject:   c.Subject.String(),
		Issuer:    c.Issuer.String(),
		SANs:      sans(c),
		NotBefore: c.NotBefore,
		NotAfter:  c.NotAfter,
		SHA256:    fingerprint(sum[:]),
		KeyType:   keyType(c),
	}
}

// fingerprint formats a digest as upper-case hex pairs joined by colons.
func fingerprint(sum []byte) string {
	h := strings.ToUpper(hex.EncodeToString(sum))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// keyType names a certificate's public key with its size or curve.
func keyType(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return c.PublicKeyAlgorithm.String()
}
