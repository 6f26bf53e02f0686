package dial

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/smtpsh/smtpsh/internal/render"
)

// Limits on a proxy's answer to CONNECT. The answer is a status line and
// header fields only (RFC 9110 §9.3.6: a 2xx has no body); these are far
// above what tinyproxy or Squid send and keep a hostile proxy from making us
// buffer without end.
const (
	// maxProxyLine is the longest status or header line, ending included;
	// also the size of the buffered reader, so one line always fits.
	maxProxyLine = 4096
	// maxProxyHeader bounds the whole answer header.
	maxProxyHeader = 32 << 10
	// maxProxyFields bounds the number of header fields.
	maxProxyFields = 100
)

// proxyResponse is the head of a proxy's answer to CONNECT.
type proxyResponse struct {
	Proto      string // "HTTP/1.0" or "HTTP/1.1"
	Status     int    // 100 to 999
	Reason     string
	StatusLine string // as received, without the line ending
	Fields     int    // number of header fields
	Size       int    // bytes of the head, blank line included
}

// ProxyResponseError is a proxy answer that is not an HTTP/1.x response
// head. Offset is the 0-based byte offset in the answer where it went wrong.
type ProxyResponseError struct {
	Offset int
	Msg    string
}

// Error says where and what went wrong, e.g. "byte 0: not an HTTP response".
func (e *ProxyResponseError) Error() string {
	return fmt.Sprintf("byte %d: %s", e.Offset, e.Msg)
}

// readProxyResponse reads the head of an HTTP/1.x response from br and
// leaves whatever follows it in br (the SMTP server's banner, often).
//
// Accepted (RFC 9112 §4 and §5): a status line "HTTP/1.0" or "HTTP/1.1",
// SP, three digits, SP and an optional reason phrase (the SP may be missing
// when the reason is empty); header fields "name: value" with a token name;
// and an empty line. Lines end in CRLF or a bare LF (RFC 9112 §2.2 lets a
// recipient accept LF alone). Obsolete line folding (a field line starting
// with SP or HTAB) is rejected, as RFC 9112 §5.2 allows outside message/http.
// Control bytes other than HTAB in a line are rejected. br must be at least
// maxProxyLine big.
func readProxyResponse(br *bufio.Reader) (*proxyResponse, error) {
	resp := &proxyResponse{}
	line, err := readProxyLine(br, resp)
	if err != nil {
		return nil, err
	}
	if err := parseStatusLine(line, resp); err != nil {
		return resp, err // resp.StatusLine says what the peer sent instead
	}
	for {
		start := resp.Size
		line, err := readProxyLine(br, resp)
		if err != nil {
			return resp, err
		}
		if len(line) == 0 {
			return resp, nil
		}
		if resp.Fields++; resp.Fields > maxProxyFields {
			return resp, &ProxyResponseError{Offset: start, Msg: fmt.Sprintf("more than %d header fields", maxProxyFields)}
		}
		if err := checkField(line); err != nil {
			err.Offset += start
			return resp, err
		}
	}
}

// readProxyLine returns the next line without its ending and counts it in
// resp.Size.
func readProxyLine(br *bufio.Reader, resp *proxyResponse) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, &ProxyResponseError{Offset: resp.Size, Msg: fmt.Sprintf("line longer than %d bytes", maxProxyLine)}
	case errors.Is(err, io.EOF):
		if resp.Size == 0 && len(line) == 0 {
			return nil, io.EOF
		}
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	resp.Size += len(line)
	if resp.Size > maxProxyHeader {
		return nil, &ProxyResponseError{Offset: resp.Size - len(line), Msg: fmt.Sprintf("header longer than %d bytes", maxProxyHeader)}
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseStatusLine parses RFC 9112 §4's
// status-line = HTTP-version SP status-code SP [ reason-phrase ].
func parseStatusLine(line []byte, resp *proxyResponse) error {
	resp.StatusLine = string(line)
	if !bytes.HasPrefix(line, []byte("HTTP/")) {
		return &ProxyResponseError{Offset: 0, Msg: "not an HTTP response (no HTTP/ version)"}
	}
	if len(line) < 12 || line[6] != '.' || line[8] != ' ' {
		return &ProxyResponseError{Offset: 0, Msg: "malformed status line"}
	}
	resp.Proto = string(line[:8])
	if resp.Proto != "HTTP/1.0" && resp.Proto != "HTTP/1.1" {
		return &ProxyResponseError{Offset: 5, Msg: fmt.Sprintf("unsupported HTTP version %s", render.Escape(resp.Proto))}
	}
	code := 0
	for i := 9; i < 12; i++ {
		c := line[i]
		if c < '0' || c > '9' {
			return &ProxyResponseError{Offset: i, Msg: "status code is not three digits"}
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 {
		return &ProxyResponseError{Offset: 9, Msg: "status code below 100"}
	}
	rest := line[12:]
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return &ProxyResponseError{Offset: 12, Msg: "no space after the status code"}
		}
		rest = rest[1:]
	}
	// reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
	for i, c := range rest {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return &ProxyResponseError{Offset: 13 + i, Msg: "control byte in the reason phrase"}
		}
	}
	resp.Status, resp.Reason = code, string(rest)
	return nil
}

