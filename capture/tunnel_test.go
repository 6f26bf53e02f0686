package capture

import (
	"bytes"
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/smtpsh/smtpsh/internal/pcapgen"
	"github.com/smtpsh/smtpsh/transcripts"
)

func TestParseConnect(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		target string
		port   uint16
		n      int // -1: the whole input
		ok     bool
	}{
		// RFC 9110 §9.3.6's example
		{"rfc9110", "CONNECT server.example.com:80 HTTP/1.1\r\nHost: server.example.com\r\n\r\n", "server.example.com:80", 80, -1, true},
		// what a spam tool sent in zeek's connect-with-smtp.pcap: a stray
		// "/" before the version and a header line without a colon
		{"zeek spam tool", "CONNECT mailin03.sul.t-online.de:25 / HTTP/1.0\r\nMozilla 4.0 (compatible; MSIE 5.01; Windows NT 5.0)\r\n\r\n", "mailin03.sul.t-online.de:25", 25, -1, true},
		// curl --proxytunnel and swaks --proxy send Host and User-Agent
		{"curl", "CONNECT 192.0.2.25:587 HTTP/1.1\r\nHost: 192.0.2.25:587\r\nUser-Agent: curl/7.88.1\r\nProxy-Connection: Keep-Alive\r\n\r\n", "192.0.2.25:587", 587, -1, true},
		{"ipv6 literal", "CONNECT [2001:db8::25]:25 HTTP/1.1\r\n\r\n", "[2001:db8::25]:25", 25, -1, true},
		{"bare LF", "CONNECT mx.example.net:2525 HTTP/1.0\n\n", "mx.example.net:2525", 2525, -1, true},
		{"bytes after the head are not the head's", "CONNECT mx.example.net:25 HTTP/1.1\r\n\r\nEHLO x\r\n", "mx.example.net:25", 25, 38, true},
		{"partial method", "CONN", "", 0, 0, true},
		{"line not ended", "CONNECT mx.example.net:25 HTTP/1.1\r\nHost: mx", "", 0, 0, true},
		{"head not ended", "CONNECT mx.example.net:25 HTTP/1.1\r\n\r", "", 0, 0, true},
		{"method is case-sensitive (RFC 9110 §9.1)", "connect mx.example.net:25 HTTP/1.1\r\n\r\n", "", 0, 0, false},
		{"GET", "GET http://example.com/ HTTP/1.1\r\n\r\n", "", 0, 0, false},
		{"SMTP", "EHLO client.example\r\n", "", 0, 0, false},
		{"no port", "CONNECT mx.example.net HTTP/1.1\r\n\r\n", "", 0, 0, false},
		{"port 0", "CONNECT mx.example.net:0 HTTP/1.1\r\n\r\n", "", 0, 0, false},
		{"port too big", "CONNECT mx.example.net:65536 HTTP/1.1\r\n\r\n", "", 0, 0, false},
		{"no version", "CONNECT mx.example.net:25\r\n\r\n", "", 0, 0, false},
		{"control byte in host", "CONNECT mx\x1b[2J.example.net:25 HTTP/1.1\r\n\r\n", "", 0, 0, false},
		{"target too long", "CONNECT " + strings.Repeat("a", 300) + ":25 HTTP/1.1\r\n\r\n", "", 0, 0, false},
		{"request line without end too long", "CONNECT " + strings.Repeat("a", 400), "", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, port, n, ok := parseConnect([]byte(tt.in))
			want := tt.n
			if want < 0 {
				want = len(tt.in)
			}
			if target != tt.target || port != tt.port || n != want || ok != tt.ok {
				t.Errorf("parseConnect(%q) = %q, %d, %d, %v; want %q, %d, %d, %v", tt.in, target, port, n, ok, tt.target, tt.port, want, tt.ok)
			}
		})
	}
}

