package lab

import (
	"bufio"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab/store"
	"github.com/smtpsh/smtpsh/internal/smtp"
)

// FuzzSession feeds random and malformed command streams to a session over
// net.Pipe. Invariants: no panic; every reply line is well-formed (RFC
// 5321 §4.2, checked by smtp.ParseReplyLine); the session ends once the
// client is gone; goroutines do not pile up.
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
	profiles := map[uint8]*Profile{}
	for i, n := range ProfileNames() {
		p, err := LoadProfile(n)
		if err != nil {
			f.Fatal(err)
		}
		// A session whose input ran out ends by timeout: keep it short
		// so that each run takes milliseconds.
		p.Limits.CommandTimeout = 20 * time.Millisecond
		p.Limits.DataTimeout = 20 * time.Millisecond
		p.Limits.ErrorDelay = 0
		p.Limits.MessageSize = 64 << 10
		profiles[uint8(i)] = p
	}
	base := runtime.NumGoroutine()
	f.Fuzz(func(t *testing.T, input []byte, which uint8) {
		p := profiles[which%uint8(len(profiles))]
		st, _ := store.New("")
		srv, err := New(Config{Profile: p, Store: st})
		if err != nil {
			t.Fatal(err)
		}
		cconn, sconn := net.Pipe()
		done := make(chan struct{})
		go func() {
			srv.serveConn(sconn)
			close(done)
		}()
		go func() {
			cconn.Write(input)
			// Leave the rest to the server's timeout or the close below.
		}()
		cconn.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(cconn)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				if !strings.HasSuffix(line, "\r\n") {
					t.Fatalf("reply line %q does not end in CRLF", line)
				}
				if _, perr := smtp.ParseReplyLine(strings.TrimSuffix(line, "\r\n")); perr != nil {
					t.Fatalf("malformed reply line %q: %v", line, perr)
				}
			}
			if err != nil {
				if err != io.EOF {
					// The session is still waiting for input: end it.
					cconn.Close()
				}
				break
			}
		}
		cconn.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("session did not end after the client closed")
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
