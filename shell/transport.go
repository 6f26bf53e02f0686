package shell

import (
	"context"
	"net"

	"github.com/smtpsh/smtpsh/internal/dial"
	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/transcripts"
)

// TransportDialer opens connections with internal/dial: direct or through
// an HTTP CONNECT or SOCKS5 proxy, in plaintext or implicit TLS, with TLS
// verification on unless Options.TLSConfig.Insecure is set.
type TransportDialer struct {
	Options dial.Options
}

// Dial connects to addr. The *dial.Conn it returns reads through its
// buffer, which may already hold the banner that came with the proxy's
// answer.
func (d *TransportDialer) Dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := dial.Dial(ctx, addr, d.Options)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// describeTransport says how conn reaches the server, for the notes the
// shell prints on connect and the transcript: the proxy on the way
// (without its password) and the TLS parameters of implicit TLS. via is ""
// for a direct connection.
func describeTransport(conn net.Conn) (via string, notes []string) {
	c, ok := conn.(*dial.Conn)
	if !ok {
		return "", nil
	}
	p := c.Path()
	if p.Proxy != nil {
		via = p.Proxy.String()
		notes = append(notes, "through "+render.Escape(via)+" to "+render.Escape(p.Target))
	}
	if in := c.TLS(); in != nil {
		n := "implicit TLS: " + in.Version + " " + in.CipherSuite
		if len(in.Chain) > 0 {
			n += ", certificate " + render.Escape(in.Chain[0].Subject) + " (sha256 " + in.Chain[0].SHA256 + ")"
		}
		if in.Verified {
			n += ", verified"
		} else if in.VerifyError != "" {
			n += ", NOT verified (--insecure): " + render.Escape(in.VerifyError)
		}
		notes = append(notes, n)
	}
	return via, notes
}

// tlsInfo is what a transcript records of a TLS handshake.
func tlsInfo(in *dial.Inspection) transcripts.TLSInfo {
	info := transcripts.TLSInfo{Version: in.Version, CipherSuite: in.CipherSuite, ServerName: in.ServerName, ALPN: in.ALPN}
	if len(in.Chain) > 0 {
		info.CertSubject = in.Chain[0].Subject
	}
	return info
}
