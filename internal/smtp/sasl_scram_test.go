package smtp

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

func b64s(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestSCRAMClientRFCVectors replays the example exchanges of RFC 5802 §5
// (SHA-1) and RFC 7677 §3 (SHA-256): user "user", password "pencil".
func TestSCRAMClientRFCVectors(t *testing.T) {
	tests := []struct {
		name, mech, cnonce     string
		c1, s1, c2, s2         string
		wrongServer, wantError string
	}{
		{
			name: "RFC 5802 §5 SHA-1", mech: "scram-sha-1", cnonce: "fyko+d2lbbFgONRv9qkxdawL",
			c1: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
			s1: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			c2: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			s2: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		{
			name: "RFC 7677 §3 SHA-256", mech: "SCRAM-SHA-256", cnonce: "rOprNGfwEbeRWgbNEkqO",
			c1: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			s1: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			c2: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			s2: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
		{
			// A server that does not know the password cannot sign.
			name: "forged server signature", mech: "SCRAM-SHA-256", cnonce: "rOprNGfwEbeRWgbNEkqO",
			c1: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			s1: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			c2: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			s2: "v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", wantError: "SCRAM-SHA-256",
		},
		{
			name: "server-final error", mech: "SCRAM-SHA-1", cnonce: "fyko+d2lbbFgONRv9qkxdawL",
			c1: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
			s1: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			c2: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			s2: "e=invalid-proof", wantError: `the server says "invalid-proof"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newSCRAMClient(tc.mech, "user", "pencil", "", func() string { return tc.cnonce })
			if err != nil {
				t.Fatal(err)
			}
			first, err := c.Start()
			if err != nil || first != b64s(tc.c1) {
				t.Fatalf("Start = %q, %v; want %q", first, err, b64s(tc.c1))
			}
			final, err := c.Next(b64s(tc.s1))
			if err != nil || final != b64s(tc.c2) {
				t.Fatalf("client-final = %q, %v; want %q", final, err, b64s(tc.c2))
			}
			last, err := c.Next(b64s(tc.s2))
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) || c.Valid() {
					t.Fatalf("err = %v, valid %v; want an error with %q", err, c.Valid(), tc.wantError)
				}
				return
			}
			if err != nil || last != "" || !c.Valid() {
				t.Fatalf("after server-final: %q, %v, valid %v; want the empty response and valid", last, err, c.Valid())
			}
		})
	}
}

// TestSCRAMAgainstServer runs the client against xdg-go/scram's server
// with stored keys derived the way the lab derives them.
func TestSCRAMAgainstServer(t *testing.T) {
	for _, mech := range []string{SCRAMSHA1, SCRAMSHA256} {
		for _, pass := range []string{"wonderland", "wrong"} {
			t.Run(mech+"/"+pass, func(t *testing.T) {
				h, _ := SCRAMHash(mech)
				sc, _ := h.NewClient("alice", "wonderland", "")
				creds, err := sc.GetStoredCredentialsWithError(scram.KeyFactors{Salt: "salt-of-alice", Iters: 4096})
				if err != nil {
					t.Fatal(err)
				}
				srv, _ := h.NewServer(func(u string) (scram.StoredCredentials, error) { return creds, nil })
				conv := srv.NewConversation()
				c, err := NewSCRAMClient(mech, "alice", pass, "")
				if err != nil {
					t.Fatal(err)
				}
				msg, _ := c.Start()
				var serr error
				for i := 0; i < 3 && !conv.Done(); i++ {
					in, _ := base64.StdEncoding.DecodeString(msg)
					var out string
					out, serr = conv.Step(string(in))
					if serr != nil {
						break
					}
					if msg, err = c.Next(b64s(out)); err != nil {
						t.Fatalf("client: %v", err)
					}
				}
				if ok := pass == "wonderland"; conv.Valid() != ok || c.Valid() != ok {
					t.Fatalf("server valid %v, client valid %v (server error %v), want %v", conv.Valid(), c.Valid(), serr, ok)
				}
				if pass != "wonderland" && serr == nil {
					t.Error("the server took a wrong proof without an error")
				}
			})
		}
	}
}

func TestDescribeSCRAM(t *testing.T) {
	tests := []struct{ name, msg, want string }{
		{"client-first", "n,,n=us=2Cer,r=fyko+d2lbbFgONRv9qkxdawL", `user "us,er", client nonce "fyko+d2lbbFgONRv9qkxdawL"`},
		{"server-first", "r=abc,s=QSXCR+Q6sek8bf92,i=4096", "salt QSXCR+Q6sek8bf92, 4096 iterations"},
		{"client-final", "c=biws,r=abc,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "proof v0X8v3Bz2T0CJGbJQyF0X+HI4Ts= (derived from the password, not replayable)"},
		{"server-final", "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", "server signature rmF9pqV8S7suAoZWja4dJRkFsKQ="},
		{"server error", "e=unknown-user", `error "unknown-user"`},
		{"not attributes", "hello", "is not attr=value"},
		{"gs2 only", "n,,", "no attributes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DescribeSCRAM(b64s(tc.msg))
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

// FuzzParseSCRAM checks that any message parses or fails without a panic,
// within the attribute bound, and that DescribeSCRAM agrees.
func FuzzParseSCRAM(f *testing.F) {
	f.Add(b64s("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"))
	f.Add(b64s("r=abc,s=QSXCR+Q6sek8bf92,i=4096"))
	f.Add(b64s("c=biws,r=abc,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="))
	f.Add(b64s("p=tls-unique,a=x,n=u,r=n"))
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseSCRAM(s)
		if err != nil {
			return
		}
		if len(m.Attrs) == 0 || len(m.Attrs) > maxSCRAMAttrs {
			t.Fatalf("%d attributes", len(m.Attrs))
		}
		DescribeSCRAM(s) // must not panic
	})
}
