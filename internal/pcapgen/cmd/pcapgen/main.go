// Command pcapgen writes a generated capture of SMTP sessions for smtpsh's
// capture benchmark (.ci/bench-capture.sh): realistic sessions (pipelining,
// AUTH, BDAT, STARTTLS, some through an HTTP CONNECT proxy) interleaved by
// time, until the file reaches the size asked for.
//
//	go run ./internal/pcapgen/cmd/pcapgen -mb 300 -o /tmp/bench.pcap
//
// The sessions are made and written a few hundred at a time, so memory
// stays small whatever the size; the output is the same for the same flags.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"time"

	"github.com/smtpsh/smtpsh/internal/pcapgen"
)

func main() {
	out := flag.String("o", "", "output file (required); written to FILE.tmp, then renamed")
	mb := flag.Int("mb", 300, "size of the capture in MB (10^6 bytes), at least")
	maxBody := flag.Int("max-body", 200_000, "largest message body in bytes; sizes are uniform up to it")
	seed := flag.Uint64("seed", 7, "random seed")
	tunnels := flag.Int("tunnel-every", 50, "every Nth session goes through an HTTP CONNECT proxy (0: none)")
	mss := flag.Int("mss", 1460, "largest TCP payload: smaller makes more, smaller packets")
	flag.Parse()
	if *out == "" || *mb <= 0 || *maxBody <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	n, size, err := write(*out, int64(*mb)*1e6, *maxBody, *seed, *tunnels, *mss)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pcapgen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "pcapgen: %s: %d sessions, %d bytes\n", *out, n, size)
}

// batchConvs is how many sessions are made at once: they interleave with
// each other, and memory holds only them.
const batchConvs = 100

func write(path string, target int64, maxBody int, seed uint64, tunnelEvery, mss int) (int, int64, error) {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	cw := &countWriter{w: bw}
	r := rand.New(rand.NewPCG(seed, 1))
	start := time.Date(2026, 11, 25, 19, 10, 0, 0, time.UTC)
	proxy := netip.MustParseAddrPort("198.51.100.8:3128")
	i := 0
	for cw.n < target {
		convs := make([]pcapgen.Conv, batchConvs)
		for k := range convs {
			c := pcapgen.SMTPConversation(i, r, start.Add(time.Duration(i)*10*time.Millisecond), maxBody)
			if tunnelEvery > 0 && i%tunnelEvery == tunnelEvery-1 {
				target := c.Server.String()
				req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n"
				c = pcapgen.Tunnel(c, proxy, req, "HTTP/1.1 200 Connection established\r\n\r\n", i%2 == 0)
			}
			convs[k] = c
			i++
		}
		// Every batch after the first is written without its file
		// header: the records continue the first batch's file.
		var w io.Writer = cw
		if i > batchConvs {
			w = &skipWriter{w: cw, skip: 24}
		}
		if _, err := pcapgen.Write(w, convs, pcapgen.Options{Interleave: true, Seed: seed + uint64(i), MSS: mss}); err != nil {
			return i, cw.n, err
		}
	}
	if err := bw.Flush(); err != nil {
		return i, cw.n, err
	}
	if err := f.Close(); err != nil {
		return i, cw.n, err
	}
	return i, cw.n, os.Rename(path+".tmp", path)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// skipWriter drops the first skip bytes written: a pcap file header (24
// bytes, pcap-savefile(5)).
type skipWriter struct {
	w    io.Writer
	skip int
}

func (s *skipWriter) Write(p []byte) (int, error) {
	n := len(p)
	if s.skip > 0 {
		k := min(s.skip, len(p))
		s.skip -= k
		p = p[k:]
	}
	if len(p) > 0 {
		if _, err := s.w.Write(p); err != nil {
			return 0, err
		}
	}
	return n, nil
}
