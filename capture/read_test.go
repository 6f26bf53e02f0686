package capture

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/smtpsh/smtpsh/internal/pcapgen"
)

// genFile writes n generated conversations and returns the capture.
func genFile(t testing.TB, n int, opts pcapgen.Options) ([]byte, []pcapgen.Conv, pcapgen.Stats) {
	t.Helper()
	convs := genConvs(n, 3, 3000)
	var buf bytes.Buffer
	st, err := pcapgen.Write(&buf, convs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), convs, st
}

// TestBadInput: a broken file gives an error naming the file, the offset
// and the packet, and every connection decoded so far is still ended.
func TestBadInput(t *testing.T) {
	good, _, _ := genFile(t, 5, pcapgen.Options{})
	// offset of record k (0-based) in a little-endian µs pcap
	recOff := func(k int) int {
		off := 24
		for i := 0; i < k; i++ {
			off += 16 + int(binary.LittleEndian.Uint32(good[off+8:]))
		}
		return off
	}
	corrupt := func(k int, caplen uint32) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint32(b[recOff(k)+8:], caplen)
		return b
	}
	cases := []struct {
		name    string
		in      []byte
		wantErr string // substring of the error; "" = no error
		wantOff int
	}{
		{name: "empty", in: nil, wantErr: "only 0 bytes"},
		{name: "garbage", in: []byte("HELO this is not a capture file\r\n"), wantErr: "not a pcap or pcapng file"},
		{name: "truncated file header", in: good[:20], wantErr: "truncated pcap file header"},
		{name: "truncated in a record header", in: good[:recOff(30)+7], wantErr: "packet 31 at offset " + itoa(recOff(30)) + ": truncated record header"},
		{name: "truncated in a record", in: good[:recOff(30)+40], wantErr: "packet 31 at offset " + itoa(recOff(30)) + ": truncated record: 24 of"},
		{name: "record over 256 KiB", in: corrupt(20, 300000), wantErr: "packet 21 at offset " + itoa(recOff(20)) + ": corrupt record header: captured length 300000"},
		{name: "record over snap length", in: corrupt(20, 270000), wantErr: "captured length 270000"},
		{name: "gzip of garbage", in: gz([]byte("garbage garbage")), wantErr: "not a pcap or pcapng file"},
		{name: "truncated gzip", in: gz(good)[:len(gz(good))/2], wantErr: "bad-input"},
		{name: "whole file", in: good},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			_, err := DecodeReader(context.Background(), "bad-input", bytes.NewReader(tc.in), rec, Options{})
			rec.checkEnded(t)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "bad-input") {
				t.Fatalf("error %v, want one starting with the file name and containing %q", err, tc.wantErr)
			}
			if strings.Contains(tc.name, "truncated in") || strings.Contains(tc.name, "over") {
				var fe *FormatError
				if !errors.As(err, &fe) {
					t.Fatalf("error %T is not a *FormatError", err)
				}
				if len(rec.conns) == 0 {
					t.Errorf("no connection decoded before the bad record")
				}
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func gz(b []byte) []byte {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	w.Close()
	return z.Bytes()
}

// TestPcapngInterfaces: one pcapng file whose interfaces have different
// link types (Ethernet and raw IP), the packets of both mixed.
func TestPcapngInterfaces(t *testing.T) {
	eth, convs, st := genFile(t, 6, pcapgen.Options{Link: layers.LinkTypeEthernet})
	raw, _, _ := genFile(t, 6, pcapgen.Options{Link: layers.LinkTypeRaw})
	var out bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&out, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	rawID, err := w.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw, SnapLength: 65535})
	if err != nil {
		t.Fatal(err)
	}
	// the same conversations over both interfaces would be one
	// connection twice; alternate: even packets from eth, odd from raw
	re, _, _ := openRecords("eth", bytes.NewReader(eth))
	rr, _, _ := openRecords("raw", bytes.NewReader(raw))
	for i := 0; ; i++ {
		a, errA := re.next()
		b, errB := rr.next()
		if errA != nil || errB != nil {
			break
		}
		r, id := a, 0
		if i%2 == 1 {
			r, id = b, rawID
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, r.ts), CaptureLength: len(r.data), Length: r.origLen, InterfaceIndex: id}
		if err := w.WritePacket(ci, r.data); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	rec := newRecorder()
	ds, err := DecodeReader(context.Background(), "mixed.pcapng", &out, rec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Packets != st.Packets {
		t.Errorf("read %d packets, wrote %d", ds.Packets, st.Packets)
	}
	if len(ds.Skipped) != 0 {
		t.Errorf("skipped %v", ds.Skipped)
	}
	checkAgainst(t, rec, convs, st, pcapgen.Options{})
}

