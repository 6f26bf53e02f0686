package capture

import (
	"net/netip"
	"time"
)

// Direction of bytes in a TCP connection.
type Direction uint8

const (
	// ClientToServer is the direction of commands (and of the SYN, when captured).
	ClientToServer Direction = iota
	// ServerToClient is the direction of replies, starting with the 220 greeting.
	ServerToClient
)

// String returns "client" or "server", naming the sender.
func (d Direction) String() string {
	if d == ServerToClient {
		return "server"
	}
	return "client"
}

// ConnInfo identifies one TCP connection.
type ConnInfo struct {
	ID     int // 1-based, in order of the connection's first packet across the capture
	Client netip.AddrPort
	Server netip.AddrPort
	Start  time.Time // capture time of its first packet
	SawSYN bool      // the handshake was captured (roles known from it)
	// Target is set when the connection is a tunnel through an HTTP proxy:
	// the "host:port" of the client's CONNECT request (RFC 9110 §9.3.6),
	// which the proxy answered 2xx. Server is then the proxy, and the bytes
	// delivered are those after the proxy's answer.
	Target string
}

// ServerName names the SMTP server: the tunnel's target when the
// connection went through a proxy, else the server's address.
func (i ConnInfo) ServerName() string {
	if i.Target != "" {
		return i.Target
	}
	return addrString(i.Server)
}

// Via names the proxy a tunnelled connection went through as a URL
// ("http://192.0.2.8:3128"), the form of a transcript's connect event; ""
// for a direct connection.
func (i ConnInfo) Via() string {
	if i.Target == "" {
		return ""
	}
	return "http://" + addrString(i.Server)
}

// ServerPort is the SMTP server's port: the tunnel target's, else the
// server's.
func (i ConnInfo) ServerPort() uint16 {
	if i.Target != "" {
		if p, ok := authorityPort(i.Target); ok {
			return p
		}
	}
	return i.Server.Port()
}

// Conn receives one connection's bytes in stream order. Calls for one Conn come from one
// goroutine, in capture order across both directions (reassembly's two-way stream order);
// different Conns may be called from different goroutines at once.
type Conn interface {
	// Data delivers the next bytes sent in dir; p is only valid during the call.
	Data(dir Direction, at time.Time, p []byte)
	// Gap reports n bytes missing (lost segments) in dir.
	Gap(dir Direction, at time.Time, n int64)
	// End is the last call: reason is "fin", "rst", "idle", "end of capture"
	// (also after a read error) or "cancelled".
	End(at time.Time, reason string)
}

// Handler makes a Conn for each connection that is SMTP. It must be safe
// for concurrent use.
type Handler interface {
	Open(info ConnInfo) Conn
}

// DefaultPorts returns the server ports taken as SMTP when Options.Ports is nil:
// 25 (RFC 5321), 465 (implicit TLS, RFC 8314 §3.3), 587 (submission, RFC 6409)
// and 2525 (a common unofficial alternative). It is a function, not a variable,
// so that no caller can change it for everyone.
func DefaultPorts() []uint16 { return []uint16{25, 465, 587, 2525} }

// Options tune Decode, DecodeReader and Live.
type Options struct {
	Ports            []uint16                // server ports taken as SMTP; nil = DefaultPorts
	Detect           bool                    // also decide from content on other ports
	Workers          int                     // reassembly workers; 0 = runtime.GOMAXPROCS(0)
	MaxBufferedBytes int64                   // bound on out-of-order data held; 0 = 64 MiB total
	Progress         func(done, total int64) // optional, bytes of input read (total 0 if unknown)
}

// Stats counts what a decode saw.
type Stats struct {
	Files      int64            // capture files opened
	Packets    int64            // packet records read
	Bytes      int64            // bytes of input read (as stored: compressed for .gz)
	TCPPackets int64            // packets that carried a TCP segment
	Conns      int64            // TCP connections seen (ConnInfo.ID counts them)
	SMTPConns  int64            // connections handed to the Handler
	Skipped    map[string]int64 // packets not used, by reason: "non-IP", "non-TCP", "truncated", "fragment"…
}
