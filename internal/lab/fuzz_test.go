package lab

import (
	"bytes"
	"crypto/tls"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab/store"
	"github.com/smtpsh/smtpsh/internal/smtp"
)

// scriptConn is a net.Conn whose reads come from a fixed input and then
// io.EOF, and whose writes are kept: a session over it runs to its end at
// once, so the fuzzer gets thousands of sessions a second instead of
// waiting for a timeout on each.
type scriptConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *scriptConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *scriptConn) Close() error                { return nil }
func (c *scriptConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25} }
func (c *scriptConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzSession feeds random and malformed command streams to a session.
// Invariants: no panic; every reply line is well-formed (RFC 5321 §4.2,
// checked by smtp.ParseReplyLine) and ends in CRLF; the session ends when
// its input does; no session stays active and goroutines do not pile up.
// STARTTLS is offered, so the fuzzer also reaches the TLS handshake with
// whatever bytes follow it.
func FuzzSession(f *testing.F) {
	for _, seed := range []string{
		"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<alice@lab.smtpsh.test>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
		"HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<team@lab.smtpsh.test>\r\nBDAT 3 LAST\r\nabcQUIT\r\n",
		"EHLO x\r\nAUTH PLAIN\r\n*\r\nAUTH LOGIN\r\nYWxpY2U=\r\nd29uZGVybGFuZA==\r\n",
		"EHLO x\r\nSTARTTLS\r\nMAIL FROM:<a@b>\r\n",
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<alice@lab.smtpsh.test>\r\nDATA\r\nx\n.\nRSET\r\n\r.\r\n.\r\n",
		"EHLO x\r\nMAIL FROM:<a@b> SIZE=99999999999999999999999\r\nBDAT 18446744073709551615\r\n",
		"VRFY \xff\xfe\r\nEXPN team\r\nETRN #q\r\nHELP\r\nNOOP x\r\n\x16\x03\x01\x00",
		"mail from: <a@b>\nrcpt to:alice\n" + strings.Repeat("x", 5000) + "\r\n",
	} {
		f.Add([]byte(seed), uint8(0))
	}
	cert, err := testCert()
	if err != nil {
		f.Fatal(err)
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}}
	profiles := map[uint8]*Profile{}
	for i, n := range ProfileNames() {
		p, err := LoadProfile(n)
		if err != nil {
			f.Fatal(err)
		}
		p.Limits.ErrorDelay = 0 // the tarpit would only slow the fuzzer
		p.Limits.MessageSize = 64 << 10
		profiles[uint8(i)] = p
	}
	base := runtime.NumGoroutine()
	f.Fuzz(func(t *testing.T, input []byte, which uint8) {
		p := profiles[which%uint8(len(profiles))]
		st, _ := store.New("")
		srv, err := New(Config{Profile: p, Store: st, TLS: tlsConfig})
		if err != nil {
			t.Fatal(err)
		}
		conn := &scriptConn{in: bytes.NewReader(input)}
		srv.serveConn(conn)
		out := conn.out.String()
		for out != "" {
			line, rest, ok := strings.Cut(out, "\r\n")
			if !ok {
				t.Fatalf("reply line %q does not end in CRLF", out)
			}
			if _, perr := smtp.ParseReplyLine(line); perr != nil {
				t.Fatalf("malformed reply line %q: %v", line, perr)
			}
			out = rest
		}
		if n := srv.ActiveSessions(); n != 0 {
			t.Fatalf("%d sessions still active", n)
		}
		if g := runtime.NumGoroutine(); g > base+50 {
			time.Sleep(100 * time.Millisecond)
			if g = runtime.NumGoroutine(); g > base+50 {
				t.Fatalf("%d goroutines, %d at the start: a leak", g, base)
			}
		}
	})
}