// TestDetect: SMTP on a port that is not an SMTP port is found from its
// content when Options.Detect is set, and other protocols are not taken.
func TestDetect(t *testing.T) {
	convs := genConvs(6, 9, 2000)
	for i := range convs {
		convs[i].Server = netip.AddrPortFrom(convs[i].Server.Addr(), 2526)
		convs[i].NoHandshake = i%2 == 1
	}
	r := rand.New(rand.NewPCG(1, 2))
	other := pcapgen.Conv{Client: mustAP("10.9.9.9:40000"), Server: mustAP("192.0.2.99:8080"), Start: convs[0].Start, End: "fin",
		Steps: []pcapgen.Step{{Dir: pcapgen.FromClient, Data: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")}, {Dir: pcapgen.FromServer, Data: randBytes(r, 5000)}}}
	greetOnly := pcapgen.Conv{Client: mustAP("10.9.9.8:40000"), Server: mustAP("192.0.2.98:8025"), Start: convs[0].Start, End: "fin",
		Steps: []pcapgen.Step{{Dir: pcapgen.FromServer, Data: []byte("220 hello\r\n")}, {Dir: pcapgen.FromClient, Data: []byte("GET / HTTP/1.0\r\n\r\n")}}}
	all := append(append([]pcapgen.Conv{}, convs...), other, greetOnly)
	var buf bytes.Buffer
	st, err := pcapgen.Write(&buf, all, pcapgen.Options{Interleave: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, detect := range []bool{false, true} {
		rec := newRecorder()
		ds, err := DecodeReader(context.Background(), "detect", bytes.NewReader(buf.Bytes()), rec, Options{Detect: detect})
		if err != nil {
			t.Fatal(err)
		}
		if ds.Conns != int64(len(all)) {
			t.Errorf("detect=%v: Conns %d, want %d", detect, ds.Conns, len(all))
		}
		if !detect {
			if len(rec.conns) != 0 {
				t.Errorf("without Detect, %d connections on port 2526 taken as SMTP", len(rec.conns))
			}
			continue
		}
		st.Gaps = st.Gaps[:len(convs)]
		checkAgainst(t, rec, convs, st, pcapgen.Options{})
	}
}

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestDecodeFiles: several files are one capture, in order, and "-" is
// standard input.
func TestDecodeFiles(t *testing.T) {
	data, convs, st := genFile(t, 8, pcapgen.Options{})
	dir := t.TempDir()
	// split after the record in the middle: the second half has no header,
	// so write two generated halves instead
	half := len(convs) / 2
	var a, b bytes.Buffer
	stA, _ := pcapgen.Write(&a, convs[:half], pcapgen.Options{})
	stB, _ := pcapgen.Write(&b, convs[half:], pcapgen.Options{Format: "pcapng"})
	_ = data
	pa, pb := filepath.Join(dir, "a.cap"), filepath.Join(dir, "b.dump")
	os.WriteFile(pa, a.Bytes(), 0o644)
	os.WriteFile(pb, gz(b.Bytes()), 0o644)
	rec := newRecorder()
	ds, err := Decode(context.Background(), []string{pa, pb}, rec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Files != 2 || ds.Packets != stA.Packets+stB.Packets {
		t.Errorf("Files %d Packets %d, want 2 and %d", ds.Files, ds.Packets, stA.Packets+stB.Packets)
	}
	st.Gaps = append(stA.Gaps, stB.Gaps...)
	checkAgainst(t, rec, convs, st, pcapgen.Options{})
	ids := map[int]bool{}
	for _, c := range rec.conns {
		ids[c.info.ID] = true
	}
	for id := 1; id <= len(convs); id++ {
		if !ids[id] {
			t.Errorf("no connection numbered %d across the two files", id)
		}
	}
	_, err = Decode(context.Background(), []string{filepath.Join(dir, "missing.pcap")}, newRecorder(), Options{})
	if err == nil || !strings.Contains(err.Error(), "missing.pcap") {
		t.Errorf("missing file: error %v", err)
	}
}
