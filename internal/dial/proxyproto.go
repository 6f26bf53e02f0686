package dial

import (
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
)

// proxyV2Signature starts every PROXY protocol version 2 header
// (haproxy proxy-protocol.txt §2.2).
var proxyV2Signature = [12]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

// ProxyHeader returns the HAProxy PROXY protocol header ("v1" text or "v2"
// binary, haproxy's proxy-protocol.txt) announcing a TCP connection from
// src to dst. When either address is not a TCP address of the same family
// (a connection through a proxy to a server known only by name, say), the
// header says so: "PROXY UNKNOWN" in v1 (§2.1), the LOCAL command with
// family UNSPEC in v2 (§2.2), which a receiver treats as a health check and
// answers with its own addresses.
func ProxyHeader(version string, src, dst net.Addr) ([]byte, error) {
	s, sok := src.(*net.TCPAddr)
	d, dok := dst.(*net.TCPAddr)
	known := sok && dok && s != nil && d != nil
	var s4, d4 net.IP
	if known {
		s4, d4 = s.IP.To4(), d.IP.To4()
		// Both must be of one family; an IPv4-mapped address counts as v4.
		known = (s4 == nil) == (d4 == nil) && len(s.IP) > 0 && len(d.IP) > 0
	}
	switch version {
	case "v1":
		if !known {
			return []byte("PROXY UNKNOWN\r\n"), nil
		}
		fam, sa, da := "TCP4", s4.String(), d4.String()
		if s4 == nil {
			fam, sa, da = "TCP6", s.IP.String(), d.IP.String()
		}
		// §2.1: "PROXY" SP proto SP src SP dst SP sport SP dport CRLF,
		// at most 107 bytes.
		return []byte("PROXY " + fam + " " + sa + " " + da + " " +
			strconv.Itoa(s.Port) + " " + strconv.Itoa(d.Port) + "\r\n"), nil
	case "v2":
		h := append([]byte(nil), proxyV2Signature[:]...)
		if !known {
			// version 2, command LOCAL (0x0); family UNSPEC; no addresses.
			return append(h, 0x20, 0x00, 0x00, 0x00), nil
		}
		var addrs []byte
		fam := byte(0x11) // AF_INET, STREAM
		if s4 != nil {
			addrs = append(append(addrs, s4...), d4...)
		} else {
			fam = 0x21 // AF_INET6, STREAM
			addrs = append(append(addrs, s.IP.To16()...), d.IP.To16()...)
		}
		addrs = binary.BigEndian.AppendUint16(addrs, uint16(s.Port))
		addrs = binary.BigEndian.AppendUint16(addrs, uint16(d.Port))
		h = append(h, 0x21, fam) // version 2, command PROXY (0x1)
		h = binary.BigEndian.AppendUint16(h, uint16(len(addrs)))
		return append(h, addrs...), nil
	}
	return nil, fmt.Errorf("PROXY protocol version %q: use v1 or v2", version)
}
