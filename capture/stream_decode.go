package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// The decode is a pipeline whose every stage but two small serial ones
// runs on all cores:
//
//	reader (1)  →  header decoders (N)  →  router (1)  →  reassembly workers (N)
//
// The reader cuts the file into records and copies them into a batch; the
// header decoders decode link, IP and TCP headers of whole batches at once,
// several batches in parallel; the router takes the batches back in file
// order, numbers the connections (a global table: IDs follow the order of
// first packets across the capture) and hands each batch to the workers
// holding its connections. A connection's packets go to one worker, chosen
// by a hash of its addresses and ports, and reach it in file order, as
// reassembly needs. Workers read the segments in place in the batch, which
// goes back to the pool when the last of them is done with it: a fixed
// number of batches keeps the memory flat however large the capture.
const (
	batchBytes   = 256 << 10
	batchRecords = 2048
	batchesAhead = 4 // per core
	// defaultMaxBuffered is Options.MaxBufferedBytes when zero.
	defaultMaxBuffered = 64 << 20
	sweepEvery         = 10 * time.Second
	progressEvery      = 8 << 20
)

// Decode reads the capture files (several files are one capture, in order; "-" is stdin) and
// calls h. It returns the statistics and the first error met; on a corrupt or truncated
// file, the error names the file and byte offset (and packet number), and every connection
// decoded so far has still been ended (End called) so nothing is lost.
func Decode(ctx context.Context, files []string, h Handler, opts Options) (Stats, error) {
	var total int64
	for _, f := range files {
		if f == "-" {
			total = 0
			break
		}
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
	}
	d := newDispatcher(h, opts, total)
	var err error
	for _, f := range files {
		if err = d.decodeFile(ctx, f); err != nil {
			break
		}
	}
	return d.close(ctx, err)
}

func (d *dispatcher) decodeFile(ctx context.Context, name string) error {
	if name == "-" {
		return d.decode(ctx, "stdin", os.Stdin)
	}
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	defer f.Close()
	return d.decode(ctx, name, f)
}

// DecodeReader is Decode for one capture read from r; name is used in errors.
func DecodeReader(ctx context.Context, name string, r io.Reader, h Handler, opts Options) (Stats, error) {
	d := newDispatcher(h, opts, 0)
	err := d.decode(ctx, name, r)
	return d.close(ctx, err)
}

// flowKey is a connection's 4-tuple in a canonical order, the same for
// both directions.
type flowKey struct {
	a, b   [16]byte
	pa, pb uint16
}

// shard picks the worker of a connection: FNV-1a of its key, so both
// directions and every reuse of the 4-tuple land on the same worker.
func (k *flowKey) shard(n int) uint16 {
	h := uint32(2166136261)
	for _, c := range k.a {
		h = (h ^ uint32(c)) * 16777619
	}
	for _, c := range k.b {
		h = (h ^ uint32(c)) * 16777619
	}
	h = (h ^ uint32(k.pa)) * 16777619
	h = (h ^ uint32(k.pb)) * 16777619
	return uint16(h % uint32(n))
}

type flowEntry struct {
	id     int32
	last   int64 // capture time of the last packet, Unix nanoseconds
	closed bool  // a FIN or RST was seen: a new SYN starts a new connection
	synSeq uint32
}

// rec is one packet record in a batch: arena[start:end] holds its bytes.
type rec struct {
	start, end int32
	origLen    int32
	link       uint16
	ts         int64
}

// tcpPkt is what the router needs of one TCP packet, in file order.
type tcpPkt struct {
	key      flowKey
	seq      uint32
	syn, ack bool
	finOrRst bool
	ts       int64
	seg      int32 // index in segs of its segment, -1 when not for the workers
}

// wseg is a TCP segment for a worker; arena[start:end] holds its TCP
// header and payload.
type wseg struct {
	net        gopacket.Flow
	at         int64
	id         int32
	start, end int32
	shard      uint16
}

// Reasons a packet is skipped, as indexes into batch.skipped.
var skipReasons = [...]string{skipLink, skipNonIP, skipNonTCP, skipFragment, skipMalformed, skipTruncated}

func skipIndex(why string) int {
	for i, r := range skipReasons {
		if r == why {
			return i
		}
	}
	return len(skipReasons) - 1
}

// batch is a run of records in file order and, once decoded, their TCP
// packets and the segments the workers take.
type batch struct {
	arena   []byte
	recs    []rec
	tcp     []tcpPkt
	segs    []wseg
	skipped [len(skipReasons)]int64
	decoded chan struct{} // a header decoder is done with it
	refs    atomic.Int32  // workers still reading it
	shards  uint64        // bit set of the workers with segments in it (the first 64)
}

func newBatch() *batch {
	return &batch{arena: make([]byte, 0, batchBytes+maxRecord), recs: make([]rec, 0, 256), decoded: make(chan struct{}, 1)}
}

