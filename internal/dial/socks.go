package dial

import (
	"context"
	"errors"
	"net"
	"strings"

	"golang.org/x/net/proxy"
)

// dialSOCKS opens a tunnel through a SOCKS5 proxy with golang.org/x/net's
// client (RFC 1928, with RFC 1929 username/password when the URL has a
// user).
//
// x/net sends a host name to the proxy as a name (ATYP DOMAINNAME) for both
// socks5 and socks5h: the proxy resolves it either way. curl's convention,
// which we keep, is that socks5:// resolves the name locally and sends an
// address, so for socks5 the name is resolved here, in the family
// o.Network asks for, and the first address is used.
func (c *Conn) dialSOCKS(ctx context.Context, network string, p *proxySpec, host, port string) error {
	hop := p.Hop()
	target := net.JoinHostPort(host, port)
	var auth *proxy.Auth
	if p.hasAuth {
		auth = &proxy.Auth{User: p.user, Password: p.password}
	}
	fwd := &net.Dialer{}
	d, err := proxy.SOCKS5(network, p.addr, auth, fwd)
	if err != nil {
		return &ProxyError{Proxy: hop, Target: target, Err: err}
	}
	dst := target
	if p.kind == proxySOCKS5 && net.ParseIP(host) == nil {
		fam := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
		ips, err := net.DefaultResolver.LookupIP(ctx, fam, host)
		if err != nil {
			return &ProxyError{Proxy: hop, Target: target, Reason: "cannot resolve the server's name locally (socks5h:// lets the proxy resolve it)", Err: err}
		}
		dst = net.JoinHostPort(ips[0].String(), port)
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		return &ProxyError{Proxy: hop, Target: target, Err: errors.New("SOCKS dialer without context support")}
	}
	raw, err := cd.DialContext(ctx, network, dst)
	if err != nil {
		return &ProxyError{Proxy: hop, Target: target, Reason: socksReason(err, p), Err: socksCause(ctx, err)}
	}
	c.raw, c.base = raw, raw
	return nil
}

// socksCause strips x/net's *net.OpError wrapper ("socks connect tcp
// a->b: …") down to the cause, since ProxyError already names both ends.
func socksCause(ctx context.Context, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "socks connect" && oe.Err != nil {
		err = oe.Err
	}
	// x/net reports a SOCKS reply code (RFC 1928 §6) as "unknown error"
	// followed by its meaning; the meaning is what the user needs.
	if m, ok := strings.CutPrefix(err.Error(), "unknown error "); ok {
		err = errors.New("SOCKS5 reply: " + m)
	}
	return ctxErr(ctx, err)
}

// socksReason explains the failures x/net reports only as text.
func socksReason(err error, p *proxySpec) string {
	msg := err.Error()
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "socks connect" {
		var dialErr *net.OpError
		if errors.As(oe.Err, &dialErr) && dialErr.Op == "dial" {
			return "cannot connect to the proxy"
		}
	}
	switch {
	case contains(msg, "username/password authentication failed"):
		return "the proxy rejected the credentials in the proxy URL (check the user and password)"
	case contains(msg, "no acceptable authentication methods") && !p.hasAuth:
		return "the proxy needs credentials: put them in the URL, socks5://user:pass@host:port"
	case contains(msg, "no acceptable authentication methods"):
		return "the proxy accepts none of our authentication methods"
	case contains(msg, "connection refused") && contains(msg, "unknown error"):
		return "the proxy could not connect to the server (is it listening there?)"
	case contains(msg, "unexpected protocol version"):
		return "the proxy does not speak SOCKS5"
	}
	return "the SOCKS5 proxy did not open the tunnel"
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
