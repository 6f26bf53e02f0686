package peertest

import "testing"

// The proxies of ../shared/tools/proxy-lab.sh. Each returns the proxy URL
// a test passes to --proxy, after checking that something listens there.
// The SMTPSH_* variables override the addresses (host:port).

// HTTPProxy is tinyproxy without authentication.
func HTTPProxy(t testing.TB) string {
	return "http://" + Server(t, "SMTPSH_HTTP_PROXY", "127.0.0.1:18888", "tinyproxy (proxy-lab.sh start)")
}

// HTTPAuthProxy is tinyproxy with Basic authentication; the URL carries
// its credentials (smtpsh:proxypass).
func HTTPAuthProxy(t testing.TB) string {
	return "http://smtpsh:proxypass@" + Server(t, "SMTPSH_HTTP_AUTH_PROXY", "127.0.0.1:18889", "tinyproxy with BasicAuth (proxy-lab.sh start)")
}

// SOCKSProxy is microsocks without authentication.
func SOCKSProxy(t testing.TB) string {
	return "socks5://" + Server(t, "SMTPSH_SOCKS_PROXY", "127.0.0.1:11080", "microsocks (proxy-lab.sh start)")
}

// SOCKSAuthProxy is microsocks with username/password authentication; the
// URL carries its credentials (smtpsh:proxypass).
func SOCKSAuthProxy(t testing.TB) string {
	return "socks5://smtpsh:proxypass@" + Server(t, "SMTPSH_SOCKS_AUTH_PROXY", "127.0.0.1:11081", "microsocks with auth (proxy-lab.sh start)")
}