func TestParseConnectReply(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		status int
		n      int // -1: the whole input
		ok     bool
	}{
		{"zeek capture", "HTTP/1.0 200 Connection established\r\n\r\n", 200, -1, true},
		{"squid", "HTTP/1.1 200 Connection established\r\n\r\n", 200, -1, true},
		{"tinyproxy", "HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n", 200, -1, true},
		{"no reason phrase (RFC 9112 §4)", "HTTP/1.1 200\r\n\r\n", 200, -1, true},
		{"banner in the same segment", "HTTP/1.1 200 OK\r\n\r\n220 mx.example.net ESMTP\r\n", 200, 19, true},
		{"squid 407", "HTTP/1.1 407 Proxy Authentication Required\r\nServer: squid/5.7\r\nProxy-Authenticate: Basic realm=\"proxy\"\r\nContent-Length: 0\r\n\r\n", 407, -1, true},
		{"403", "HTTP/1.1 403 Forbidden\r\n\r\n", 403, -1, true},
		{"partial version", "HTTP/", 0, 0, true},
		{"head not ended", "HTTP/1.1 200 Connection established\r\n", 0, 0, true},
		{"HTTP/2 is not a reply to CONNECT on the wire", "HTTP/2 200\r\n\r\n", 0, 0, false},
		{"SMTP greeting", "220 mx.example.net ESMTP\r\n", 0, 0, false},
		{"code not digits", "HTTP/1.1 2x0 OK\r\n\r\n", 0, 0, false},
		{"no space after code", "HTTP/1.1 200OK\r\n\r\n", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, n, ok := parseConnectReply([]byte(tt.in))
			want := tt.n
			if want < 0 {
				want = len(tt.in)
			}
			if status != tt.status || n != want || ok != tt.ok {
				t.Errorf("parseConnectReply(%q) = %d, %d, %v; want %d, %d, %v", tt.in, status, n, ok, tt.status, want, tt.ok)
			}
		})
	}
}

