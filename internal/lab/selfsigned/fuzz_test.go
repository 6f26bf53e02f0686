package selfsigned

import (
	"testing"
)

// FuzzParsePair feeds arbitrary bytes as --cert and --key files: Load must
// never panic on a hostile file, and whatever it accepts must be usable.
func FuzzParsePair(f *testing.F) {
	cert, err := Certificate("lab.smtpsh.test")
	if err != nil {
		f.Fatal(err)
	}
	c, k, err := PEM(cert)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c, k)
	f.Add(k, c)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n"), k)
	f.Add(c, []byte("-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAA==\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		got, err := parsePair(certPEM, keyPEM, "cert.pem", "key.pem")
		if err != nil {
			return
		}
		if got.Leaf == nil || got.PrivateKey == nil || len(got.Certificate) == 0 {
			t.Fatalf("accepted a pair with no leaf, key or chain: %+v", got)
		}
		if Fingerprint(got) == "" {
			t.Fatal("accepted a pair with no fingerprint")
		}
	})
}

// BenchmarkCertificate measures the cost the lab pays at every start.
func BenchmarkCertificate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Certificate("lab.smtpsh.test"); err != nil {
			b.Fatal(err)
		}
	}
}
