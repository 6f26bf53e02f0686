package pcapgen

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// frame appends the link, IP and TCP headers and the payload of p to b.
func frame(b []byte, o Options, src, dst netip.AddrPort, p pkt) []byte {
	v6 := src.Addr().Is6()
	etype := uint16(0x0800)
	if v6 {
		etype = 0x86dd
	}
	switch o.Link {
	case layers.LinkTypeEthernet:
		b = append(b, 0x02, 0, 0, 0, 0, 2) // locally administered MACs
		b = append(b, 0x02, 0, 0, 0, 0, 1)
		if !p.fromCli {
			copy(b[len(b)-12:], []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2})
		}
		if o.QinQ != 0 {
			b = binary.BigEndian.AppendUint16(b, 0x88a8)
			b = binary.BigEndian.AppendUint16(b, o.QinQ&0x0fff)
		}
		if o.VLAN != 0 || o.QinQ != 0 {
			b = binary.BigEndian.AppendUint16(b, 0x8100)
			b = binary.BigEndian.AppendUint16(b, o.VLAN&0x0fff)
		}
		b = binary.BigEndian.AppendUint16(b, etype)
	case layers.LinkTypeLinuxSLL:
		// packet type, ARPHRD_ETHER, address length, address (8), protocol
		pt := uint16(0) // to us
		if p.fromCli {
			pt = 4 // sent by us
		}
		b = binary.BigEndian.AppendUint16(b, pt)
		b = binary.BigEndian.AppendUint16(b, 1)
		b = binary.BigEndian.AppendUint16(b, 6)
		b = append(b, 0x02, 0, 0, 0, 0, 1, 0, 0)
		b = binary.BigEndian.AppendUint16(b, etype)
	case layers.LinkTypeLinuxSLL2:
		// protocol, reserved, interface index, ARPHRD, packet type, address length, address (8)
		b = binary.BigEndian.AppendUint16(b, etype)
		b = binary.BigEndian.AppendUint16(b, 0)
		b = binary.BigEndian.AppendUint32(b, 1)
		b = binary.BigEndian.AppendUint16(b, 772) // ARPHRD_LOOPBACK, as tcpdump -i any on lo
		b = append(b, 0, 6)
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	case layers.LinkTypeNull:
		// address family in the writer's byte order (little-endian here):
		// AF_INET 2; AF_INET6 is 24, 28 or 30 depending on the BSD
		af := uint32(2)
		if v6 {
			af = 30
		}
		b = binary.LittleEndian.AppendUint32(b, af)
	case layers.LinkTypeLoop:
		af := uint32(2)
		if v6 {
			af = 24
		}
		b = binary.BigEndian.AppendUint32(b, af)
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
	}
	ipStart := len(b)
	tcpLen := 20 + len(p.payload)
	if v6 {
		b = append(b, 0x60, 0, 0, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(tcpLen))
		b = append(b, 6, 64)
		s, d := src.Addr().As16(), dst.Addr().As16()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
	} else {
		b = append(b, 0x45, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(20+tcpLen))
		b = append(b, 0, 0, 0x40, 0, 64, 6, 0, 0) // id 0, DF, TTL 64, TCP, checksum
		s, d := src.Addr().As4(), dst.Addr().As4()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
		binary.BigEndian.PutUint16(b[ipStart+10:], ^fold(sum(b[ipStart:], 0)))
	}
	tcpStart := len(b)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	b = binary.BigEndian.AppendUint16(b, dst.Port())
	b = binary.BigEndian.AppendUint32(b, p.seq)
	b = binary.BigEndian.AppendUint32(b, p.ack)
	b = append(b, 5<<4, p.flags)
	b = binary.BigEndian.AppendUint16(b, 64240) // window
	b = append(b, 0, 0, 0, 0)                   // checksum, urgent pointer
	b = append(b, p.payload...)
	// TCP checksum over the pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1)
	var ps uint32
	if v6 {
		s, d := src.Addr().As16(), dst.Addr().As16()
		ps = sum(s[:], ps)
		ps = sum(d[:], ps)
	} else {
		s, d := src.Addr().As4(), dst.Addr().As4()
		ps = sum(s[:], ps)
		ps = sum(d[:], ps)
	}
	ps += 6 + uint32(tcpLen)
	binary.BigEndian.PutUint16(b[tcpStart+16:], ^fold(sum(b[tcpStart:], ps)))
	return b
}

func sum(b []byte, s uint32) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// fileWriter writes pcap or pcapng records.
type fileWriter struct {
	o   Options
	bw  *bufio.Writer
	cw  *countWriter
	ng  *pcapgo.NgWriter
	ord binary.AppendByteOrder
	n   int64
	hdr []byte
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

func newFileWriter(w io.Writer, o Options) (*fileWriter, error) {
	cw := &countWriter{w: w}
	f := &fileWriter{o: o, cw: cw, bw: bufio.NewWriterSize(cw, 1<<20), ord: binary.LittleEndian}
	if o.BigEndian {
		f.ord = binary.BigEndian
	}
	snap := uint32(262144)
	if o.Snaplen > 0 {
		snap = uint32(o.Snaplen)
	}
	switch o.Format {
	case "", "pcap", "pcap-modified":
		magic := uint32(0xa1b2c3d4)
		if o.Nano {
			magic = 0xa1b23c4d
		}
		if o.Format == "pcap-modified" {
			magic = 0xa1b2cd34
		}
		h := f.ord.AppendUint32(nil, magic)
		h = f.ord.AppendUint16(h, 2)
		h = f.ord.AppendUint16(h, 4)
		h = f.ord.AppendUint32(h, 0)
		h = f.ord.AppendUint32(h, 0)
		h = f.ord.AppendUint32(h, snap)
		h = f.ord.AppendUint32(h, uint32(o.Link))
		_, err := f.bw.Write(h)
		return f, err
	case "pcapng":
		ng, err := pcapgo.NewNgWriterInterface(f.bw, pcapgo.NgInterface{
			Name: "gen0", LinkType: o.Link, SnapLength: snap, TimestampResolution: 9,
		}, pcapgo.DefaultNgWriterOptions)
		if err != nil {
			return nil, fmt.Errorf("pcapgen: %w", err)
		}
		f.ng = ng
		return f, nil
	}
	return nil, fmt.Errorf("pcapgen: unknown format %q", o.Format)
}

func (f *fileWriter) write(at time.Time, data []byte, orig int) error {
	if f.ng != nil {
		return f.ng.WritePacket(gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(data), Length: orig}, data)
	}
	frac := uint32(at.Nanosecond() / 1000)
	if f.o.Nano {
		frac = uint32(at.Nanosecond())
	}
	h := f.hdr[:0]
	h = f.ord.AppendUint32(h, uint32(at.Unix()))
	h = f.ord.AppendUint32(h, frac)
	h = f.ord.AppendUint32(h, uint32(len(data)))
	h = f.ord.AppendUint32(h, uint32(orig))
	if f.o.Format == "pcap-modified" {
		h = f.ord.AppendUint32(h, 1) // ifindex
		h = f.ord.AppendUint16(h, 0) // protocol
		h = append(h, 0, 0)          // packet type, padding
	}
	f.hdr = h
	if _, err := f.bw.Write(h); err != nil {
		return err
	}
	_, err := f.bw.Write(data)
	return err
}

func (f *fileWriter) flush() error {
	if f.ng != nil {
		if err := f.ng.Flush(); err != nil {
			return err
		}
	}
	err := f.bw.Flush()
	f.n = f.cw.n
	return err
}
