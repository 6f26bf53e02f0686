package transcripts

import (
	"crypto/tls"
	"maps"
	"time"
)

// Kind says what an Event is.
type Kind uint8

// The kinds of event. Client, Server and Data carry protocol text; the others
// are what the text format writes after "*:".
const (
	// Client is one line the client sent, without its CRLF: a command, a
	// SASL response, or the "." that ends DATA (RFC 5321 §4.1.1.4).
	Client Kind = iota + 1
	// Server is one line of a server reply, without its CRLF; a multi-line
	// reply is one Server event per line (RFC 5321 §4.2.1).
	Server
	// Data is one line of message content sent in DATA mode, between the
	// 354 reply and the terminating ".", dot-stuffed as on the wire
	// (RFC 5321 §4.5.2): a content line ".x" is recorded as "..x".
	Data
	// TLS is an upgrade to TLS, by implicit TLS or STARTTLS (RFC 3207).
	TLS
	// Connect is a connection being opened, possibly through a proxy.
	Connect
	// Close is a connection being closed, by which side and why.
	Close
	// Gap is bytes a packet capture lost in one direction.
	Gap
	// Note is free text from the tool, not part of the conversation.
	Note
)

var kindNames = [...]string{
	Client:  "client",
	Server:  "server",
	Data:    "data",
	TLS:     "tls",
	Connect: "connect",
	Close:   "close",
	Gap:     "gap",
	Note:    "note",
}

// String returns the kind's name as the formats write it: "client",
// "server", "data", "tls", "connect", "close", "gap" or "note".
func (k Kind) String() string {
	if k >= Client && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

func (k Kind) valid() bool { return k >= Client && k <= Note }

func kindByName(s string) (Kind, bool) {
	for k := Client; k <= Note; k++ {
		if kindNames[k] == s {
			return k, true
		}
	}
	return 0, false
}

// Side names one end of the connection, for Close and Gap events.
type Side uint8

// The sides. The zero value is SideUnknown.
const (
	SideUnknown Side = iota
	SideClient
	SideServer
)

// String returns "unknown", "client" or "server".
func (s Side) String() string {
	switch s {
	case SideClient:
		return "client"
	case SideServer:
		return "server"
	case SideUnknown:
		return "unknown"
	}
	return "invalid"
}

func sideByName(s string) (Side, bool) {
	switch s {
	case "client":
		return SideClient, true
	case "server":
		return SideServer, true
	case "unknown":
		return SideUnknown, true
	}
	return 0, false
}

// TLSInfo describes a TLS session as a transcript records it: names, not
// numbers, so that a transcript read back without the session says the same.
type TLSInfo struct {
	Version     string // protocol version in OpenSSL's spelling: "TLSv1.3"
	CipherSuite string // IANA name: "TLS_AES_128_GCM_SHA256"
	CertSubject string // the server leaf certificate's subject: "CN=lab.smtpsh.test"
	ServerName  string // the SNI the client sent, if any
	ALPN        string // the negotiated application protocol, if any
}

// NewTLSInfo describes cs, a completed handshake.
func NewTLSInfo(cs *tls.ConnectionState) TLSInfo {
	info := TLSInfo{
		Version:     versionName(cs.Version),
		CipherSuite: tls.CipherSuiteName(cs.CipherSuite),
		ServerName:  cs.ServerName,
		ALPN:        cs.NegotiatedProtocol,
	}
	if len(cs.PeerCertificates) > 0 {
		info.CertSubject = cs.PeerCertificates[0].Subject.String()
	}
	return info
}

// versionName spells a TLS version the way openssl s_client and most MTA logs
// do ("TLSv1.3"), which is what people search for.
func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1.0"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return tls.VersionName(v)
}

// Event is one thing that happened in a conversation. Which fields are
// meaningful depends on Kind; the writers ignore the others.
type Event struct {
	Kind Kind
	// Time is when the event happened, absolute; zero when unknown.
	Time time.Time
	// Text is the line for Client, Server and Data (no CRLF); the free text
	// of a Note; the reason of a Close (may be empty).
	Text string
	// Redacted is true for a Client line whose secret part Redact replaced
	// with "<redacted>".
	Redacted bool
	// TLS describes a TLS event.
	TLS *TLSInfo
	// Addr is the address a Connect event connected to; Via is the proxy it
	// went through ("socks5://127.0.0.1:1080"), empty for a direct connection.
	Addr, Via string
	// Side is who closed (Close) or whose bytes were lost (Gap).
	Side Side
	// Bytes is how many bytes a Gap lost.
	Bytes int64
}

