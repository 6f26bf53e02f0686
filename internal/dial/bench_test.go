package dial

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/peertest"
)

// BenchmarkSetup measures connection set-up against the in-process lab:
// Dial, the banner and, for STARTTLS, EHLO, STARTTLS and the handshake,
// then QUIT. Each path is a sub-benchmark; through-proxy paths need the
// proxy lab. There is no byte count worth reporting as MB/s here: the
// figure is the time per connection.
func BenchmarkSetup(b *testing.B) {
	l := startLab(b, "127.0.0.1")
	paths := []struct {
		name  string
		proxy func(testing.TB) string
	}{
		{"direct", nil},
		{"http", peertest.HTTPProxy},
		{"socks5", peertest.SOCKSProxy},
	}
	for _, p := range paths {
		for _, mode := range []string{"tcp", "starttls", "implicit"} {
			b.Run(p.name+"/"+mode, func(b *testing.B) {
				o := Options{Timeout: 10 * time.Second, TLSConfig: l.trust(), TLS: mode == "implicit"}
				if p.proxy != nil {
					o.Proxy = p.proxy(b)
				}
				addr := l.addr
				if o.TLS {
					addr = l.tlsAddr
				}
				b.ReportAllocs()
				for b.Loop() {
					c, err := Dial(context.Background(), addr, o)
					if err != nil {
						b.Fatal(err)
					}
					s := newSession(b, c)
					s.expect(220)
					if mode == "starttls" {
						s.cmd("EHLO bench.example", 250)
						s.cmd("STARTTLS", 220)
						if _, err := c.StartTLS(context.Background()); err != nil {
							b.Fatal(err)
						}
					}
					io.WriteString(c, "QUIT\r\n")
					s.expect(221)
					c.Close()
				}
			})
		}
	}
}
