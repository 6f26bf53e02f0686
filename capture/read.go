package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// maxRecord bounds one packet record's captured length. libpcap's largest
// snap length is 262144 bytes; a larger record header is corrupt, and trusting
// it would let a crafted file ask for any amount of memory.
const maxRecord = 256 << 10

// readBufferSize is the block size read from a capture file: big reads, few
// system calls, and room to look at a whole record of maxRecord in place.
const readBufferSize = 1 << 20

// record is one packet as read from a capture.
type record struct {
	data    []byte // captured bytes; valid until the next call to next
	ts      int64  // capture time, Unix nanoseconds
	origLen int    // length on the wire (> len(data) when the snap length cut it)
	link    layers.LinkType
}

// recordReader yields the packet records of one capture file in order.
type recordReader interface {
	next() (record, error) // io.EOF at the clean end
	offset() int64         // byte offset in the (decompressed) file of the record last returned or failed
}

// FormatError says where a capture file is corrupt or truncated.
type FormatError struct {
	File   string // name given to Decode or DecodeReader
	Offset int64  // byte offset in the file (after gunzip for .gz), where the bad record starts
	Packet int64  // 1-based number of the packet record in the file; 0 for the file header
	Msg    string
}

func (e *FormatError) Error() string {
	if e.Packet > 0 {
		return fmt.Sprintf("%s: packet %d at offset %d: %s", e.File, e.Packet, e.Offset, e.Msg)
	}
	return fmt.Sprintf("%s: offset %d: %s", e.File, e.Offset, e.Msg)
}

// Magic numbers of the formats read, as the first four bytes of the file.
// pcap is https://www.tcpdump.org/manpages/pcap-savefile.5.html; the modified
// ("Kuznetzov") variant is libpcap's PCAP_MODIFIED_MAGIC, whose records carry
// 8 extra bytes (ifindex, protocol, packet type, padding).
const (
	magicMicro    = 0xa1b2c3d4
	magicNano     = 0xa1b23c4d
	magicModified = 0xa1b2cd34
)

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// openRecords sniffs the format of r from its first bytes (never from a file
// name) and returns a reader of its records. gzip is unwrapped once.
func openRecords(name string, r io.Reader) (recordReader, *countReader, error) {
	cr := &countReader{r: r}
	br := bufio.NewReaderSize(cr, readBufferSize)
	head, err := br.Peek(4)
	if len(head) < 4 {
		if err == nil || err == io.EOF {
			return nil, cr, &FormatError{File: name, Msg: fmt.Sprintf("not a capture file: only %d bytes", len(head))}
		}
		return nil, cr, fmt.Errorf("%s: %w", name, err)
	}
	if head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, cr, &FormatError{File: name, Msg: "bad gzip header: " + err.Error()}
		}
		zr.Multistream(true)
		cr = &countReader{r: zr}
		br = bufio.NewReaderSize(cr, readBufferSize)
		head, err = br.Peek(4)
		if len(head) < 4 {
			if err == nil || err == io.EOF {
				return nil, cr, &FormatError{File: name, Msg: fmt.Sprintf("not a capture file inside gzip: only %d bytes", len(head))}
			}
			return nil, cr, &FormatError{File: name, Msg: "gzip: " + err.Error()}
		}
	}
	if binary.BigEndian.Uint32(head) == 0x0a0d0d0a {
		return newNgRecords(name, br, cr)
	}
	p, err := newPcapRecords(name, br)
	if err != nil {
		return nil, cr, err
	}
	return p, cr, nil
}

// pcapRecords reads classic pcap, in both byte orders and both time
// resolutions, and the modified pcap with 24-byte record headers.
type pcapRecords struct {
	name    string
	br      *bufio.Reader
	order   binary.ByteOrder
	nano    bool
	hdrLen  int
	snaplen uint32
	link    layers.LinkType
	off     int64 // offset of the next record
	cur     int64 // offset of the record last returned
	n       int64 // records returned
	pending int   // bytes of the last record still to discard
}

func newPcapRecords(name string, br *bufio.Reader) (*pcapRecords, error) {
	h, err := br.Peek(24)
	if len(h) < 4 {
		return nil, &FormatError{File: name, Msg: "file header: " + errString(err)}
	}
	p := &pcapRecords{name: name, br: br, hdrLen: 16}
	var magic uint32
	if m := binary.LittleEndian.Uint32(h); m == magicMicro || m == magicNano || m == magicModified {
		p.order, magic = binary.LittleEndian, m
	} else if m := binary.BigEndian.Uint32(h); m == magicMicro || m == magicNano || m == magicModified {
		p.order, magic = binary.BigEndian, m
	} else {
		return nil, &FormatError{File: name, Msg: fmt.Sprintf("not a pcap or pcapng file (starts with % x)", h[:4])}
	}
	if len(h) < 24 {
		return nil, &FormatError{File: name, Msg: fmt.Sprintf("truncated pcap file header: %d of 24 bytes", len(h))}
	}
	p.nano = magic == magicNano
	if magic == magicModified {
		p.hdrLen = 24
	}
	p.snaplen = p.order.Uint32(h[16:])
	// The upper bits of the link type field carry FCS information
	// (pcap-savefile(5)); the link type is the low 16 bits.
	p.link = layers.LinkType(p.order.Uint32(h[20:]) & 0xffff)
	br.Discard(24)
	p.off = 24
	return p, nil
}

