package selfsigned

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxFileSize bounds what Load reads from a --cert or --key file: a
// certificate chain is a few kilobytes, and a file much larger is the wrong
// file (or hostile).
const MaxFileSize = 1 << 20

// Load reads a PEM certificate chain (leaf first) from certFile and its
// PEM private key from keyFile, for the lab's --cert and --key. Every error
// names the file and what is wrong with it: missing, too large, no PEM
// block of the right type, a certificate that does not parse, an encrypted
// or unknown key, or a key that does not belong to the certificate.
//
// An expired certificate is loaded as is: serving one is a lesson the lab
// may want to give.
func Load(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := readBounded(certFile, "--cert")
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readBounded(keyFile, "--key")
	if err != nil {
		return tls.Certificate{}, err
	}
	return parsePair(certPEM, keyPEM, certFile, keyFile)
}

// readBounded reads at most MaxFileSize bytes of name; flag says which
// option named it, for the error.
func readBounded(name, flag string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s file: %w", flag, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s file %s: %w", flag, name, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s file %s: larger than %d bytes; is it a PEM certificate or key?", flag, name, MaxFileSize)
	}
	return b, nil
}

// parsePair checks certPEM and keyPEM block by block so the error can say
// which file and which block is wrong (tls.X509KeyPair alone says neither),
// then pairs them.
func parsePair(certPEM, keyPEM []byte, certFile, keyFile string) (tls.Certificate, error) {
	var cert tls.Certificate
	rest := certPEM
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			if isKeyType(block.Type) {
				return tls.Certificate{}, fmt.Errorf("--cert file %s: PEM block %d is a %s, not a certificate; are --cert and --key swapped?", certFile, n, block.Type)
			}
			continue // RFC 7468 §2: parsers ignore blocks they do not expect
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("--cert file %s: certificate %d does not parse: %w", certFile, len(cert.Certificate)+1, err)
		}
		if cert.Leaf == nil {
			cert.Leaf = c
		}
		cert.Certificate = append(cert.Certificate, block.Bytes)
	}
	if len(cert.Certificate) == 0 {
		if bytes.Contains(certPEM, []byte("PRIVATE KEY-----")) {
			return tls.Certificate{}, fmt.Errorf("--cert file %s: holds a private key but no certificate; are --cert and --key swapped?", certFile)
		}
		return tls.Certificate{}, fmt.Errorf("--cert file %s: no PEM \"CERTIFICATE\" block found", certFile)
	}

	var keyDER []byte
	rest = keyPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "":
			return tls.Certificate{}, fmt.Errorf("--key file %s: the key is encrypted; decrypt it first (openssl pkey -in %s -out plain.key)", keyFile, keyFile)
		case isKeyType(block.Type):
			keyDER = block.Bytes
		}
		if keyDER != nil {
			break
		}
	}
	if keyDER == nil {
		if bytes.Contains(keyPEM, []byte("BEGIN CERTIFICATE")) {
			return tls.Certificate{}, fmt.Errorf("--key file %s: holds a certificate but no private key; are --cert and --key swapped?", keyFile)
		}
		return tls.Certificate{}, fmt.Errorf("--key file %s: no PEM \"PRIVATE KEY\" block found", keyFile)
	}
	key, err := parseKey(keyDER)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--key file %s: %w", keyFile, err)
	}
	cert.PrivateKey = key
	// tls.X509KeyPair does the matching of public and private key for every
	// key type it supports; we only give its error a name.
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("--key file %s does not go with --cert file %s: %w", keyFile, certFile, err)
	}
	return cert, nil
}

// isKeyType reports whether a PEM type names a private key (RFC 7468 §10,
// §11 and the traditional OpenSSL forms).
func isKeyType(t string) bool {
	switch t {
	case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return true
	}
	return false
}

// parseKey accepts PKCS #8, SEC 1 (EC) and PKCS #1 (RSA) keys, the forms
// openssl writes.
func parseKey(der []byte) (any, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("private key does not parse as PKCS #8, EC (SEC 1) or RSA (PKCS #1)")
}
