package shell

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/transcripts"
)

// pipeDialer connects to a server that sends fixed bytes, then closes;
// what the client sends is read and dropped.
type pipeDialer struct{ server []byte }

func (d pipeDialer) Dial(context.Context, string) (net.Conn, error) {
	c, srv := net.Pipe()
	go func() {
		go io.Copy(io.Discard, srv)
		srv.Write(d.server)
		srv.Close()
	}()
	return c, nil
}

// FuzzSession feeds a whole session arbitrary server bytes. Invariants:
// Run returns; no control byte but LF reaches the output (escape sequences
// from the server are shown escaped); output grows at most linearly with
// the input; the transcript can be written.
func FuzzSession(f *testing.F) {
	f.Add([]byte("220 mx.example ESMTP\r\n250-mx.example\r\n250-AUTH LOGIN\r\n250 CHUNKING\r\n334 VXNlcm5hbWU6\r\n535 5.7.8 no\r\n354 go\r\n250 2.0.0 queued\r\n221 bye\r\n"))
	f.Add([]byte("220 evil \x1b[2J\x1b]0;title\x07\r\n250 \xff\xfe\r\n"))
	f.Add([]byte("220-first\r\n220-second\r\n220 third\r\n250-mx\r\n250-PIPELI"))
	f.Add([]byte("421 4.3.2 shutting down\r\n"))
	f.Add([]byte("220 ok\n250 bare LF\n"))
	f.Add([]byte("220 ok\r\n250-a\r\n251-b\r\n250 c\r\n"))
	kb, err := kbOnce()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, server []byte) {
		s, err := New(Config{Addr: "fuzz:25", KB: kb, Dialer: pipeDialer{server}, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		_ = s.Run(context.Background(), Lines(&out, ":raw on", "EHLO client.example", "AUTH LOGIN", "dXNlcg==", "MAIL FROM:<a@example.org>",
			"DATA", ".line", ".", ":info", ":explain", "QUIT"))
		for i, c := range out.Bytes() {
			if c < 0x20 && c != '\n' || c == 0x7f {
				t.Fatalf("control byte %#x at %d reached the output:\n%q", c, i, out.String())
			}
		}
		if max := 200*len(server) + 20000; out.Len() > max {
			t.Fatalf("%d bytes of output for %d bytes of input", out.Len(), len(server))
		}
		if err := transcripts.Write(io.Discard, s.Transcript(), transcripts.WriteOptions{Times: true}); err != nil {
			t.Fatalf("the transcript cannot be written: %v", err)
		}
	})
}