func errString(err error) string {
	if err == nil || err == io.EOF {
		return "file too short"
	}
	return err.Error()
}

func (p *pcapRecords) offset() int64 { return p.cur }

func (p *pcapRecords) fail(msg string, args ...any) error {
	return &FormatError{File: p.name, Offset: p.cur, Packet: p.n + 1, Msg: fmt.Sprintf(msg, args...)}
}

func (p *pcapRecords) next() (record, error) {
	if p.pending > 0 {
		p.br.Discard(p.pending)
		p.pending = 0
	}
	p.cur = p.off
	h, err := p.br.Peek(p.hdrLen)
	if len(h) < p.hdrLen {
		if len(h) == 0 && (err == io.EOF || err == nil) {
			return record{}, io.EOF
		}
		if err != nil && err != io.EOF {
			return record{}, p.fail("reading record header: %v", err)
		}
		return record{}, p.fail("truncated record header: %d of %d bytes", len(h), p.hdrLen)
	}
	sec, frac := p.order.Uint32(h), p.order.Uint32(h[4:])
	caplen, origlen := p.order.Uint32(h[8:]), p.order.Uint32(h[12:])
	if caplen > maxRecord {
		return record{}, p.fail("corrupt record header: captured length %d is over %d", caplen, maxRecord)
	}
	// A few writers put 0 or a too small snap length in the file header;
	// only a length over both the snap length and the usual 65535 is corrupt.
	if p.snaplen > 0 && caplen > p.snaplen && caplen > 65535 {
		return record{}, p.fail("corrupt record header: captured length %d is over the snap length %d", caplen, p.snaplen)
	}
	ts := int64(sec) * 1e9
	if p.nano {
		ts += int64(frac)
	} else {
		ts += int64(frac) * 1e3
	}
	p.br.Discard(p.hdrLen)
	data, err := p.br.Peek(int(caplen))
	if len(data) < int(caplen) {
		if err != nil && err != io.EOF {
			return record{}, p.fail("reading record: %v", err)
		}
		return record{}, p.fail("truncated record: %d of %d bytes", len(data), caplen)
	}
	p.pending = int(caplen)
	p.off += int64(p.hdrLen) + int64(caplen)
	p.n++
	if origlen < caplen {
		origlen = caplen
	}
	return record{data: data, ts: ts, origLen: int(origlen), link: p.link}, nil
}

// ngRecords reads pcapng with gopacket's reader, which does not trust block
// lengths from the file; each interface has its own link type.
type ngRecords struct {
	name string
	r    *pcapgo.NgReader
	br   *bufio.Reader
	cr   *countReader
	cur  int64
	n    int64
}

func newNgRecords(name string, br *bufio.Reader, cr *countReader) (*ngRecords, *countReader, error) {
	// Without WantMixedLinkType the reader silently drops the packets of
	// every interface whose link type differs from the first one's.
	r, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		return nil, cr, &FormatError{File: name, Msg: "pcapng: " + err.Error()}
	}
	return &ngRecords{name: name, r: r, br: br, cr: cr}, cr, nil
}

func (g *ngRecords) offset() int64 { return g.cur }

func (g *ngRecords) next() (record, error) {
	g.cur = g.cr.n - int64(g.br.Buffered())
	data, ci, err := g.r.ZeroCopyReadPacketData()
	if err != nil {
		if err == io.EOF {
			return record{}, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return record{}, &FormatError{File: g.name, Offset: g.cur, Packet: g.n + 1, Msg: "truncated pcapng block"}
		}
		return record{}, &FormatError{File: g.name, Offset: g.cur, Packet: g.n + 1, Msg: "pcapng: " + err.Error()}
	}
	g.n++
	if len(data) > maxRecord {
		return record{}, &FormatError{File: g.name, Offset: g.cur, Packet: g.n, Msg: fmt.Sprintf("packet of %d bytes is over %d", len(data), maxRecord)}
	}
	link := g.r.LinkType()
	if ifc, err := g.r.Interface(ci.InterfaceIndex); err == nil {
		link = ifc.LinkType
	}
	orig := ci.Length
	if orig < len(data) {
		orig = len(data)
	}
	return record{data: data, ts: ci.Timestamp.UnixNano(), origLen: orig, link: link}, nil
}
