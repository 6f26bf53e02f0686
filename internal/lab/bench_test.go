package lab

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLabMessages sends b.N messages through the lab over loopback
// from parallel clients, each a pipelined MAIL, RCPT, DATA batch on a kept
// connection, as smtp-source does, and reports messages/s.
func BenchmarkLabMessages(b *testing.B) {
	l := startLab(b, "default", labOptions{noTLS: true})
	body := "Subject: bench\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 16) + ".\r\n"
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var sent atomic.Int64
	b.SetParallelism(4) // 4×GOMAXPROCS clients
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := net.Dial("tcp", l.addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		expect := func(prefix string) bool {
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					b.Error(err)
					return false
				}
				if len(line) > 3 && line[3] == '-' {
					continue
				}
				if !strings.HasPrefix(line, prefix) {
					b.Errorf("got %q, want %s", line, prefix)
					return false
				}
				return true
			}
		}
		if !expect("220") {
			return
		}
		fmt.Fprintf(conn, "EHLO bench.example\r\n")
		if !expect("250") {
			return
		}
		for pb.Next() {
			fmt.Fprintf(conn, "MAIL FROM:<bench@example.org>\r\nRCPT TO:<bob@lab.smtpsh.test>\r\nDATA\r\n")
			for _, want := range [...]string{"250", "250", "354"} {
				if !expect(want) {
					return
				}
			}
			conn.Write([]byte(body))
			if !expect("250 2.0.0 Ok: queued as") {
				return
			}
			sent.Add(1)
		}
		fmt.Fprintf(conn, "QUIT\r\n")
	})
	b.StopTimer()
	b.ReportMetric(float64(sent.Load())/time.Since(start).Seconds(), "messages/s")
}
