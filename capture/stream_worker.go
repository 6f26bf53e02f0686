package capture

import (
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/reassembly"
)

// Capture-time intervals that drive the reassemblers: out-of-order data
// waits at most gapWait for the missing bytes before they are reported as
// a gap, and a connection with no packet for idleAfter is ended "idle".
const (
	gapWait    = 2 * time.Second
	idleAfter  = 2 * time.Minute
	flushEvery = time.Second
	// detectLimit bounds the bytes buffered per direction while deciding
	// from content whether a connection is SMTP.
	detectLimit = 4 << 10
	// pageBytes is the size of reassembly's pages (reassembly.pageBytes).
	pageBytes = 1900
)

// packetCtx is the reassembly.AssemblerContext of one packet.
type packetCtx struct {
	ci gopacket.CaptureInfo
	id int
}

func (c *packetCtx) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }

// worker reassembles the connections of one shard with its own Assembler.
type worker struct {
	cfg       *config
	assembler *reassembly.Assembler
	tcp       layers.TCP
	ctx       packetCtx
	reason    string // End reason for connections closed by a flush
	lastFlush time.Time
	now       time.Time
	smtpConns int64
	conns     int64
	shard     uint16 // the batches' segments with this shard are this worker's
}

type config struct {
	h      Handler
	ports  [65536 / 64]uint64 // bit set of SMTP server ports
	detect bool
}

func (c *config) isPort(p uint16) bool { return c.ports[p/64]&(1<<(p%64)) != 0 }

func newWorker(cfg *config, pagesTotal, pagesPerConn int) *worker {
	w := &worker{cfg: cfg, reason: "idle"}
	a := reassembly.NewAssembler(reassembly.NewStreamPool(w))
	a.MaxBufferedPagesTotal = pagesTotal
	a.MaxBufferedPagesPerConnection = pagesPerConn
	w.assembler = a
	return w
}

// process hands one batch to the assembler.
func (w *worker) process(b *batch) {
	for i := range b.segs {
		s := &b.segs[i]
		if s.shard != w.shard {
			continue
		}
		if err := w.tcp.DecodeFromBytes(b.arena[s.start:s.end], gopacket.NilDecodeFeedback); err != nil {
			continue // decoded once already by the reader: cannot happen
		}
		w.now = time.Unix(0, s.at)
		w.ctx = packetCtx{ci: gopacket.CaptureInfo{Timestamp: w.now, CaptureLength: int(s.end - s.start), Length: int(s.end - s.start)}, id: int(s.id)}
		w.assembler.AssembleWithContext(s.net, &w.tcp, &w.ctx)
	}
	if w.now.Sub(w.lastFlush) >= flushEvery {
		w.lastFlush = w.now
		w.reason = "idle"
		w.assembler.FlushWithOptions(reassembly.FlushOptions{T: w.now.Add(-gapWait), TC: w.now.Add(-idleAfter)})
	}
}

// finish ends every connection still open.
func (w *worker) finish(reason string) {
	w.reason = reason
	w.assembler.FlushAll()
}

// New implements reassembly.StreamFactory: it decides the roles and whether
// the connection may be SMTP. Returning nil makes the assembler drop the
// packet without keeping any state.
func (w *worker) New(netFlow, tcpFlow gopacket.Flow, tcp *layers.TCP, ac reassembly.AssemblerContext) reassembly.Stream {
	src, dst := netFlow.Endpoints()
	sa, _ := netip.AddrFromSlice(src.Raw())
	da, _ := netip.AddrFromSlice(dst.Raw())
	sp, dp := uint16(tcp.SrcPort), uint16(tcp.DstPort)
	st := &stream{w: w, start: ac.GetCaptureInfo().Timestamp}
	if pc, ok := ac.(*packetCtx); ok {
		st.id = pc.id
	}
	st.a = netip.AddrPortFrom(sa.Unmap(), sp)
	st.b = netip.AddrPortFrom(da.Unmap(), dp)
	switch {
	case tcp.SYN && !tcp.ACK:
		st.sawSYN, st.roles, st.aIsClient = true, true, true
	case tcp.SYN && tcp.ACK:
		st.sawSYN, st.roles, st.aIsClient = true, true, false
	case w.cfg.isPort(dp):
		st.roles, st.aIsClient = true, true
	case w.cfg.isPort(sp):
		st.roles, st.aIsClient = true, false
	}
	if st.roles && w.cfg.isPort(st.serverPort()) {
		st.state = stateSMTP
	} else if w.cfg.detect {
		st.state = stateDetect
	} else {
		return nil
	}
	w.conns++
	return st
}

type streamState uint8

const (
	stateDetect streamState = iota // buffering the first bytes to decide
	stateSMTP                      // SMTP: bytes go to the Conn
	stateOther                     // not SMTP: packets are dropped
)

