package shell

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
)

// submission is a whole scripted message submission to the lab.
var submission = []string{"EHLO client.example", "MAIL FROM:<student@example.org>", "RCPT TO:<alice@lab.smtpsh.test>",
	"DATA", "Subject: bench", "", "hello", ".", "QUIT"}

// wireBytes is the size of what a transcript carried both ways, with CRLF.
func wireBytes(s *Session) int64 {
	var n int64
	for _, e := range s.Transcript().Events {
		n += int64(len(e.Text) + 2)
	}
	return n
}

// BenchmarkSessionSubmission runs a whole scripted session (connect,
// EHLO, MAIL, RCPT, DATA, QUIT) against the in-process lab, with
// explanations, output discarded.
func BenchmarkSessionSubmission(b *testing.B) {
	addr, _ := startLab(b, "default")
	kb, err := kbOnce()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s, err := New(Config{Addr: addr, KB: kb})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Run(context.Background(), Lines(io.Discard, submission...)); err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			b.SetBytes(wireBytes(s))
		}
	}
}

// BenchmarkSessionNOOP measures one command round trip through the shell
// (send, read, explain, print); BenchmarkRawNOOP is the same round trip
// with a bare TCP client, so the difference is the shell's cost.
func BenchmarkSessionNOOP(b *testing.B) {
	addr, _ := startLab(b, "default")
	kb, err := kbOnce()
	if err != nil {
		b.Fatal(err)
	}
	lines := make([]string, b.N)
	for i := range lines {
		lines[i] = "NOOP"
	}
	s, err := New(Config{Addr: addr, KB: kb})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len("NOOP\r\n250 2.0.0 Ok\r\n")))
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Run(context.Background(), Lines(io.Discard, lines...)); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkRawNOOP(b *testing.B) {
	addr, _ := startLab(b, "default")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if _, err := br.ReadString('\n'); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len("NOOP\r\n250 2.0.0 Ok\r\n")))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := io.WriteString(c, "NOOP\r\n"); err != nil {
			b.Fatal(err)
		}
		l, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(l, "250") {
			b.Fatalf("%q %v", l, err)
		}
	}
}