func (b *batch) reset() {
	b.arena, b.recs, b.tcp, b.segs = b.arena[:0], b.recs[:0], b.tcp[:0], b.segs[:0]
	b.skipped = [len(skipReasons)]int64{}
	b.shards = 0
}

// dispatcher runs the pipeline; its own goroutine is the reader.
type dispatcher struct {
	cfg     *config
	workers []*worker
	nw      int
	dec     chan *batch // to the header decoders
	order   chan *batch // to the router, in file order
	in      []chan *batch
	free    chan *batch
	cur     *batch
	decWG   sync.WaitGroup
	routeWG sync.WaitGroup
	workWG  sync.WaitGroup
	reason  string // End reason for the final flush
	stats   Stats  // Files and Bytes (reader); the rest summed by the router
	total   int64  // input size for Progress, 0 if unknown
	done    int64  // input bytes of finished files
	lastRep int64
	prog    func(done, total int64)
	batches int // batches not yet made; made when first needed, so a small capture costs little

	// the router's
	flows  map[flowKey]flowEntry
	nextID int32
	sweep  int64
	rstats Stats
}

// getBatch returns a free batch, waiting for one to come back when all are
// in use: this bounds the memory of the pipeline.
func (d *dispatcher) getBatch() *batch {
	if d.batches > 0 {
		select {
		case b := <-d.free:
			return b
		default:
			d.batches--
			return newBatch()
		}
	}
	return <-d.free
}

func newDispatcher(h Handler, opts Options, total int64) *dispatcher {
	cfg := &config{h: h, detect: opts.Detect}
	ports := opts.Ports
	if ports == nil {
		ports = DefaultPorts()
	}
	for _, p := range ports {
		cfg.ports[p/64] |= 1 << (p % 64)
	}
	n := opts.Workers
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	n = min(n, 64)
	maxBuf := opts.MaxBufferedBytes
	if maxBuf <= 0 {
		maxBuf = defaultMaxBuffered
	}
	pagesTotal := max(int(maxBuf/pageBytes/int64(n)), 64)
	// One connection may hold up to a quarter of its worker's share, so a
	// single broken connection cannot starve the others.
	pagesPerConn := max(pagesTotal/4, 16)
	cores := max(runtime.GOMAXPROCS(0), n)
	pool := (cores + n) * batchesAhead
	d := &dispatcher{
		cfg:     cfg,
		nw:      n,
		dec:     make(chan *batch, pool),
		order:   make(chan *batch, pool),
		in:      make([]chan *batch, n),
		free:    make(chan *batch, pool),
		batches: pool,
		flows:   map[flowKey]flowEntry{},
		stats:   Stats{Skipped: map[string]int64{}},
		rstats:  Stats{Skipped: map[string]int64{}},
		total:   total,
		prog:    opts.Progress,
	}
	for range runtime.GOMAXPROCS(0) {
		d.decWG.Add(1)
		go func() {
			defer d.decWG.Done()
			pd := newPacketDecoder()
			for b := range d.dec {
				d.decodeBatch(pd, b)
				b.decoded <- struct{}{}
			}
		}()
	}
	for i := range n {
		w := newWorker(cfg, pagesTotal, pagesPerConn)
		w.shard = uint16(i)
		d.workers = append(d.workers, w)
		d.in[i] = make(chan *batch, pool)
		d.workWG.Add(1)
		go func(w *worker, in <-chan *batch) {
			defer d.workWG.Done()
			for b := range in {
				w.process(b)
				if b.refs.Add(-1) == 0 {
					b.reset()
					d.free <- b
				}
			}
			w.finish(d.reason)
		}(w, d.in[i])
	}
	d.routeWG.Add(1)
	go func() {
		defer d.routeWG.Done()
		for b := range d.order {
			<-b.decoded
			d.route(b)
		}
	}()
	return d
}

// send hands the current batch on: when full, at the end, and during a
// live capture so that data flows without waiting for full batches.
func (d *dispatcher) send() {
	b := d.cur
	if b == nil || len(b.recs) == 0 {
		return
	}
	d.cur = nil
	d.order <- b
	d.dec <- b
}

// close flushes the pipeline, ends every connection and sums the figures.
func (d *dispatcher) close(ctx context.Context, err error) (Stats, error) {
	d.send()
	d.reason = "end of capture"
	if ctx.Err() != nil {
		d.reason = "cancelled"
	}
	close(d.dec)
	close(d.order)
	d.routeWG.Wait()
	d.decWG.Wait()
	for _, c := range d.in {
		close(c)
	}
	d.workWG.Wait()
	st := d.rstats
	st.Files, st.Bytes = d.stats.Files, d.stats.Bytes
	for _, w := range d.workers {
		st.SMTPConns += w.smtpConns
	}
	st.Conns = int64(d.nextID)
	if d.prog != nil {
		d.prog(st.Bytes, d.total)
	}
	return st, err
}

