package dial

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"
	"time"
)

func tcpAddr(ip string, port int) *net.TCPAddr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }

// TestProxyHeader checks headers against haproxy's proxy-protocol.txt:
// §2.1's examples and worst cases for v1, §2.2's byte layout for v2.
func TestProxyHeader(t *testing.T) {
	sig := "\r\n\r\n\x00\r\nQUIT\n" // §2.2: the 12-byte signature
	cases := []struct {
		name, version string
		src, dst      net.Addr
		want          string
	}{
		{"v1-tcp4", "v1", tcpAddr("192.168.0.1", 56324), tcpAddr("192.168.0.11", 443), "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"},
		// §2.1: the longest TCP4 line.
		{"v1-tcp4-worst", "v1", tcpAddr("255.255.255.255", 65535), tcpAddr("255.255.255.255", 65535), "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"},
		// §2.1: the longest line of all, 104 bytes (under the 107 limit).
		{"v1-tcp6-worst", "v1", tcpAddr("ffff:f:ffff:ffff:ffff:ffff:ffff:ffff", 65535), tcpAddr("ffff:f:ffff:ffff:ffff:ffff:ffff:ffff", 65535), "PROXY TCP6 ffff:f:ffff:ffff:ffff:ffff:ffff:ffff ffff:f:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"},
		{"v1-mixed-families", "v1", tcpAddr("192.0.2.1", 1), tcpAddr("2001:db8::1", 25), "PROXY UNKNOWN\r\n"},
		{"v1-unknown", "v1", tcpAddr("192.0.2.1", 1), nil, "PROXY UNKNOWN\r\n"},
		// ver_cmd 0x21 (v2, PROXY), fam 0x11 (TCP over IPv4), len 12.
		{"v2-tcp4", "v2", tcpAddr("192.168.0.1", 56324), tcpAddr("192.168.0.11", 443),
			sig + "\x21\x11\x00\x0c" + "\xc0\xa8\x00\x01" + "\xc0\xa8\x00\x0b" + "\xdc\x04" + "\x01\xbb"},
		// fam 0x21 (TCP over IPv6), len 36.
		{"v2-tcp6", "v2", tcpAddr("2001:db8::1", 1025), tcpAddr("::1", 25),
			sig + "\x21\x21\x00\x24" + "\x20\x01\x0d\xb8" + "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01" +
				"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01" + "\x04\x01" + "\x00\x19"},
		// §2.2: LOCAL (0x20) with AF_UNSPEC and no addresses.
		{"v2-local", "v2", nil, tcpAddr("192.0.2.1", 25), sig + "\x20\x00\x00\x00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ProxyHeader(tc.version, tc.src, tc.dst)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if tc.version == "v1" && len(got) > 107 {
				t.Errorf("v1 header of %d bytes, over §2.1's 107", len(got))
			}
		})
	}
	if _, err := ProxyHeader("v3", nil, nil); err == nil {
		t.Error("v3 accepted")
	}
}

// TestDialProxyProtocol checks that the header is the first thing the
// server reads, with the connection's real addresses.
func TestDialProxyProtocol(t *testing.T) {
	for _, v := range []string{"v1", "v2"} {
		t.Run(v, func(t *testing.T) {
			got := make(chan []byte, 1)
			addr := fakePeer(t, func(c net.Conn) error {
				b := make([]byte, 128)
				c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				n, _ := bufio.NewReader(c).Read(b)
				got <- b[:n]
				return nil
			})
			c, err := Dial(context.Background(), addr, Options{ProxyProtocol: v, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			want, _ := ProxyHeader(v, c.raw.LocalAddr(), c.raw.RemoteAddr())
			h := <-got
			if !bytes.Equal(h, want) {
				t.Errorf("server read %q, want %q", h, want)
			}
			local := c.raw.LocalAddr().(*net.TCPAddr)
			if v == "v1" && string(h) != fmt.Sprintf("PROXY TCP4 127.0.0.1 127.0.0.1 %d %s\r\n", local.Port, addr[len("127.0.0.1:"):]) {
				t.Errorf("v1 header %q does not carry the connection's ports", h)
			}
			if c.Path().ProxyProtocol != v {
				t.Errorf("Path.ProxyProtocol = %q", c.Path().ProxyProtocol)
			}
		})
	}
}
