package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
)

// Batching between the reader and the workers: one channel send per batch,
// not per packet, and a fixed number of batches so memory stays flat.
const (
	batchBytes   = 256 << 10
	batchSegs    = 2048
	batchesAhead = 4 // per worker
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

type flowEntry struct {
	id     int32
	last   int64 // capture time of the last packet, Unix nanoseconds
	closed bool  // a FIN or RST was seen: a new SYN starts a new connection
	synSeq uint32
}

// wseg is a TCP segment queued for a worker; arena[start:end] holds its
// TCP header and payload.
type wseg struct {
	net        gopacket.Flow
	at         int64
	id         int32
	start, end int32
}

type batch struct {
	arena []byte
	segs  []wseg
}

// dispatcher reads packets, decodes their headers, numbers connections and
// hands TCP segments to the workers in batches, sharded by connection so
// that one connection always goes to the same worker.
type dispatcher struct {
	cfg     *config
	dec     *packetDecoder
	workers []*worker
	in      []chan *batch
	free    chan *batch
	cur     []*batch
	wg      sync.WaitGroup
	reason  string // End reason for the final flush
	flows   map[flowKey]flowEntry
	nextID  int32
	sweep   int64
	stats   Stats
	total   int64 // input size for Progress, 0 if unknown
	done    int64 // input bytes of finished files
	lastRep int64
	prog    func(done, total int64)
	batches int // batches not yet made; made when first needed, so a small capture costs little
}

// getBatch returns a free batch, waiting for a worker to give one back when
// all are in use: this bounds the memory between reader and workers.
func (d *dispatcher) getBatch() *batch {
	if d.batches > 0 {
		select {
		case b := <-d.free:
			return b
		default:
			d.batches--
			return &batch{arena: make([]byte, 0, 64<<10), segs: make([]wseg, 0, 256)}
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
	maxBuf := opts.MaxBufferedBytes
	if maxBuf <= 0 {
		maxBuf = defaultMaxBuffered
	}
	pagesTotal := max(int(maxBuf/pageBytes/int64(n)), 64)
	// One connection may hold up to a quarter of its worker's share, so a
	// single broken connection cannot starve the others.
	pagesPerConn := max(pagesTotal/4, 16)
	d := &dispatcher{
		cfg:   cfg,
		dec:   newPacketDecoder(),
		in:    make([]chan *batch, n),
		free:  make(chan *batch, n*(batchesAhead+1)),
		cur:   make([]*batch, n),
		flows: map[flowKey]flowEntry{},
		stats: Stats{Skipped: map[string]int64{}},
		total: total,
		prog:  opts.Progress,
	}
	d.batches = n * (batchesAhead + 1)
	for i := range n {
		w := newWorker(cfg, pagesTotal, pagesPerConn)
		d.workers = append(d.workers, w)
		d.in[i] = make(chan *batch, batchesAhead)
		d.wg.Add(1)
		go func(w *worker, in <-chan *batch) {
			defer d.wg.Done()
			for b := range in {
				w.process(b)
				b.arena, b.segs = b.arena[:0], b.segs[:0]
				d.free <- b
			}
			w.finish(d.reason)
		}(w, d.in[i])
	}
	return d
}

// send hands the partly filled batches to the workers: at the end, and
// during a live capture so that data flows without waiting for full batches.
func (d *dispatcher) send() {
	for i, b := range d.cur {
		if b != nil && len(b.segs) > 0 {
			d.in[i] <- b
			d.cur[i] = nil
		}
	}
}

// close flushes every worker, ends every connection and sums the figures.
func (d *dispatcher) close(ctx context.Context, err error) (Stats, error) {
	d.send()
	d.reason = "end of capture"
	if ctx.Err() != nil {
		d.reason = "cancelled"
	}
	for _, c := range d.in {
		close(c)
	}
	d.wg.Wait()
	for _, w := range d.workers {
		d.stats.SMTPConns += w.smtpConns
	}
	d.stats.Conns = int64(d.nextID)
	if d.prog != nil {
		d.prog(d.stats.Bytes, d.total)
	}
	return d.stats, err
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

// packet decodes one record and queues its TCP segment.
func (d *dispatcher) packet(rec record) {
	d.stats.Packets++
	s, why := d.dec.decode(rec.link, rec.data, rec.origLen)
	if why != "" {
		d.stats.Skipped[why]++
		return
	}
	if s.truncated {
		d.stats.Skipped[skipTruncated]++
	}
	d.stats.TCPPackets++

	var k flowKey
	if c := compareEnd(&s.src, s.srcPort, &s.dst, s.dstPort); c <= 0 {
		k = flowKey{a: s.src, b: s.dst, pa: s.srcPort, pb: s.dstPort}
	} else {
		k = flowKey{a: s.dst, b: s.src, pa: s.dstPort, pb: s.srcPort}
	}
	e, ok := d.flows[k]
	// As tshark numbers tcp.stream: a SYN after a FIN or RST starts a new
	// connection on the same ports unless it retransmits the first SYN.
	if !ok || (s.syn && !s.ack && e.closed && s.seq != e.synSeq) {
		d.nextID++
		e = flowEntry{id: d.nextID}
	}
	if s.syn && !s.ack {
		e.synSeq = s.seq
	}
	e.last = rec.ts
	if s.fin || s.rst {
		e.closed = true
	}
	d.flows[k] = e
	if rec.ts-d.sweep > int64(sweepEvery) {
		d.sweepFlows(rec.ts)
	}

	if !d.cfg.detect && !d.cfg.isPort(s.srcPort) && !d.cfg.isPort(s.dstPort) {
		return
	}
	wi := int(e.id) % len(d.in)
	b := d.cur[wi]
	if b == nil {
		b = d.getBatch()
		d.cur[wi] = b
	}
	n := s.end - s.start
	start := len(b.arena)
	// the arena grows up to batchBytes+maxRecord at most: it is sent on
	// as soon as it holds batchBytes
	b.arena = append(b.arena, rec.data[s.start:s.end]...)
	b.segs = append(b.segs, wseg{net: s.net, at: rec.ts, id: e.id, start: int32(start), end: int32(start + n)})
	if len(b.arena) >= batchBytes || len(b.segs) >= batchSegs {
		d.in[wi] <- b
		d.cur[wi] = nil
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