// decodeConvs decodes a capture file and returns its conversations by ID.
func decodeConvs(t *testing.T, files []string, data []byte, opts Options) map[int]*Conversation {
	t.Helper()
	var mu sync.Mutex
	convs := map[int]*Conversation{}
	h := &ConversationHandler{Options: DecoderOptions{KeepTranscript: true, KeepMessages: true},
		Done: func(c *Conversation) { mu.Lock(); convs[c.Info.ID] = c; mu.Unlock() }}
	var err error
	if files != nil {
		_, err = Decode(context.Background(), files, h, opts)
	} else {
		_, err = DecodeReader(context.Background(), "generated", bytes.NewReader(data), h, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	return convs
}

// connectEvent returns the transcript's connect event.
func connectEvent(t *testing.T, tr *transcripts.Transcript) transcripts.Event {
	t.Helper()
	for _, e := range tr.Events {
		if e.Kind == transcripts.Connect {
			return e
		}
	}
	t.Fatal("no connect event")
	return transcripts.Event{}
}

// connectPcap is the zeek capture of a spam run through an open HTTP proxy
// on port 8240.
const connectPcap = convPublicDir + "/zeek+zeek/testing/btest/Traces/http/connect-with-smtp.pcap"

// TestConnectTunnelZeek decodes the SMTP session inside zeek's capture of
// an HTTP CONNECT tunnel and compares it with tshark's decode.
//
// tshark 4.0 on its own (the .txt beside the capture) labels the tunnel's
// packets SMTP but with the sides swapped: no commands, no codes. Told
// which port the session is on,
//
//	tshark -r connect-with-smtp.pcap -d tcp.port==8240,smtp -Y smtp -T fields -e smtp.req.command -e smtp.req.parameter -e smtp.response.code
//
// it decodes the commands and codes below (TestPeerTsharkConnectTunnel runs
// it), except HELO: the only copy of that segment in the capture (frame 11)
// is labelled a retransmission, because frame 10 acknowledges past it, and
// tshark does not dissect retransmissions. The server's "250 Ok." in frame
// 13, the reply before MAIL's, is the evidence it was read.
var connectTshark = struct {
	requests []string
	codes    []int
}{
	requests: []string{"MAIL FROM:<nhfjenna_neumann@lycos.com>", "RCPT TO:<thenightwatch@t-online.de>", "DATA", "QUIT"},
	codes:    []int{220, 250, 250, 250, 354, 250, 221},
}

func TestConnectTunnelZeek(t *testing.T) {
	convs := decodeConvs(t, []string{connectPcap}, nil, Options{Detect: true})
	if len(convs) != 1 {
		t.Fatalf("%d conversations, want 1", len(convs))
	}
	conv := convs[1]
	checkConnectZeek(t, conv, connectTshark.requests, connectTshark.codes)
}

func checkConnectZeek(t *testing.T, conv *Conversation, tsharkRequests []string, tsharkCodes []int) {
	t.Helper()
	if got := replyCodes(conv.Transcript); !slices.Equal(got, tsharkCodes) {
		t.Errorf("reply codes %v, tshark's %v", got, tsharkCodes)
	}
	got := requests(conv)
	if want := append([]string{"HELO 208.191.73.21"}, tsharkRequests...); !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q (tshark's and the HELO it misses)", got, want)
	}
	if conv.Info.Target != "mailin03.sul.t-online.de:25" || conv.Info.ServerName() != conv.Info.Target {
		t.Errorf("target %q, server name %q", conv.Info.Target, conv.Info.ServerName())
	}
	if conv.Info.Server != netip.MustParseAddrPort("254.228.86.79:8240") || conv.Info.Client != netip.MustParseAddrPort("79.26.245.236:3378") {
		t.Errorf("client %v, server (the proxy) %v", conv.Info.Client, conv.Info.Server)
	}
	e := connectEvent(t, conv.Transcript)
	if e.Addr != "mailin03.sul.t-online.de:25" || e.Via != "http://254.228.86.79:8240" {
		t.Errorf("connect event: addr %q via %q", e.Addr, e.Via)
	}
	if conv.Transcript.Server != "mailin03.sul.t-online.de:25" {
		t.Errorf("transcript server %q", conv.Transcript.Server)
	}
	// The FINs (frames 27 and 29) are at relative sequence numbers 224 and
	// 1686: the server sent 223 bytes, the client 1685. tshark -qz
	// follow,tcp,ascii,0 shows 103 bytes of request and 39 of answer
	// before the greeting; the rest is the SMTP session's.
	if want := [2]int64{1685 - 103, 223 - 39}; conv.ClientBytes != want[0] || conv.ServerBytes != want[1] {
		t.Errorf("bytes client %d server %d, want %d and %d (the connection's less the preamble)", conv.ClientBytes, conv.ServerBytes, want[0], want[1])
	}
	if len(conv.Messages) != 1 || !conv.Messages[0].Complete || conv.Transactions[0].ResultCode != 250 {
		t.Errorf("messages %d, want 1 complete and accepted", len(conv.Messages))
	}
}

// TestPeerTsharkConnectTunnel runs tshark on zeek's CONNECT capture, told
// the session's port, and compares its commands and codes with ours.
func TestPeerTsharkConnectTunnel(t *testing.T) {
	out := tshark(t, "-r", connectPcap, "-d", "tcp.port==8240,smtp", "-Y", "smtp", "-T", "fields",
		"-e", "smtp.req.command", "-e", "smtp.req.parameter", "-e", "smtp.response.code")
	var reqs []string
	var codes []int
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			t.Fatalf("tshark line %q", l)
		}
		if f[0] != "" {
			reqs = append(reqs, strings.TrimSpace(f[0]+" "+f[1]))
		}
		if n, err := strconv.Atoi(f[2]); err == nil {
			codes = append(codes, n)
		}
	}
	if !slices.Equal(reqs, connectTshark.requests) || !slices.Equal(codes, connectTshark.codes) {
		t.Errorf("tshark now decodes %q %v; the test's record is %q %v", reqs, codes, connectTshark.requests, connectTshark.codes)
	}
	convs := decodeConvs(t, []string{connectPcap}, nil, Options{Detect: true})
	if len(convs) != 1 {
		t.Fatalf("%d conversations, want 1", len(convs))
	}
	checkConnectZeek(t, convs[1], reqs, codes)
}

