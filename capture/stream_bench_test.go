package capture

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/pcapgen"
)

// countHandler is the trivial Handler of the benchmark: it counts bytes.
type countHandler struct{ n atomic.Int64 }

type countConn struct{ h *countHandler }

func (h *countHandler) Open(ConnInfo) Conn                  { return countConn{h} }
func (c countConn) Data(_ Direction, _ time.Time, p []byte) { c.h.n.Add(int64(len(p))) }
func (c countConn) Gap(Direction, time.Time, int64)         {}
func (c countConn) End(time.Time, string)                   {}

// benchCapture writes (once, cached in the temporary directory) a capture of
// about SMTPSH_BENCH_MB megabytes (default 32) of interleaved SMTP
// conversations with bodies up to 200 KB.
func benchCapture(b *testing.B) string {
	mb := 32
	if s := os.Getenv("SMTPSH_BENCH_MB"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			mb = v
		}
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("smtpsh-bench-%dMB.pcap", mb))
	if fi, err := os.Stat(path); err == nil && fi.Size() > int64(mb)<<20*9/10 {
		return path
	}
	// about 100 KB per conversation on average
	convs := genConvs(mb*11, 7, 200_000)
	f, err := os.Create(path + ".tmp")
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := pcapgen.Write(w, convs, pcapgen.Options{Interleave: true, Seed: 7}); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	if err := os.Rename(path+".tmp", path); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkDecode measures Decode of a generated capture with a Handler
// that only counts bytes: the cost of reading, decoding and reassembly.
func BenchmarkDecode(b *testing.B) {
	path := benchCapture(b)
	fi, _ := os.Stat(path)
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			for b.Loop() {
				h := &countHandler{}
				st, err := Decode(context.Background(), []string{path}, h, Options{Workers: workers, Detect: true})
				if err != nil {
					b.Fatal(err)
				}
				if st.SMTPConns == 0 || h.n.Load() == 0 {
					b.Fatalf("nothing decoded: %+v", st)
				}
			}
		})
	}
}
