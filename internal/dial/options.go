package dial

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Options says how to reach a server. The zero value dials TCP directly,
// without TLS and without a time limit beyond the context's.
type Options struct {
	// Network is "tcp" (or ""), "tcp4" (-4) or "tcp6" (-6). It chooses the
	// address family of the connection smtpsh makes: to the server, or to
	// the proxy when there is one. A socks5:// proxy resolves the server's
	// name here, so Network then also picks the server's address family;
	// http:// and socks5h:// proxies resolve it themselves.
	Network string
	// Timeout bounds Dial as a whole (TCP connect, proxy handshake, PROXY
	// header and implicit TLS handshake) and, separately, each StartTLS
	// handshake. Zero means only the context bounds them.
	Timeout time.Duration
	// Proxy is "" (direct), http://[user:pass@]host:port (HTTP CONNECT),
	// socks5://[user:pass@]host[:port] (SOCKS5, server name resolved
	// locally) or socks5h://… (server name resolved by the proxy). SOCKS
	// ports default to 1080 (RFC 1928 §3). See ProxyFromEnv.
	Proxy string
	// TLS asks for implicit TLS (RFC 8314 §3.3, port 465): the handshake
	// starts as soon as the stream is there.
	TLS bool
	// TLSConfig configures implicit TLS and StartTLS.
	TLSConfig TLSOptions
	// ProxyProtocol is "", "v1" or "v2": send an HAProxy PROXY protocol
	// header first on the stream to the server. This is what swaks calls
	// --proxy; it is not a proxy, only a header a server behind a load
	// balancer trusts to learn the client's address.
	ProxyProtocol string
}

// TLSOptions configures certificate verification and the client side of
// TLS. Verification is on unless Insecure is set.
type TLSOptions struct {
	// Insecure accepts any certificate. The chain is still verified, and
	// Inspection reports what verification would have said.
	Insecure bool
	// CAFile is a PEM file of certificates to trust instead of the system
	// roots (--ca).
	CAFile string
	// RootCAs, when not nil, is trusted instead of CAFile and the system
	// roots (the in-process lab hands its certificate over this way).
	RootCAs *x509.CertPool
	// ServerName is the name to send (SNI) and verify; "" means the host
	// of the address given to Dial (--servername).
	ServerName string
	// ClientCert and ClientKey are PEM files for a client certificate
	// (--client-cert, --client-key); both or neither.
	ClientCert, ClientKey string
	// MinVersion is "" (Go's default, TLS 1.2), "1.2" or "1.3" (--tls-min).
	MinVersion string
}

// ProxyFromEnv returns the proxy URL from the environment: SMTPSH_PROXY,
// then ALL_PROXY, then all_proxy (curl's names for a proxy used by every
// protocol). HTTP_PROXY and HTTPS_PROXY are deliberately not read: they are
// set for web traffic and rarely allow CONNECT to mail ports. NO_PROXY is
// not honoured either. getenv is os.Getenv outside tests.
func ProxyFromEnv(getenv func(string) string) string {
	for _, k := range []string{"SMTPSH_PROXY", "ALL_PROXY", "all_proxy"} {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
	}
	return ""
}

// proxyKind is the protocol spoken to a proxy.
type proxyKind int

const (
	proxyHTTP proxyKind = iota + 1
	proxySOCKS5
	proxySOCKS5H
)

// proxySpec is a parsed proxy URL. It holds the password, so it has no
// String method: use Hop for anything shown.
type proxySpec struct {
	kind     proxyKind
	scheme   string
	addr     string // host:port
	user     string
	password string
	hasAuth  bool
}

// Hop describes the proxy without its password.
func (p *proxySpec) Hop() *Hop {
	return &Hop{Scheme: p.scheme, Addr: p.addr, User: p.user}
}

// Hop is a proxy on the path to the server, as shown to people and recorded
// in transcripts: never with its password.
type Hop struct {
	Scheme string // "http", "socks5" or "socks5h"
	Addr   string // host:port of the proxy
	User   string // user name from the URL, "" if none
}

// String returns the proxy as a URL without password, e.g.
// "http://smtpsh@127.0.0.1:18889".
func (h *Hop) String() string {
	u := url.URL{Scheme: h.Scheme, Host: h.Addr}
	if h.User != "" {
		u.User = url.User(h.User)
	}
	return u.String()
}

// ProxyURLError is a proxy URL that could not be used. It never repeats
// the URL, which may hold a password.
type ProxyURLError struct {
	Msg string
}

// Error says what is wrong with the URL without repeating it.
func (e *ProxyURLError) Error() string { return "proxy URL: " + e.Msg }

// parseProxy parses a --proxy URL. Its errors never include the URL's
// password: url.Parse's own errors quote the whole URL, so they are
// replaced.
func parseProxy(s string) (*proxySpec, error) {
	u, err := url.Parse(s)
	if err != nil {
		msg := "not a URL like http://[user:pass@]host:port or socks5://host:port"
		var ue *url.Error
		// ue.Err quotes the offending part ("invalid URL escape "%zz""),
		// which may be a piece of the password: show it only when the URL
		// has no user information.
		if errors.As(err, &ue) && !strings.Contains(s, "@") {
			msg += " (" + ue.Err.Error() + ")"
		}
		return nil, &ProxyURLError{Msg: msg}
	}
	p := &proxySpec{scheme: strings.ToLower(u.Scheme)}
	switch p.scheme {
	case "http":
		p.kind = proxyHTTP
	case "socks5":
		p.kind = proxySOCKS5
	case "socks5h":
		p.kind = proxySOCKS5H
	case "https":
		return nil, &ProxyURLError{Msg: "https:// proxies (TLS to the proxy) are not supported; use http:// for an HTTP CONNECT proxy"}
	case "socks4", "socks4a":
		return nil, &ProxyURLError{Msg: "SOCKS4 is not supported; use socks5:// or socks5h://"}
	case "":
		return nil, &ProxyURLError{Msg: "no scheme: write http://host:port or socks5://host:port"}
	default:
		return nil, &ProxyURLError{Msg: fmt.Sprintf("unknown scheme %q: use http, socks5 or socks5h", p.scheme)}
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, &ProxyURLError{Msg: fmt.Sprintf("no host: write %s://host:port", p.scheme)}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, &ProxyURLError{Msg: "a proxy URL has no path, query or fragment"}
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return nil, &ProxyURLError{Msg: fmt.Sprintf("no host: write %s://host:port", p.scheme)}
	}
	if port == "" {
		if p.kind == proxyHTTP {
			// There is no standard HTTP proxy port (tinyproxy uses 8888,
			// Squid 3128): guessing would connect to the wrong service.
			return nil, &ProxyURLError{Msg: "an http:// proxy needs a port, e.g. http://host:3128"}
		}
		port = "1080" // RFC 1928 §3: SOCKS is conventionally on TCP 1080.
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, &ProxyURLError{Msg: "proxy port must be 1 to 65535"}
	}
	p.addr = net.JoinHostPort(host, port)
	if u.User != nil {
		p.user = u.User.Username()
		p.password, p.hasAuth = u.User.Password()
		p.hasAuth = p.hasAuth || p.user != ""
	}
	return p, nil
}