// Transcript is a whole SMTP conversation: who talked, when it started, and
// its events in order. It is not safe for concurrent use.
type Transcript struct {
	// Server and Client are the two ends' addresses ("127.0.0.1:2525").
	Server, Client string
	// Started is when the conversation began; relative times in the text
	// format count from it. Events may carry times only when it is set.
	Started time.Time
	// Source says where the transcript came from: "live", "pcap:FILE",
	// "lesson:NAME", "replay:FILE", ….
	Source string
	// Meta holds any other metadata, by lower-case key.
	Meta map[string]string
	// Events are the conversation's events, in order.
	Events []Event
}

// AddClient appends a line the client sent.
func (t *Transcript) AddClient(at time.Time, line string) {
	t.Events = append(t.Events, Event{Kind: Client, Time: at, Text: line})
}

// AddServer appends one server reply line.
func (t *Transcript) AddServer(at time.Time, line string) {
	t.Events = append(t.Events, Event{Kind: Server, Time: at, Text: line})
}

// AddData appends one line of message content, dot-stuffed as sent.
func (t *Transcript) AddData(at time.Time, line string) {
	t.Events = append(t.Events, Event{Kind: Data, Time: at, Text: line})
}

// AddTLS appends a TLS upgrade.
func (t *Transcript) AddTLS(at time.Time, info TLSInfo) {
	t.Events = append(t.Events, Event{Kind: TLS, Time: at, TLS: &info})
}

// AddConnect appends a connection to addr, through the proxy via if not empty.
func (t *Transcript) AddConnect(at time.Time, addr, via string) {
	t.Events = append(t.Events, Event{Kind: Connect, Time: at, Addr: addr, Via: via})
}

// AddClose appends the connection being closed by side, for reason (may be empty).
func (t *Transcript) AddClose(at time.Time, side Side, reason string) {
	t.Events = append(t.Events, Event{Kind: Close, Time: at, Side: side, Text: reason})
}

// AddGap appends n bytes lost from side's direction of a capture.
func (t *Transcript) AddGap(at time.Time, side Side, n int64) {
	t.Events = append(t.Events, Event{Kind: Gap, Time: at, Side: side, Bytes: n})
}

// AddNote appends free text from the tool.
func (t *Transcript) AddNote(at time.Time, text string) {
	t.Events = append(t.Events, Event{Kind: Note, Time: at, Text: text})
}

// Clone returns a deep copy of t.
func (t *Transcript) Clone() *Transcript {
	c := *t
	c.Meta = maps.Clone(t.Meta)
	c.Events = make([]Event, len(t.Events))
	for i, e := range t.Events {
		if e.TLS != nil {
			info := *e.TLS
			e.TLS = &info
		}
		c.Events[i] = e
	}
	return &c
}

// Equal reports whether t and u hold the same metadata and events. Times are
// compared as instants (time.Time.Equal); a nil and an empty Meta are equal.
func (t *Transcript) Equal(u *Transcript) bool {
	if t.Server != u.Server || t.Client != u.Client || t.Source != u.Source ||
		!t.Started.Equal(u.Started) || !maps.Equal(t.Meta, u.Meta) || len(t.Events) != len(u.Events) {
		return false
	}
	for i := range t.Events {
		if !t.Events[i].Equal(u.Events[i]) {
			return false
		}
	}
	return true
}

// Equal reports whether e and f are the same event, comparing times as
// instants and TLS details by value.
func (e Event) Equal(f Event) bool {
	if (e.TLS == nil) != (f.TLS == nil) || e.TLS != nil && *e.TLS != *f.TLS {
		return false
	}
	return e.Kind == f.Kind && e.Time.Equal(f.Time) && e.Text == f.Text && e.Redacted == f.Redacted &&
		e.Addr == f.Addr && e.Via == f.Via && e.Side == f.Side && e.Bytes == f.Bytes
}
