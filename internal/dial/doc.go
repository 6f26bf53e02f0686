// Package dial gets a byte stream to an SMTP server: TCP (optionally only
// IPv4 or IPv6), implicit TLS (RFC 8314 §3.3), the STARTTLS upgrade (RFC
// 3207), HTTP CONNECT proxies (RFC 9110 §9.3.6, written by hand) and SOCKS5
// proxies (RFC 1928 and RFC 1929, through golang.org/x/net/proxy), with an
// optional HAProxy PROXY protocol header, and a TLS inspection made for
// display: version, cipher suite, the certificate chain and exactly why
// verification failed.
//
// The one rule for callers: read the server through Conn.Reader, never
// through a net.Conn of your own. Proxies often deliver the server's banner
// in the same packet as their own answer, so those bytes are already in the
// reader when Dial returns.
//
// Everything in an Inspection or a Path is raw data from the network; escape
// it (internal/render.Escape) when it is displayed. Error strings are already
// escaped and never contain proxy passwords.
package dial