// decode reads one capture file.
func (d *dispatcher) decode(ctx context.Context, name string, r io.Reader) error {
	raw := &countReader{r: r}
	rr, _, err := openRecords(name, raw)
	d.stats.Files++
	defer func() { d.stats.Bytes = d.done + raw.n; d.done += raw.n }()
	if err != nil {
		return err
	}
	for i := 0; ; i++ {
		if i&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.prog != nil && d.done+raw.n-d.lastRep >= progressEvery {
				d.lastRep = d.done + raw.n
				d.prog(d.lastRep, d.total)
			}
		}
		rec, err := rr.next()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			var fe *FormatError
			if errors.As(err, &fe) {
				return fe
			}
			return fmt.Errorf("%s: offset %d: %w", name, rr.offset(), err)
		}
		d.packet(rec)
	}
}

// packet queues one record; the reader's only work per packet is this copy.
func (d *dispatcher) packet(r record) {
	b := d.cur
	if b == nil {
		b = d.getBatch()
		d.cur = b
	}
	start := len(b.arena)
	// the arena holds batchBytes+maxRecord: it is sent on as soon as it
	// holds batchBytes
	b.arena = append(b.arena, r.data...)
	b.recs = append(b.recs, rec{start: int32(start), end: int32(len(b.arena)), origLen: int32(min(r.origLen, 1<<30)), link: uint16(r.link), ts: r.ts})
	if len(b.arena) >= batchBytes || len(b.recs) >= batchRecords {
		d.send()
	}
}

// decodeBatch decodes the headers of every record of b (a header decoder's
// work, in parallel with other batches).
func (d *dispatcher) decodeBatch(pd *packetDecoder, b *batch) {
	for i := range b.recs {
		r := &b.recs[i]
		data := b.arena[r.start:r.end:r.end]
		s, why := pd.decode(layers.LinkType(r.link), data, int(r.origLen))
		if why != "" {
			b.skipped[skipIndex(why)]++
			continue
		}
		if s.truncated {
			b.skipped[skipIndex(skipTruncated)]++
		}
		t := tcpPkt{seq: s.seq, syn: s.syn, ack: s.ack, finOrRst: s.fin || s.rst, ts: r.ts, seg: -1}
		if c := compareEnd(&s.src, s.srcPort, &s.dst, s.dstPort); c <= 0 {
			t.key = flowKey{a: s.src, b: s.dst, pa: s.srcPort, pb: s.dstPort}
		} else {
			t.key = flowKey{a: s.dst, b: s.src, pa: s.dstPort, pb: s.srcPort}
		}
		if d.cfg.detect || d.cfg.isPort(s.srcPort) || d.cfg.isPort(s.dstPort) {
			sh := t.key.shard(d.nw)
			t.seg = int32(len(b.segs))
			b.segs = append(b.segs, wseg{net: s.net, at: r.ts, start: r.start + int32(s.start), end: r.start + int32(s.end), shard: sh})
			b.shards |= 1 << sh
		}
		b.tcp = append(b.tcp, t)
	}
}

// route numbers the connections of a decoded batch, in file order, and
// hands it to the workers that have segments in it.
func (d *dispatcher) route(b *batch) {
	st := &d.rstats
	st.Packets += int64(len(b.recs))
	st.TCPPackets += int64(len(b.tcp))
	for i, n := range b.skipped {
		if n > 0 {
			st.Skipped[skipReasons[i]] += n
		}
	}
	for i := range b.tcp {
		t := &b.tcp[i]
		e, ok := d.flows[t.key]
		// As tshark numbers tcp.stream: a SYN after a FIN or RST starts a new
		// connection on the same ports unless it retransmits the first SYN.
		if !ok || (t.syn && !t.ack && e.closed && t.seq != e.synSeq) {
			d.nextID++
			e = flowEntry{id: d.nextID}
		}
		if t.syn && !t.ack {
			e.synSeq = t.seq
		}
		e.last = t.ts
		if t.finOrRst {
			e.closed = true
		}
		d.flows[t.key] = e
		if t.seg >= 0 {
			b.segs[t.seg].id = e.id
		}
		if t.ts-d.sweep > int64(sweepEvery) {
			d.sweepFlows(t.ts)
		}
	}
	// b is the workers' from the first send: read its shards before
	shards := b.shards
	refs := int32(bits.OnesCount64(shards))
	if refs == 0 {
		b.reset()
		d.free <- b
		return
	}
	b.refs.Store(refs)
	for i := range d.in {
		if shards&(1<<i) != 0 {
			d.in[i] <- b
		}
	}
}

// sweepFlows forgets connections idle for longer than idleAfter, so the
// table stays as big as the set of live connections.
func (d *dispatcher) sweepFlows(now int64) {
	d.sweep = now
	for k, e := range d.flows {
		if now-e.last > int64(idleAfter) {
			delete(d.flows, k)
		}
	}
}

// compareEnd orders two endpoints, to key both directions alike.
func compareEnd(a *[16]byte, pa uint16, b *[16]byte, pb uint16) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return int(pa) - int(pb)
}