// checkField checks field-line = field-name ":" OWS field-value OWS
// (RFC 9112 §5) without keeping it: nothing in a CONNECT answer's fields
// changes what we do (RFC 9110 §9.3.6: a client MUST ignore Content-Length
// and Transfer-Encoding in a 2xx answer to CONNECT).
func checkField(line []byte) *ProxyResponseError {
	if line[0] == ' ' || line[0] == '\t' {
		return &ProxyResponseError{Msg: "obsolete line folding in a header field"}
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return &ProxyResponseError{Msg: "header field without a name and colon"}
	}
	for i, c := range line[:colon] {
		if !isTokenChar(c) {
			return &ProxyResponseError{Offset: i, Msg: "invalid byte in a header field name"}
		}
	}
	for i, c := range line[colon+1:] {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return &ProxyResponseError{Offset: colon + 1 + i, Msg: "control byte in a header field value"}
		}
	}
	return nil
}

// isTokenChar reports whether c is a tchar (RFC 9110 §5.6.2).
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// connectRequest is the CONNECT request for target (host:port, IPv6 in
// brackets), in authority-form (RFC 9112 §3.2.3) with the Host field RFC
// 9112 §3.2 requires, and Basic credentials (RFC 9110 §11.7.1, RFC 7617)
// when the proxy URL had any.
func connectRequest(target string, p *proxySpec) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", target, target)
	if p.hasAuth {
		cred := base64.StdEncoding.EncodeToString([]byte(p.user + ":" + p.password))
		b.WriteString("Proxy-Authorization: Basic " + cred + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// ProxyError is a proxy that did not open the tunnel. It names the proxy
// without its password and, for an HTTP proxy that answered, its status
// line (escaped).
type ProxyError struct {
	Proxy      *Hop   // the proxy, without password
	Target     string // host:port asked for
	Status     int    // HTTP status, 0 for SOCKS or no answer
	StatusLine string // raw status line as received ("" if none)
	Reason     string // what it means, for people
	Err        error  // underlying error, if any
}

// Error names the proxy (no password), the target, the escaped status line
// and what it means.
func (e *ProxyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "proxy %s", e.Proxy)
	if e.Target != "" {
		fmt.Fprintf(&b, " (CONNECT to %s)", render.Escape(e.Target))
	}
	if e.StatusLine != "" {
		fmt.Fprintf(&b, " answered \"%s\"", render.Escape(truncate(e.StatusLine, 200)))
	}
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *ProxyError) Unwrap() error { return e.Err }

// truncate shortens s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// statusReason explains a proxy's refusal so the user knows what to try.
func statusReason(status int, p *proxySpec) string {
	switch {
	// RFC 9110 §15.5.8: a proxy asks for credentials with 407; tinyproxy
	// answers 401 instead, so both mean the same here.
	case (status == 407 || status == 401) && p.hasAuth:
		return "the proxy rejected the credentials in the proxy URL (check the user and password)"
	case status == 407 || status == 401:
		return "the proxy needs credentials: put them in the URL, http://user:pass@host:port"
	case status == 403:
		return "the proxy forbids this destination (many proxies allow CONNECT only to port 443; tinyproxy's ConnectPort, Squid's SSL_ports)"
	case status == 405 || status == 501:
		return "the proxy does not support CONNECT"
	case status == 500 || status == 502 || status == 504:
		return "the proxy could not connect to the server (is it listening there?)"
	case status == 503:
		return "the proxy could not reach the server or is overloaded"
	case status >= 200 && status < 300:
		return ""
	default:
		return "the proxy refused the tunnel"
	}
}