// stream is one TCP connection in a worker's assembler.
type stream struct {
	w         *worker
	id        int
	start     time.Time
	a, b      netip.AddrPort // a sent the first packet seen
	sawSYN    bool
	roles     bool // aIsClient is known
	aIsClient bool
	state     streamState
	conn      Conn // nil until the first byte (or gap) is delivered
	fin       [2]bool
	rst       bool
	ended     bool

	// While detecting: the first bytes of each direction (reassembly's
	// directions: 0 = from a), and the order they came in.
	buf    [2][]byte
	chunks []chunk

	// An HTTP CONNECT tunnel's preamble (see tunnel.go): tun says how far
	// it is read, skip how many bytes of each direction it took, target
	// and port what the client asked the proxy for.
	tun    tunnelState
	skip   [2]int
	target string
	tport  uint16
}

type tunnelState uint8

const (
	tunUnknown tunnelState = iota // too few bytes to tell
	tunNone                       // not a tunnel: the bytes are the protocol's
	tunOpen                       // the proxy answered 2xx: skip[] bytes are its preamble
)

type chunk struct {
	dir uint8
	at  time.Time
	n   int
}

func (s *stream) serverPort() uint16 {
	if s.aIsClient {
		return s.b.Port()
	}
	return s.a.Port()
}

func (s *stream) info() ConnInfo {
	c, sv := s.a, s.b
	if !s.aIsClient {
		c, sv = s.b, s.a
	}
	return ConnInfo{ID: s.id, Client: c, Server: sv, Start: s.start, SawSYN: s.sawSYN, Target: s.target}
}

// dirOf maps reassembly's direction (relative to the first packet) to ours.
func (s *stream) dirOf(rd reassembly.TCPFlowDirection) Direction {
	fromA := rd == reassembly.TCPDirClientToServer
	if fromA == s.aIsClient {
		return ClientToServer
	}
	return ServerToClient
}

func (s *stream) open() Conn {
	if s.conn == nil {
		s.conn = s.w.cfg.h.Open(s.info())
		s.w.smtpConns++
		if s.conn == nil {
			s.conn = nopConn{}
		}
	}
	return s.conn
}

// Accept implements reassembly.Stream.
func (s *stream) Accept(tcp *layers.TCP, ci gopacket.CaptureInfo, dir reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, ac reassembly.AssemblerContext) bool {
	if s.state == stateOther {
		return false
	}
	// A capture that starts mid-connection has no SYN: start the stream
	// at the first segment seen, or nothing would come out until the
	// final flush.
	if !*start && nextSeq == -1 && !tcp.SYN {
		*start = true
	}
	if tcp.RST {
		s.rst = true
	}
	if tcp.FIN {
		s.fin[dirIndex(dir)] = true
	}
	return true
}

func dirIndex(rd reassembly.TCPFlowDirection) int {
	if rd == reassembly.TCPDirClientToServer {
		return 0
	}
	return 1
}

// ReassembledSG implements reassembly.Stream.
func (s *stream) ReassembledSG(sg reassembly.ScatterGather, ac reassembly.AssemblerContext) {
	if s.state == stateOther || s.ended {
		return
	}
	rd, _, _, skip := sg.Info()
	n, _ := sg.Lengths()
	at := sg.CaptureInfo(0).Timestamp
	if at.IsZero() {
		at = s.w.now
	}
	if s.state == stateDetect {
		if skip > 0 || n > 0 && !s.detect(rd, at, sg.Fetch(n), skip) {
			s.state = stateOther
			s.buf, s.chunks = [2][]byte{}, nil
		}
		return
	}
	c := s.open()
	if skip > 0 {
		c.Gap(s.dirOf(rd), at, int64(skip))
	}
	if n > 0 {
		c.Data(s.dirOf(rd), at, sg.Fetch(n))
	}
}

// detect buffers p and decides from the first bytes of both directions:
// SMTP when one side starts with a 220 reply and the other with
// HELO, EHLO or LHLO (RFC 5321 §3.1, §4.1.1.1; RFC 2033 §4.1). A tunnel
// through an HTTP proxy is looked through: after a CONNECT request and a
// 2xx answer (RFC 9110 §9.3.6) the same test applies to the bytes that
// follow, and a target on an SMTP port decides at once.
// It returns false when the connection is not SMTP.
func (s *stream) detect(rd reassembly.TCPFlowDirection, at time.Time, p []byte, skip int) bool {
	d := dirIndex(rd)
	room := detectLimit + s.skip[d] - len(s.buf[d])
	if room <= 0 {
		return false
	}
	if len(p) > room {
		p = p[:room]
	}
	s.buf[d] = append(s.buf[d], p...)
	s.chunks = append(s.chunks, chunk{dir: uint8(d), at: at, n: len(p)})
	if s.tun == tunUnknown {
		switch s.tunnel() {
		case tunOpen:
		case tunNone:
			s.tun = tunNone
		case tunUnknown:
			return len(s.buf[0]) < detectLimit && len(s.buf[1]) < detectLimit
		default:
			return false
		}
	}
	if s.tun == tunOpen && s.w.cfg.isPort(s.tport) {
		s.decided(s.aIsClient)
		return true
	}
	b0, b1 := s.buf[0][s.skip[0]:], s.buf[1][s.skip[1]:]
	k0, k1 := classify(b0), classify(b1)
	if k0 == kindOther || k1 == kindOther {
		return false
	}
	var serverIsA bool
	switch {
	case k0 == kindGreeting && k1 == kindHello:
		serverIsA = true
	case k0 == kindHello && k1 == kindGreeting:
		serverIsA = false
	case k0 == k1 && k0 != kindUnknown:
		return false // both greet or both say hello
	default:
		return len(b0) < detectLimit && len(b1) < detectLimit
	}
	s.decided(!serverIsA)
	return true
}