// TestConnectTunnelGenerated writes SMTP sessions through an HTTP proxy in
// the ways proxies answer, and checks which become conversations and what
// they hold.
func TestConnectTunnelGenerated(t *testing.T) {
	proxy := netip.MustParseAddrPort("198.51.100.8:3128")
	const squid200 = "HTTP/1.1 200 Connection established\r\n\r\n"
	req := func(target string) string {
		return "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\nUser-Agent: swaks\r\n\r\n"
	}
	tests := []struct {
		name       string
		request    string
		reply      string
		joinBanner bool
		mss        int
		detect     bool
		want       bool // an SMTP conversation
	}{
		{"squid 200", req("192.0.2.1:25"), squid200, false, 0, true, true},
		{"banner in the proxy's segment", req("192.0.2.1:25"), squid200, true, 0, true, true},
		{"preamble split byte by byte", req("192.0.2.1:587"), squid200, true, 1, true, true},
		{"preamble split in 7-byte segments", req("192.0.2.1:587"), "HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n", false, 7, true, true},
		{"target on another port: decided from content", req("mx.example.net:2526"), squid200, false, 0, true, true},
		{"407: not SMTP", req("192.0.2.1:25"), "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"squid\"\r\nContent-Length: 0\r\n\r\n", false, 0, true, false},
		{"502: not SMTP", req("192.0.2.1:25"), "HTTP/1.1 502 Bad Gateway\r\n\r\n", false, 0, true, false},
		{"no detection: the proxy's port is not looked at", req("192.0.2.1:25"), squid200, false, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			convs := genConvs(3, 11, 2000)
			for i := range convs {
				convs[i] = pcapgen.Tunnel(convs[i], netip.AddrPortFrom(proxy.Addr(), proxy.Port()+uint16(i)), tt.request, tt.reply, tt.joinBanner)
			}
			// one direct session beside them, on port 25
			direct := genConvs(4, 11, 2000)[3]
			all := append(convs, direct)
			var buf bytes.Buffer
			if _, err := pcapgen.Write(&buf, all, pcapgen.Options{MSS: tt.mss, Interleave: true, Seed: 3}); err != nil {
				t.Fatal(err)
			}
			got := decodeConvs(t, nil, buf.Bytes(), Options{Detect: tt.detect})
			byClient := map[netip.AddrPort]*Conversation{}
			for _, c := range got {
				byClient[c.Info.Client] = c
			}
			if c := byClient[direct.Client]; c == nil || c.Info.Target != "" || c.Info.Via() != "" {
				t.Errorf("the direct session: %+v", c)
			}
			orig := genConvs(3, 11, 2000)
			for i, cv := range convs {
				c := byClient[cv.Client]
				if !tt.want {
					if c != nil {
						t.Errorf("conversation %d: decoded as SMTP, info %+v", i, c.Info)
					}
					continue
				}
				if c == nil {
					t.Errorf("conversation %d: not decoded", i)
					continue
				}
				target := strings.Fields(tt.request)[1]
				if c.Info.Target != target || c.Info.Server != cv.Server {
					t.Errorf("conversation %d: target %q server %v, want %q %v", i, c.Info.Target, c.Info.Server, target, cv.Server)
				}
				e := connectEvent(t, c.Transcript)
				if e.Addr != target || e.Via != "http://"+cv.Server.String() {
					t.Errorf("conversation %d: connect event addr %q via %q", i, e.Addr, e.Via)
				}
				// the session's bytes, less the preamble, are all there
				var sent [2]int64
				for _, s := range orig[i].Steps {
					sent[s.Dir] += int64(len(s.Data))
				}
				if c.ClientBytes != sent[0] || c.ServerBytes != sent[1] {
					t.Errorf("conversation %d: %d/%d bytes, the session sent %d/%d", i, c.ClientBytes, c.ServerBytes, sent[0], sent[1])
				}
				if len(c.Exchanges) == 0 || c.Greeting == "" || !strings.HasPrefix(c.Greeting, "220 ") {
					t.Errorf("conversation %d: greeting %q, %d exchanges", i, c.Greeting, len(c.Exchanges))
				}
				if c.Exchanges[0].Verb != "EHLO" {
					t.Errorf("conversation %d: first command %q, want EHLO", i, c.Exchanges[0].Line)
				}
			}
		})
	}
}

// FuzzParseConnect: the preamble readers never panic, never claim more
// bytes than they were given, and what they accept reads back.
func FuzzParseConnect(f *testing.F) {
	f.Add([]byte("CONNECT mailin03.sul.t-online.de:25 / HTTP/1.0\r\nMozilla 4.0 (compatible; MSIE 5.01; Windows NT 5.0)\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"squid\"\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 200 Connection established\r\n\r\n220 mx ESMTP\r\n"))
	f.Add([]byte("CONNECT [2001:db8::25]:25 HTTP/1.1\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		target, port, n, ok := parseConnect(b)
		if n < 0 || n > len(b) || (n > 0 && !ok) {
			t.Fatalf("parseConnect: n %d of %d, ok %v", n, len(b), ok)
		}
		if n > 0 {
			if !bytes.Contains(b[:n], []byte(target)) || port == 0 || len(target) > maxTarget {
				t.Fatalf("parseConnect: target %q port %d not from %q", target, port, b[:n])
			}
			if p, ok := authorityPort(target); !ok || p != port {
				t.Fatalf("target %q does not read back", target)
			}
		}
		status, m, ok := parseConnectReply(b)
		if m < 0 || m > len(b) || (m > 0 && (!ok || status < 100 || status > 999)) {
			t.Fatalf("parseConnectReply: status %d, n %d of %d, ok %v", status, m, len(b), ok)
		}
	})
}
