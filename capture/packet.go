package capture

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Reasons a packet is not used, the keys of Stats.Skipped.
const (
	skipLink      = "unknown link type"
	skipNonIP     = "non-IP"
	skipNonTCP    = "non-TCP"
	skipFragment  = "IP fragment"
	skipMalformed = "malformed"
	skipTruncated = "truncated" // counted, but the captured part is still used
	skipNotSMTP   = "not SMTP port"
)

// segment is a decoded TCP segment: where its TCP header and payload lie in
// the packet, and the addresses the reassembler keys on.
type segment struct {
	net              gopacket.Flow
	src, dst         [16]byte // addresses, IPv4 in the first 4 bytes
	srcPort, dstPort uint16
	start, end       int // data[start:end] is the TCP header and payload
	seq              uint32
	syn, ack         bool
	fin, rst         bool
	truncated        bool
}

// packetDecoder decodes link, IP and TCP headers with preallocated layers
// (gopacket's DecodingLayerParser: no allocation per packet). It is not safe
// for concurrent use.
type packetDecoder struct {
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	lo    layers.Loopback
	ip4   layers.IPv4
	ip6   layers.IPv6
	tcp   layers.TCP

	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
}

func newPacketDecoder() *packetDecoder {
	d := &packetDecoder{parsers: map[gopacket.LayerType]*gopacket.DecodingLayerParser{}, decoded: make([]gopacket.LayerType, 0, 8)}
	for _, first := range []gopacket.LayerType{layers.LayerTypeEthernet, layers.LayerTypeLinuxSLL, layers.LayerTypeLinuxSLL2,
		layers.LayerTypeLoopback, layers.LayerTypeIPv4, layers.LayerTypeIPv6} {
		p := gopacket.NewDecodingLayerParser(first, &d.eth, &d.dot1q, &d.sll, &d.sll2, &d.lo, &d.ip4, &d.ip6, &d.tcp)
		// The TCP payload is ours to read: stop there without an error.
		p.IgnoreUnsupported = true
		d.parsers[first] = p
	}
	return d
}

// firstLayer maps a link type to the layer its packets start with.
// DLT_RAW is 101 in files, and 12 or 14 in some BSDs' headers (pcap-linktype(7)).
func firstLayer(link layers.LinkType, data []byte) (gopacket.LayerType, bool) {
	switch link {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, true
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, true
	case layers.LinkTypeLinuxSLL2:
		return layers.LayerTypeLinuxSLL2, true
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback, true
	case layers.LinkTypeIPv4:
		return layers.LayerTypeIPv4, true
	case layers.LinkTypeIPv6:
		return layers.LayerTypeIPv6, true
	case layers.LinkTypeRaw, 12, 14:
		if len(data) > 0 && data[0]>>4 == 6 {
			return layers.LayerTypeIPv6, true
		}
		return layers.LayerTypeIPv4, true
	}
	return 0, false
}

// decode finds the TCP segment in one packet, or says why there is none.
func (d *packetDecoder) decode(link layers.LinkType, data []byte, origLen int) (segment, string) {
	first, ok := firstLayer(link, data)
	if !ok {
		return segment{}, skipLink
	}
	p := d.parsers[first]
	p.Truncated = false
	err := p.DecodeLayers(data, &d.decoded)
	var s segment
	var sawIP, sawTCP bool
	for _, lt := range d.decoded {
		switch lt {
		case layers.LayerTypeIPv4:
			sawIP = true
			if d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0 {
				return segment{}, skipFragment
			}
			s.net = d.ip4.NetworkFlow()
			copy(s.src[:], d.ip4.SrcIP)
			copy(s.dst[:], d.ip4.DstIP)
		case layers.LayerTypeIPv6:
			sawIP = true
			s.net = d.ip6.NetworkFlow()
			copy(s.src[:], d.ip6.SrcIP)
			copy(s.dst[:], d.ip6.DstIP)
		case layers.LayerTypeTCP:
			sawTCP = true
		}
	}
	if !sawTCP {
		switch {
		case origLen > len(data) && (sawIP || err != nil):
			return segment{}, skipTruncated
		case err != nil && sawIP:
			return segment{}, skipMalformed
		case !sawIP && err != nil && len(d.decoded) == 0:
			return segment{}, skipMalformed
		case !sawIP:
			return segment{}, skipNonIP
		}
		return segment{}, skipNonTCP
	}
	t := &d.tcp
	// Contents and Payload are subslices of data: their offset is the
	// difference of capacities.
	s.start = cap(data) - cap(t.Contents)
	s.end = s.start + len(t.Contents) + len(t.Payload)
	if s.start < 0 || s.end > len(data) {
		return segment{}, skipMalformed
	}
	s.srcPort, s.dstPort = uint16(t.SrcPort), uint16(t.DstPort)
	s.seq, s.syn, s.ack, s.fin, s.rst = t.Seq, t.SYN, t.ACK, t.FIN, t.RST
	s.truncated = p.Truncated || origLen > len(data)
	return s, ""
}
