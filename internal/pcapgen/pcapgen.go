// Package pcapgen writes valid packet captures of TCP conversations, for
// smtpsh's capture tests and benchmarks: deterministic for a seed, in pcap
// (either byte order, µs or ns, or the modified a1b2cd34 variant) or pcapng,
// over Ethernet (with 802.1Q tags), Linux SLL and SLL2, BSD loopback or raw
// IP, IPv4 or IPv6, with segments reordered, lost, retransmitted and
// overlapping as asked, and the conversations interleaved by time.
//
// Write reports exactly which bytes it left out of the capture (lost
// segments, snap length), so a test knows the gaps a reassembler must report.
package pcapgen

import (
	"cmp"
	"container/heap"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// Dir says which side sends a Step.
type Dir uint8

const (
	// FromClient is the side that opens the connection.
	FromClient Dir = iota
	// FromServer is the side that accepts it.
	FromServer
)

// Conv is one TCP connection to write.
type Conv struct {
	Client, Server netip.AddrPort
	Start          time.Time
	Steps          []Step
	NoHandshake    bool   // leave out SYN, SYN-ACK and ACK, as a capture started mid-connection
	End            string // "fin", "rst" or "" (the capture stops with the connection open)
}

// Step is one write by one side.
type Step struct {
	Dir   Dir
	Data  []byte
	Delay time.Duration // after the previous step
}

// Options choose the file format, the link and what goes wrong on the wire.
type Options struct {
	Format     string          // "pcap" (default), "pcapng", "pcap-modified" (magic a1b2cd34, 24-byte records)
	BigEndian  bool            // pcap: write big-endian headers
	Nano       bool            // pcap: nanosecond timestamps (magic a1b23c4d)
	Link       layers.LinkType // Ethernet (default), LinuxSLL, LinuxSLL2, Null, Loop, Raw
	VLAN       uint16          // Ethernet: one 802.1Q tag with this ID; 0 = none
	QinQ       uint16          // Ethernet: an outer 802.1ad tag too
	MSS        int             // largest TCP payload; default 1460
	Snaplen    int             // captured bytes per packet; 0 = all
	Reorder    float64         // probability a segment is swapped with the next one of its direction
	Loss       float64         // probability a data segment is missing from the capture
	Retransmit float64         // probability a segment is captured twice
	Overlap    float64         // probability a segment is followed by one overlapping it and the next
	Interleave bool            // packets of all conversations mixed by time (else one conversation after another)
	Seed       uint64
}

// Gap is a run of bytes of one direction missing from the capture.
type Gap struct {
	Off int64 // offset of the first missing byte in the direction's stream
	N   int64
}

// Stats says what Write left out.
type Stats struct {
	Packets int64
	Bytes   int64      // bytes written
	Gaps    [][2][]Gap // per conversation, per Dir: missing runs in stream order
	Lost    [][2]int64 // per conversation, per Dir: total missing bytes
}

// pkt is one packet before it is framed.
type pkt struct {
	conv    int
	at      time.Time
	fromCli bool
	seq     uint32
	ack     uint32
	flags   uint8
	payload []byte
	off     int64 // offset of payload in its direction's stream
	order   int   // tie-break: generation order
}

const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10
)

// Write writes convs as one capture to w.
func Write(w io.Writer, convs []Conv, opts Options) (Stats, error) {
	if opts.MSS <= 0 {
		opts.MSS = 1460
	}
	if opts.Link == 0 && opts.Format != "raw-link-zero" {
		opts.Link = layers.LinkTypeEthernet
	}
	st := Stats{Gaps: make([][2][]Gap, len(convs)), Lost: make([][2]int64, len(convs))}
	fw, err := newFileWriter(w, opts)
	if err != nil {
		return st, err
	}
	g := &gen{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)), st: &st, fw: fw,
		sent: make([][2]int64, len(convs)), have: make([][2][]Gap, len(convs))}
	if opts.Interleave {
		err = g.interleaved(convs)
	} else {
		for i := range convs {
			for _, p := range g.packets(i, &convs[i]) {
				if err = g.emit(convs, p); err != nil {
					break
				}
			}
		}
	}
	if err != nil {
		return st, err
	}
	err = fw.flush()
	st.Bytes = fw.n
	g.gaps()
	return st, err
}