// tunnelNotSMTP is tunnel's answer for a proxy that refused (a 407 asking
// for credentials, a 403, a 502) or an HTTP exchange that is not CONNECT.
const tunnelNotSMTP tunnelState = 255

// tunnel reads the CONNECT preamble from the bytes buffered so far. It
// returns tunOpen once the proxy's 2xx answer is whole (and sets skip,
// target and the roles), tunNone when the client's first bytes are not
// CONNECT, tunUnknown while they may still be, and tunnelNotSMTP when the
// proxy did not open the tunnel.
func (s *stream) tunnel() tunnelState {
	cd := -1
	for d := range 2 {
		if len(s.buf[d]) == 0 {
			continue
		}
		if _, _, _, ok := parseConnect(s.buf[d]); ok {
			cd = d
			break
		}
	}
	if cd < 0 {
		if len(s.buf[0]) == 0 && len(s.buf[1]) == 0 {
			return tunUnknown
		}
		return tunNone
	}
	target, port, n, _ := parseConnect(s.buf[cd])
	if n == 0 {
		return tunUnknown
	}
	status, m, ok := parseConnectReply(s.buf[1-cd])
	switch {
	case !ok:
		return tunnelNotSMTP
	case m == 0:
		return tunUnknown
	case status < 200 || status > 299:
		return tunnelNotSMTP
	}
	s.tun, s.target, s.tport = tunOpen, target, port
	s.skip[cd], s.skip[1-cd] = n, m
	s.roles, s.aIsClient = true, cd == 0
	return tunOpen
}

// decided makes the connection SMTP and delivers the bytes buffered while
// deciding, in the order they came, less a tunnel's preamble.
func (s *stream) decided(aIsClient bool) {
	s.roles, s.aIsClient = true, aIsClient
	s.state = stateSMTP
	c := s.open()
	var off [2]int
	for _, ch := range s.chunks {
		dir := ServerToClient
		if (ch.dir == 0) == s.aIsClient {
			dir = ClientToServer
		}
		from, to := max(off[ch.dir], s.skip[ch.dir]), off[ch.dir]+ch.n
		if from < to {
			c.Data(dir, ch.at, s.buf[ch.dir][from:to])
		}
		off[ch.dir] = to
	}
	s.buf, s.chunks = [2][]byte{}, nil
}

type kind uint8

const (
	kindUnknown  kind = iota // too few bytes yet
	kindGreeting             // "220 " or "220-"
	kindHello                // HELO, EHLO or LHLO and a space or line end
	kindOther
)

// classify looks at the first bytes of one direction.
func classify(b []byte) kind {
	if len(b) == 0 {
		return kindUnknown
	}
	if isPrefixFold(b, "220 ") || isPrefixFold(b, "220-") || isPrefixFold(b, "220\r\n") {
		if len(b) >= 4 {
			return kindGreeting
		}
		return kindUnknown
	}
	for _, v := range [...]string{"HELO", "EHLO", "LHLO"} {
		if isPrefixFold(b, v+" ") || isPrefixFold(b, v+"\r\n") || isPrefixFold(b, v+"\n") {
			if len(b) >= 5 {
				return kindHello
			}
			return kindUnknown
		}
	}
	return kindOther
}

// isPrefixFold reports whether b and prefix agree, ASCII case-insensitively,
// on their common length: b may still be a beginning of prefix.
func isPrefixFold(b []byte, prefix string) bool {
	n := min(len(b), len(prefix))
	for i := 0; i < n; i++ {
		x, y := b[i], prefix[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// ReassemblyComplete implements reassembly.Stream. It returns false so that
// the connection stays in the pool until it is idle: a late ACK or
// retransmitted FIN then lands on it instead of starting a new one.
func (s *stream) ReassemblyComplete(ac reassembly.AssemblerContext) bool {
	if s.ended {
		return false
	}
	s.ended = true
	if s.state != stateSMTP {
		s.buf, s.chunks = [2][]byte{}, nil
		return false
	}
	reason := s.w.reason
	switch {
	case s.rst:
		reason = "rst"
	case s.fin[0] || s.fin[1]:
		reason = "fin"
	}
	// A connection that never carried a byte still shows when it was a
	// real connection attempt (a handshake, refused or closed at once);
	// stray packets with neither handshake nor data make no conversation.
	if s.conn == nil && !s.sawSYN {
		return false
	}
	s.open().End(s.w.now, reason)
	return false
}

// nopConn stands in for a nil Conn from a Handler.
type nopConn struct{}

func (nopConn) Data(Direction, time.Time, []byte) {}
func (nopConn) Gap(Direction, time.Time, int64)   {}
func (nopConn) End(time.Time, string)             {}
