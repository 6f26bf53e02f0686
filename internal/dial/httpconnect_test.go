package dial

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestReadProxyResponse reads answers to CONNECT as real proxies word them
// and as broken or wrong peers do.
func TestReadProxyResponse(t *testing.T) {
	const banner = "220 mail.example.com ESMTP Postfix\r\n"
	cases := []struct {
		name   string
		in     string
		status int
		reason string
		err    string // substring of the error, "" for none
		errEOF error  // io.EOF / io.ErrUnexpectedEOF
	}{
		// tinyproxy 1.11 (src/reqs.c): HTTP/1.0 with its Proxy-agent field,
		// and the banner in the same read.
		{name: "tinyproxy", in: "HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n" + banner, status: 200, reason: "Connection established"},
		// Squid 6: HTTP/1.1 and no fields.
		{name: "squid", in: "HTTP/1.1 200 Connection established\r\n\r\n" + banner, status: 200, reason: "Connection established"},
		// RFC 9112 §4: the reason phrase may be empty, the SP before it not.
		{name: "empty-reason", in: "HTTP/1.1 200 \r\n\r\n" + banner, status: 200},
		{name: "no-reason-no-space", in: "HTTP/1.1 200\r\n\r\n" + banner, status: 200},
		// RFC 9112 §2.2: a recipient MAY accept a bare LF.
		{name: "bare-lf", in: "HTTP/1.1 200 OK\nVia: 1.1 proxy\n\n" + banner, status: 200, reason: "OK"},
		// Apache mod_proxy refusing a port not in AllowCONNECT.
		{name: "apache-403", in: "HTTP/1.1 403 Forbidden\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Length: 199\r\n\r\n<!DOCTYPE HTML", status: 403, reason: "Forbidden"},
		{name: "squid-407", in: "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"Squid\"\r\n\r\n", status: 407, reason: "Proxy Authentication Required"},
		{name: "tab-in-value", in: "HTTP/1.1 502 Bad Gateway\r\nX-Squid-Error:\tERR_CONNECT_FAIL 111\r\n\r\n", status: 502, reason: "Bad Gateway"},

		{name: "empty", in: "", errEOF: io.EOF},
		{name: "closed-in-status", in: "HTTP/1.1 200 Conn", errEOF: io.ErrUnexpectedEOF},
		{name: "closed-in-header", in: "HTTP/1.0 200 OK\r\nProxy-agent: x\r\n", errEOF: io.ErrUnexpectedEOF},
		{name: "smtp-server", in: banner, err: "byte 0: not an HTTP response"},
		{name: "ssh-server", in: "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", err: "byte 0: not an HTTP response"},
		{name: "http2", in: "HTTP/2 200\r\n\r\n", err: "malformed status line"},
		{name: "http-0.9-version", in: "HTTP/0.9 200 OK\r\n\r\n", err: "unsupported HTTP version"},
		{name: "two-digit-code", in: "HTTP/1.1 20 OK\r\n\r\n", err: "status code is not three digits"},
		{name: "letter-code", in: "HTTP/1.1 2x0 OK\r\n\r\n", err: "byte 10: status code is not three digits"},
		{name: "code-below-100", in: "HTTP/1.1 099 Low\r\n\r\n", err: "status code below 100"},
		{name: "no-space-after-code", in: "HTTP/1.1 200OK\r\n\r\n", err: "byte 12: no space"},
		{name: "escape-in-reason", in: "HTTP/1.1 200 \x1b[31mOK\r\n\r\n", err: "byte 13: control byte in the reason phrase"},
		{name: "folded-field", in: "HTTP/1.1 200 OK\r\nVia: a\r\n b\r\n\r\n", err: "obsolete line folding"},
		{name: "field-without-colon", in: "HTTP/1.1 200 OK\r\nnonsense\r\n\r\n", err: "without a name and colon"},
		{name: "space-in-name", in: "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", err: "byte 20: invalid byte in a header field name"},
		{name: "nul-in-value", in: "HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", err: "byte 21: control byte in a header field value"},
		{name: "long-line", in: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxProxyLine) + "\r\n\r\n", err: "line longer than 4096 bytes"},
		{name: "too-many-fields", in: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: y\r\n", maxProxyFields+1) + "\r\n", err: "more than 100 header fields"},
		{name: "huge-header", in: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: "+strings.Repeat("y", 4000)+"\r\n", 9) + "\r\n", err: "header longer than 32768 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.in), maxProxyLine)
			resp, err := readProxyResponse(br)
			switch {
			case tc.errEOF != nil:
				if !errors.Is(err, tc.errEOF) {
					t.Fatalf("err = %v, want %v", err, tc.errEOF)
				}
				return
			case tc.err != "":
				var pe *ProxyResponseError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want a *ProxyResponseError with %q", err, tc.err)
				}
				return
			case err != nil:
				t.Fatalf("err = %v", err)
			}
			if resp.Status != tc.status || resp.Reason != tc.reason {
				t.Errorf("status %d %q, want %d %q", resp.Status, resp.Reason, tc.status, tc.reason)
			}
			rest, _ := io.ReadAll(br)
			if got, want := string(rest), tc.in[resp.Size:]; got != want {
				t.Errorf("left %q after the head, want %q", got, want)
			}
			if !strings.HasSuffix(tc.in[:resp.Size], "\n\n") && !strings.HasSuffix(tc.in[:resp.Size], "\r\n\r\n") {
				t.Errorf("head %q does not end at the blank line", tc.in[:resp.Size])
			}
		})
	}
}