type gen struct {
	opts  Options
	rng   *rand.Rand
	st    *Stats
	fw    *fileWriter
	order int
	frame []byte
	sent  [][2]int64 // per conversation, per side: bytes sent
	have  [][2][]Gap // per conversation, per side: runs of bytes captured, merged
}

// pktHeap orders packets by time, then by generation.
type pktHeap []pkt

func (h pktHeap) Len() int { return len(h) }
func (h pktHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].order < h[j].order
}
func (h pktHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pktHeap) Push(x any)   { *h = append(*h, x.(pkt)) }
func (h *pktHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// interleaved merges the packets of all conversations by time. A
// conversation's packets are made when the merge reaches its start, so only
// the conversations that overlap in time are in memory (convs must be in
// order of Start for that; otherwise they are all made at once).
func (g *gen) interleaved(convs []Conv) error {
	h := &pktHeap{}
	next := 0
	for next < len(convs) || h.Len() > 0 {
		for next < len(convs) && (h.Len() == 0 || !convs[next].Start.After((*h)[0].at)) {
			for _, p := range g.packets(next, &convs[next]) {
				heap.Push(h, p)
			}
			next++
		}
		if h.Len() == 0 {
			continue
		}
		if err := g.emit(convs, heap.Pop(h).(pkt)); err != nil {
			return err
		}
	}
	return nil
}

// packets makes the packets of one conversation, with the faults asked for,
// and records the bytes left out.
func (g *gen) packets(ci int, c *Conv) []pkt {
	o := g.opts
	r := g.rng
	var out []pkt
	isn := [2]uint32{r.Uint32(), r.Uint32()}
	next := isn // next sequence number per side (after SYN)
	at := c.Start
	tick := func() time.Time { at = at.Add(50 * time.Microsecond); return at }
	add := func(fromCli bool, flags uint8, seq uint32, payload []byte, off int64) {
		side := 1
		if fromCli {
			side = 0
		}
		p := pkt{conv: ci, at: tick(), fromCli: fromCli, seq: seq, flags: flags, payload: payload, off: off, order: g.order}
		if flags&flagACK != 0 {
			p.ack = next[1-side]
		}
		if end := seq + uint32(len(payload)); len(payload) > 0 && int32(end-next[side]) > 0 {
			next[side] = end
		}
		g.order++
		out = append(out, p)
	}
	if !c.NoHandshake {
		add(true, flagSYN, isn[0], nil, 0)
		next[0]++
		add(false, flagSYN|flagACK, isn[1], nil, 0)
		next[1]++
		add(true, flagACK, next[0], nil, 0)
	} else {
		next[0]++
		next[1]++
	}
	base := next
	// Which data segments to drop: never the last one of a direction, which
	// no reassembler could notice missing (nothing follows it).
	lastSeg := [2]int{-1, -1}
	// Without the handshake a reassembler starts a direction at its first
	// segment seen: losing or delaying that one would be invisible too.
	firstSeg := [2]int{-1, -1}
	type seg struct {
		side int
		off  int64
		data []byte
	}
	var segs []seg
	var sent [2]int64
	for _, s := range c.Steps {
		side := int(s.Dir)
		for d := s.Data; len(d) > 0; {
			n := min(len(d), o.MSS)
			segs = append(segs, seg{side: side, off: sent[side], data: d[:n]})
			lastSeg[side] = len(segs) - 1
			if firstSeg[side] < 0 && c.NoHandshake {
				firstSeg[side] = len(segs) - 1
			}
			sent[side] += int64(n)
			d = d[n:]
		}
		// an empty segment marks the step's delay
		segs = append(segs, seg{side: -1, off: int64(s.Delay)})
	}
	// Faults are decided per segment, in order; a reordered segment swaps
	// with the next data segment of the same direction.
	for i := 0; i < len(segs); i++ {
		s := segs[i]
		if s.side < 0 {
			at = at.Add(time.Duration(s.off))
			continue
		}
		fromCli := s.side == 0
		seq := base[s.side] + uint32(s.off)
		if o.Reorder > 0 && r.Float64() < o.Reorder && i != firstSeg[s.side] && i+1 != firstSeg[s.side] {
			for j := i + 1; j < len(segs); j++ {
				if segs[j].side == s.side {
					if j == i+1 {
						segs[i], segs[j] = segs[j], segs[i]
						s = segs[i]
						seq = base[s.side] + uint32(s.off)
					}
					break
				}
				if segs[j].side >= 0 {
					break
				}
			}
		}
		if o.Loss > 0 && i != lastSeg[s.side] && i != firstSeg[s.side] && r.Float64() < o.Loss {
			continue
		}
		add(fromCli, flagACK|flagPSH, seq, s.data, s.off)
		if o.Overlap > 0 && r.Float64() < o.Overlap && len(s.data) > 1 {
			// the second half again, as a sender repacketizing would
			h := len(s.data) / 2
			add(fromCli, flagACK|flagPSH, seq+uint32(h), s.data[h:], s.off+int64(h))
		}
		if o.Retransmit > 0 && r.Float64() < o.Retransmit {
			add(fromCli, flagACK|flagPSH, seq, s.data, s.off)
		}
	}
	next[0] = base[0] + uint32(sent[0])
	next[1] = base[1] + uint32(sent[1])
	g.sent[ci] = sent
	// the receivers acknowledge what they got
	add(false, flagACK, next[1], nil, 0)
	add(true, flagACK, next[0], nil, 0)
	switch c.End {
	case "fin":
		add(true, flagFIN|flagACK, next[0], nil, 0)
		next[0]++
		add(false, flagFIN|flagACK, next[1], nil, 0)
		next[1]++
		add(true, flagACK, next[0], nil, 0)
	case "rst":
		add(true, flagRST|flagACK, next[0], nil, 0)
	}
	return out
}

// captured records that bytes [off, off+n) of a direction are in the capture.
func (g *gen) captured(ci, side int, off, n int64) {
	if n <= 0 {
		return
	}
	h := g.have[ci][side]
	if k := len(h); k > 0 && h[k-1].Off <= off && off <= h[k-1].Off+h[k-1].N {
		// the common case: in order, or overlapping the last run
		h[k-1].N = max(h[k-1].N, off+n-h[k-1].Off)
		return
	}
	h = append(h, Gap{off, n})
	slices.SortFunc(h, func(a, b Gap) int { return cmp.Compare(a.Off, b.Off) })
	merged := h[:1]
	for _, r := range h[1:] {
		last := &merged[len(merged)-1]
		if r.Off <= last.Off+last.N {
			last.N = max(last.N, r.Off+r.N-last.Off)
			continue
		}
		merged = append(merged, r)
	}
	g.have[ci][side] = merged
}

// gaps turns what was captured into what is missing.
func (g *gen) gaps() {
	for ci := range g.have {
		for side := range 2 {
			var off int64
			var out []Gap
			for _, r := range g.have[ci][side] {
				if r.Off > off {
					out = append(out, Gap{off, r.Off - off})
				}
				off = r.Off + r.N
			}
			if total := g.sent[ci][side]; total > off {
				out = append(out, Gap{off, total - off})
			}
			g.st.Gaps[ci][side] = out
			for _, gp := range out {
				g.st.Lost[ci][side] += gp.N
			}
		}
	}
}

// emit frames one packet and writes it.
func (g *gen) emit(convs []Conv, p pkt) error {
	c := &convs[p.conv]
	src, dst := c.Client, c.Server
	if !p.fromCli {
		src, dst = dst, src
	}
	if src.Addr().Is4() != dst.Addr().Is4() {
		return errors.New("pcapgen: client and server must both be IPv4 or both IPv6")
	}
	g.frame = frame(g.frame[:0], g.opts, src, dst, p)
	capLen := len(g.frame)
	if g.opts.Snaplen > 0 && capLen > g.opts.Snaplen {
		capLen = g.opts.Snaplen
	}
	side := 1
	if p.fromCli {
		side = 0
	}
	// the payload is at the end of the frame: what the snap length cuts
	// off comes from its end
	kept := len(p.payload) - (len(g.frame) - capLen)
	g.captured(p.conv, side, p.off, int64(max(kept, 0)))
	g.st.Packets++
	return g.fw.write(p.at, g.frame[:capLen], len(g.frame))
}
