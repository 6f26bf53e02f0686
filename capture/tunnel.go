package capture

import (
	"bytes"
	"net"
	"strconv"
)

// An SMTP session through an HTTP proxy starts with the client's CONNECT
// request and the proxy's answer (RFC 9110 §9.3.6); after a 2xx answer the
// proxy relays bytes both ways and the connection carries SMTP as if it went
// to the target. The functions here read that preamble leniently (captures
// show spam tools writing "CONNECT host:25 / HTTP/1.0" and header lines
// without a colon) but bound it: the preamble must fit in detectLimit.

// maxTarget bounds the CONNECT target: a DNS name is at most 253 octets
// (RFC 1035 §2.3.4), a bracketed IPv6 literal with a zone less, and the
// port adds 6.
const maxTarget = 253 + 8

// headEnd returns the length of an HTTP message head in b, through the
// empty line that ends it (CRLF CRLF, RFC 9112 §2.1; a bare LF is taken as
// a line end, as RFC 9112 §2.2 allows a recipient to), or -1 if b does not
// hold the whole head yet.
func headEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
		if i >= len(b) || i+1 == len(b) && b[i] == '\r' {
			return -1
		}
	}
}

// firstLine returns the first line of a head without its line end.
func firstLine(head []byte) []byte {
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	return bytes.TrimSuffix(head, []byte{'\r'})
}

// parseConnect reads a CONNECT request (RFC 9110 §9.3.6: "CONNECT" SP
// authority-form SP HTTP-version) at the start of b. n is the length of the
// request through its empty line, 0 while it is incomplete; ok is false
// when b is not (the start of) a CONNECT request with a usable target.
func parseConnect(b []byte) (target string, port uint16, n int, ok bool) {
	const method = "CONNECT "
	if len(b) < len(method) {
		return "", 0, 0, bytes.HasPrefix([]byte(method), b)
	}
	if !bytes.HasPrefix(b, []byte(method)) { // method names are case-sensitive (RFC 9110 §9.1)
		return "", 0, 0, false
	}
	n = headEnd(b)
	if n < 0 {
		// the request line alone must be short: a target and a version
		if bytes.IndexByte(b, '\n') < 0 && len(b) > len(method)+maxTarget+32 {
			return "", 0, 0, false
		}
		return "", 0, 0, true
	}
	fields := bytes.Fields(firstLine(b[:n]))
	// "CONNECT target HTTP/1.1"; lenient about words between the target
	// and the version, strict that the last word is an HTTP version.
	if len(fields) < 3 || !bytes.HasPrefix(fields[len(fields)-1], []byte("HTTP/")) {
		return "", 0, 0, false
	}
	target = string(fields[1])
	port, ok = authorityPort(target)
	if !ok {
		return "", 0, 0, false
	}
	return target, port, n, true
}

// authorityPort checks an authority-form target, host ":" port (RFC 9112
// §3.2.3), and returns its port.
func authorityPort(target string) (uint16, bool) {
	if len(target) > maxTarget {
		return 0, false
	}
	host, p, err := net.SplitHostPort(target)
	if err != nil || host == "" {
		return 0, false
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil || port == 0 {
		return 0, false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == ':' || c == '%') {
			return 0, false
		}
	}
	return uint16(port), true
}

// parseConnectReply reads the proxy's answer at the start of b: its status
// code and the length of its head (status line and header fields through
// the empty line), 0 while incomplete. A 2xx answer to CONNECT has no body
// (RFC 9110 §9.3.6), so the tunnel's bytes follow the head at once. ok is
// false when b is not an HTTP/1.x status line.
func parseConnectReply(b []byte) (status, n int, ok bool) {
	const version = "HTTP/1."
	if len(b) < len(version) {
		return 0, 0, bytes.HasPrefix([]byte(version), b)
	}
	if !bytes.HasPrefix(b, []byte(version)) {
		return 0, 0, false
	}
	n = headEnd(b)
	if n < 0 {
		return 0, 0, true
	}
	// RFC 9112 §4: HTTP-version SP 3DIGIT SP [ reason-phrase ]
	line := firstLine(b[:n])
	if len(line) < 12 || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return 0, 0, false
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil || code < 100 {
		return 0, 0, false
	}
	return code, n, true
}