// TestConnectRequest checks the request line, Host and the Basic
// credentials of RFC 7617 §2's example (Aladdin, "open sesame").
func TestConnectRequest(t *testing.T) {
	p, err := parseProxy("http://Aladdin:open%20sesame@proxy.example:3128")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ target, want string }{
		{"mail.example.com:25", "CONNECT mail.example.com:25 HTTP/1.1\r\nHost: mail.example.com:25\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"},
		// RFC 9112 §3.2.3: authority-form, so an IPv6 host keeps its brackets.
		{"[2001:db8::25]:587", "CONNECT [2001:db8::25]:587 HTTP/1.1\r\nHost: [2001:db8::25]:587\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"},
	}
	for _, tc := range cases {
		if got := string(connectRequest(tc.target, p)); got != tc.want {
			t.Errorf("connectRequest(%s) = %q, want %q", tc.target, got, tc.want)
		}
	}
	anon, _ := parseProxy("http://proxy.example:3128")
	if got := string(connectRequest("10.129.14.128:25", anon)); got != "CONNECT 10.129.14.128:25 HTTP/1.1\r\nHost: 10.129.14.128:25\r\n\r\n" {
		t.Errorf("without credentials: %q", got)
	}
}

// FuzzProxyResponse checks that any answer is read without panic, that a
// head is bounded and that what follows it is left intact for SMTP.
func FuzzProxyResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n220 mx ESMTP\r\n"))
	f.Add([]byte("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"Squid\"\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200\n\n"))
	f.Add([]byte("SSH-2.0-OpenSSH_9.2p1\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), maxProxyLine)
		resp, err := readProxyResponse(br)
		if err != nil {
			if resp == nil && len(data) == 0 && !errors.Is(err, io.EOF) {
				t.Fatalf("empty input: %v", err)
			}
			return
		}
		if resp.Status < 100 || resp.Status > 999 || (resp.Proto != "HTTP/1.0" && resp.Proto != "HTTP/1.1") {
			t.Fatalf("accepted %q as status %d", resp.Proto, resp.Status)
		}
		if resp.Size > maxProxyHeader || resp.Size > len(data) || resp.Fields > maxProxyFields {
			t.Fatalf("head of %d bytes and %d fields from %d bytes", resp.Size, resp.Fields, len(data))
		}
		if !bytes.HasPrefix(data, []byte(resp.StatusLine)) {
			t.Fatalf("status line %q is not the start of the input", resp.StatusLine)
		}
		rest, _ := io.ReadAll(br)
		if !bytes.Equal(rest, data[resp.Size:]) {
			t.Fatalf("left %q, want %q", rest, data[resp.Size:])
		}
	})
}

// BenchmarkReadProxyResponse reads tinyproxy's answer and the banner.
func BenchmarkReadProxyResponse(b *testing.B) {
	in := []byte("HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n")
	r := bytes.NewReader(in)
	br := bufio.NewReaderSize(r, maxProxyLine)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(in)
		br.Reset(r)
		if _, err := readProxyResponse(br); err != nil {
			b.Fatal(err)
		}
	}
}
