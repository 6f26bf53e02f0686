package capture

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/smtpsh/smtpsh/internal/pcapgen"
)

// genConvs makes n SMTP conversations starting 10 ms apart.
func genConvs(n int, seed uint64, maxBody int) []pcapgen.Conv {
	r := rand.New(rand.NewPCG(seed, 1))
	start := time.Date(2026, 11, 25, 19, 10, 0, 0, time.UTC)
	convs := make([]pcapgen.Conv, n)
	for i := range convs {
		convs[i] = pcapgen.SMTPConversation(i, r, start.Add(time.Duration(i)*10*time.Millisecond), maxBody)
	}
	return convs
}

// expect is what a conversation's bytes must look like after reassembly:
// the generator's input without the runs it left out of the capture.
func expect(c pcapgen.Conv, gaps [2][]pcapgen.Gap) (data [2][]byte, want [2][]gapAt) {
	var all [2][]byte
	for _, s := range c.Steps {
		all[s.Dir] = append(all[s.Dir], s.Data...)
	}
	for d := range 2 {
		var off int64
		for _, g := range gaps[d] {
			data[d] = append(data[d], all[d][off:g.Off]...)
			off = g.Off + g.N
			// a run missing at the very end is invisible: nothing
			// follows it to show the hole
			if off < int64(len(all[d])) {
				want[d] = append(want[d], gapAt{off: len(data[d]), n: g.N})
			}
		}
		data[d] = append(data[d], all[d][off:]...)
	}
	return data, want
}

