package capture

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/smtpsh/smtpsh/internal/pcapgen"
)

// fuzzSeeds are small captures in each format and link type, and the first
// KiB of each public capture.
func fuzzSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, o := range []pcapgen.Options{
		{}, {Format: "pcapng", Link: layers.LinkTypeLinuxSLL2}, {Format: "pcap-modified", BigEndian: true},
		{Nano: true, Link: layers.LinkTypeNull, Loss: 0.3, Reorder: 0.3}, {Link: layers.LinkTypeRaw, Snaplen: 80},
		{VLAN: 5, QinQ: 6, Retransmit: 0.5, Overlap: 0.5, Interleave: true},
	} {
		b, _, _ := genFile(t, 2, o)
		// small seeds keep the fuzzer's minimization fast
		if len(b) > 2<<10 {
			b = b[:2<<10]
		}
		seeds = append(seeds, b, gz(b))
	}
	filepath.WalkDir(publicDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, ".pcap") && !strings.HasSuffix(p, ".txt") {
			if b, err := os.ReadFile(p); err == nil {
				seeds = append(seeds, b[:min(len(b), 1024)])
			}
		}
		return nil
	})
	return seeds
}

// TestWriteFuzzSeeds rewrites capture/testdata/fuzz/FuzzReadCapture when
// SMTPSH_WRITE_SEEDS=1 (the package's -update flag belongs to the
// conversation tests' golden files).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("SMTPSH_WRITE_SEEDS") != "1" {
		t.Skip("set SMTPSH_WRITE_SEEDS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReadCapture")
	os.MkdirAll(dir, 0o755)
	for i, s := range fuzzSeeds(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir = filepath.Join("testdata", "fuzz", "FuzzDecodePacket")
	os.MkdirAll(dir, 0o755)
	b, _, _ := genFile(t, 1, pcapgen.Options{})
	rr, _, _ := openRecords("seed", bytes.NewReader(b))
	for i := 0; i < 4; i++ {
		rec, err := rr.next()
		if err != nil {
			break
		}
		body := fmt.Sprintf("go test fuzz v1\nuint16(%d)\n[]byte(%q)\n", rec.link, rec.data)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644)
	}
}

// FuzzReadCapture: any bytes as a capture file never panic, every
// connection opened is ended once, and no more bytes come out than went in.
func FuzzReadCapture(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rec := newRecorder()
		st, _ := DecodeReader(context.Background(), "fuzz", bytes.NewReader(in), rec, Options{Detect: true, Workers: 2})
		rec.checkEnded(t)
		var out int
		for _, c := range rec.conns {
			out += len(c.data[0]) + len(c.data[1])
		}
		size := len(in)
		if len(in) > 2 && in[0] == 0x1f && in[1] == 0x8b {
			// decompressed: stream data comes from the capture inside
			if zr, err := gzip.NewReader(bytes.NewReader(in)); err == nil {
				n, _ := io.Copy(io.Discard, io.LimitReader(zr, 1<<30))
				size = int(n)
			}
		}
		if out > size {
			t.Errorf("%d bytes of stream data from %d bytes of capture", out, size)
		}
		if st.Bytes > int64(len(in)) {
			t.Errorf("Bytes %d > input %d", st.Bytes, len(in))
		}
	})
}

// FuzzDecodePacket: the header decoder never panics and the segment it
// finds lies inside the packet.
func FuzzDecodePacket(f *testing.F) {
	f.Add(uint16(layers.LinkTypeEthernet), []byte{})
	f.Add(uint16(layers.LinkTypeLinuxSLL2), make([]byte, 20))
	f.Add(uint16(101), []byte{0x45, 0, 0, 20})
	d := newPacketDecoder()
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		s, why := d.decode(layers.LinkType(link), data, len(data))
		if why != "" {
			return
		}
		if s.start < 0 || s.end < s.start || s.end > len(data) || s.end-s.start < 20 {
			t.Errorf("segment [%d:%d] in %d bytes", s.start, s.end, len(data))
		}
	})
}