// checkAgainst compares the decoded connections with the generator's input.
func checkAgainst(t *testing.T, rec *recorder, convs []pcapgen.Conv, st pcapgen.Stats, opts pcapgen.Options) {
	t.Helper()
	rec.checkEnded(t)
	byClient := map[netip.AddrPort]*recConn{}
	for _, c := range rec.conns {
		byClient[c.info.Client] = c
	}
	if len(rec.conns) != len(convs) {
		t.Errorf("decoded %d SMTP connections, wrote %d", len(rec.conns), len(convs))
	}
	for i, cv := range convs {
		c := byClient[cv.Client]
		if c == nil {
			t.Errorf("conversation %d (%v → %v) not decoded", i, cv.Client, cv.Server)
			continue
		}
		if c.info.Server != cv.Server {
			t.Errorf("conversation %d: server %v, want %v", i, c.info.Server, cv.Server)
		}
		if c.info.SawSYN == cv.NoHandshake {
			t.Errorf("conversation %d: SawSYN %v with NoHandshake %v", i, c.info.SawSYN, cv.NoHandshake)
		}
		data, gaps := expect(cv, st.Gaps[i])
		for d := range 2 {
			if !bytes.Equal(c.data[d], data[d]) {
				t.Errorf("conversation %d %v: got %d bytes, want %d (first difference at %d)", i, Direction(d), len(c.data[d]), len(data[d]), firstDiff(c.data[d], data[d]))
			}
			if fmt.Sprint(c.gaps[d]) != fmt.Sprint(gaps[d]) {
				t.Errorf("conversation %d %v: gaps %v, want %v", i, Direction(d), c.gaps[d], gaps[d])
			}
		}
		if want := cv.End; want != "" && c.ended != want {
			t.Errorf("conversation %d: ended %q, want %q", i, c.ended, want)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestGenerated writes captures in every format and link type the reader
// knows, with and without faults on the wire, and checks every byte.
func TestGenerated(t *testing.T) {
	v6 := func(convs []pcapgen.Conv) []pcapgen.Conv {
		for i := range convs {
			c := &convs[i]
			c.Client = netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)}), c.Client.Port())
			c.Server = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::25"), c.Server.Port())
		}
		return convs
	}
	noHS := func(convs []pcapgen.Conv) []pcapgen.Conv {
		for i := range convs {
			convs[i].NoHandshake = i%2 == 0
		}
		return convs
	}
	rst := func(convs []pcapgen.Conv) []pcapgen.Conv {
		for i := range convs {
			if i%3 == 0 {
				convs[i].End = "rst"
			}
		}
		return convs
	}
	cases := []struct {
		name  string
		opts  pcapgen.Options
		gzip  bool
		convs func([]pcapgen.Conv) []pcapgen.Conv
	}{
		{name: "pcap ethernet", opts: pcapgen.Options{}},
		{name: "pcap big-endian nanoseconds", opts: pcapgen.Options{BigEndian: true, Nano: true}},
		{name: "pcap little-endian nanoseconds", opts: pcapgen.Options{Nano: true}},
		{name: "pcap big-endian microseconds", opts: pcapgen.Options{BigEndian: true}},
		{name: "modified pcap", opts: pcapgen.Options{Format: "pcap-modified"}},
		{name: "modified pcap big-endian", opts: pcapgen.Options{Format: "pcap-modified", BigEndian: true}},
		{name: "pcapng", opts: pcapgen.Options{Format: "pcapng"}},
		{name: "gzip pcap", opts: pcapgen.Options{}, gzip: true},
		{name: "gzip pcapng", opts: pcapgen.Options{Format: "pcapng"}, gzip: true},
		{name: "linux sll", opts: pcapgen.Options{Link: layers.LinkTypeLinuxSLL}},
		{name: "linux sll2", opts: pcapgen.Options{Link: layers.LinkTypeLinuxSLL2}},
		{name: "bsd null", opts: pcapgen.Options{Link: layers.LinkTypeNull}},
		{name: "loop", opts: pcapgen.Options{Link: layers.LinkTypeLoop}},
		{name: "raw ip", opts: pcapgen.Options{Link: layers.LinkTypeRaw}},
		{name: "raw ip 12", opts: pcapgen.Options{Link: 12}},
		{name: "raw ip 14 ipv6", opts: pcapgen.Options{Link: 14}, convs: v6},
		{name: "ipv6 ethernet", opts: pcapgen.Options{}, convs: v6},
		{name: "ipv6 null", opts: pcapgen.Options{Link: layers.LinkTypeNull}, convs: v6},
		{name: "vlan", opts: pcapgen.Options{VLAN: 42}},
		{name: "qinq", opts: pcapgen.Options{VLAN: 42, QinQ: 7}},
		{name: "interleaved", opts: pcapgen.Options{Interleave: true}},
		{name: "no handshake", opts: pcapgen.Options{Interleave: true}, convs: noHS},
		{name: "rst", opts: pcapgen.Options{}, convs: rst},
		{name: "reorder", opts: pcapgen.Options{Reorder: 0.3, Interleave: true, MSS: 536}},
		{name: "retransmit", opts: pcapgen.Options{Retransmit: 0.3, Interleave: true, MSS: 536}},
		{name: "overlap", opts: pcapgen.Options{Overlap: 0.3, Interleave: true, MSS: 536}},
		{name: "loss", opts: pcapgen.Options{Loss: 0.1, Interleave: true, MSS: 536}},
		{name: "everything", opts: pcapgen.Options{Reorder: 0.2, Loss: 0.05, Retransmit: 0.2, Overlap: 0.2, Interleave: true, MSS: 700, Format: "pcapng", Link: layers.LinkTypeLinuxSLL2}, convs: noHS},
		{name: "snaplen", opts: pcapgen.Options{Snaplen: 200, MSS: 536}},
	}
	for k, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			convs := genConvs(40, uint64(k), 20000)
			if tc.convs != nil {
				convs = tc.convs(convs)
			}
			tc.opts.Seed = uint64(k)
			var buf bytes.Buffer
			st, err := pcapgen.Write(&buf, convs, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			in := buf.Bytes()
			if tc.gzip {
				var z bytes.Buffer
				zw := gzip.NewWriter(&z)
				zw.Write(in)
				zw.Close()
				in = z.Bytes()
			}
			rec := newRecorder()
			ds, err := DecodeReader(context.Background(), tc.name, bytes.NewReader(in), rec, Options{})
			if err != nil {
				t.Fatalf("DecodeReader: %v", err)
			}
			if ds.Packets != st.Packets {
				t.Errorf("read %d packets, wrote %d", ds.Packets, st.Packets)
			}
			if ds.Conns != int64(len(convs)) {
				t.Errorf("Conns = %d, want %d", ds.Conns, len(convs))
			}
			if tc.opts.Snaplen > 0 && ds.Skipped["truncated"] == 0 {
				t.Errorf("no packet counted as truncated with snap length %d", tc.opts.Snaplen)
			}
			checkAgainst(t, rec, convs, st, tc.opts)
		})
	}
}
