package pcapgen

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"
)

// SMTPConversation makes a realistic SMTP session numbered i: a 220
// greeting, EHLO, pipelined MAIL/RCPT (RFC 2920), a message of a random size
// up to maxBody bytes with dot-stuffed lines (RFC 5321 §4.5.2), QUIT. Some
// sessions use AUTH LOGIN or PLAIN (RFC 4954), some BDAT (RFC 3030), and
// some STARTTLS (RFC 3207) followed by random bytes standing for TLS
// records. The client is 10.x.y.z, the server 192.0.2.x port 25 or 587.
func SMTPConversation(i int, r *rand.Rand, start time.Time, maxBody int) Conv {
	cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i%60000))
	port := uint16(25)
	if i%5 == 4 {
		port = 587
	}
	srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%250)}), port)
	host := fmt.Sprintf("mx%d.example.net", i%250+1)
	var steps []Step
	ms := time.Millisecond
	S := func(s string) { steps = append(steps, Step{Dir: FromServer, Data: []byte(s), Delay: ms}) }
	C := func(s string) { steps = append(steps, Step{Dir: FromClient, Data: []byte(s), Delay: ms}) }
	S("220 " + host + " ESMTP Postfix\r\n")
	C(fmt.Sprintf("EHLO client%d.example.org\r\n", i))
	S("250-" + host + "\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n")
	mode := r.IntN(10)
	if mode == 0 {
		C("STARTTLS\r\n")
		S("220 2.0.0 Ready to start TLS\r\n")
		tls := make([]byte, 200+r.IntN(4000))
		for k := range tls {
			tls[k] = byte(r.Uint32())
		}
		tls[0] = 0x16 // a TLS handshake record
		steps = append(steps, Step{Dir: FromClient, Data: tls, Delay: ms})
		return Conv{Client: cli, Server: srv, Start: start, Steps: steps, End: "fin"}
	}
	user := fmt.Sprintf("user%d@example.org", i)
	switch mode {
	case 1:
		C("AUTH LOGIN\r\n")
		S("334 VXNlcm5hbWU6\r\n")
		C(base64.StdEncoding.EncodeToString([]byte(user)) + "\r\n")
		S("334 UGFzc3dvcmQ6\r\n")
		C(base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("secret%d", i))) + "\r\n")
		S("235 2.7.0 Authentication successful\r\n")
	case 2:
		C("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+fmt.Sprintf("secret%d", i))) + "\r\n")
		S("235 2.7.0 Authentication successful\r\n")
	}
	nrcpt := 1 + r.IntN(3)
	var cmds strings.Builder
	fmt.Fprintf(&cmds, "MAIL FROM:<%s>\r\n", user)
	for k := range nrcpt {
		fmt.Fprintf(&cmds, "RCPT TO:<rcpt%d.%d@example.com>\r\n", i, k)
	}
	body := messageBody(r, i, user, 1+r.IntN(max(maxBody, 1)))
	var replies strings.Builder
	replies.WriteString("250 2.1.0 Ok\r\n")
	for range nrcpt {
		replies.WriteString("250 2.1.5 Ok\r\n")
	}
	if mode == 3 {
		// BDAT: the chunk follows the command directly (RFC 3030 §2)
		raw := body
		cmds.WriteString(fmt.Sprintf("BDAT %d LAST\r\n", len(raw)))
		C(cmds.String() + raw)
		S(replies.String() + "250 2.0.0 Ok: queued as " + queueID(r) + "\r\n")
	} else {
		cmds.WriteString("DATA\r\n")
		C(cmds.String())
		S(replies.String() + "354 End data with <CR><LF>.<CR><LF>\r\n")
		C(dotStuff(body) + ".\r\n")
		S("250 2.0.0 Ok: queued as " + queueID(r) + "\r\n")
	}
	C("QUIT\r\n")
	S("221 2.0.0 Bye\r\n")
	return Conv{Client: cli, Server: srv, Start: start, Steps: steps, End: "fin"}
}

func queueID(r *rand.Rand) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 10)
	for k := range b {
		b[k] = hex[r.IntN(16)]
	}
	return string(b)
}

// messageBody makes a message of about n bytes with CRLF lines, some of
// them starting with a dot.
func messageBody(r *rand.Rand, i int, from string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <rcpt%d.0@example.com>\r\nSubject: test message %d\r\nMessage-ID: <%d.%d@example.org>\r\n\r\n", from, i, i, i, r.Uint32())
	const words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor"
	for b.Len() < n {
		if r.IntN(20) == 0 {
			b.WriteString(".")
		}
		l := 10 + r.IntN(66)
		start := r.IntN(len(words) - 10)
		line := words[start:min(len(words), start+l)]
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	return b.String()
}

// dotStuff doubles a leading dot on every line (RFC 5321 §4.5.2).
func dotStuff(s string) string {
	s = strings.ReplaceAll(s, "\r\n.", "\r\n..")
	if strings.HasPrefix(s, ".") {
		s = "." + s
	}
	return s
}

// Tunnel returns c as a client of an HTTP proxy records it (RFC 9110
// §9.3.6): the connection goes to proxy, the client sends request (a
// CONNECT for c's server, "CONNECT mx.example.net:25 HTTP/1.1\r\n…\r\n\r\n")
// and the proxy answers reply; c's steps follow, unless the reply is not
// 2xx (a 407 asking for credentials), when the proxy closes instead. With
// joinBanner, the proxy's answer and the server's first step share a
// segment, as when the proxy relays the greeting at once.
func Tunnel(c Conv, proxy netip.AddrPort, request, reply string, joinBanner bool) Conv {
	steps := []Step{{Dir: FromClient, Data: []byte(request), Delay: time.Millisecond}}
	ok := len(reply) >= 12 && reply[9] == '2'
	rest := c.Steps
	switch {
	case !ok:
		rest = nil
		steps = append(steps, Step{Dir: FromServer, Data: []byte(reply), Delay: time.Millisecond})
	case joinBanner && len(rest) > 0 && rest[0].Dir == FromServer:
		steps = append(steps, Step{Dir: FromServer, Data: append([]byte(reply), rest[0].Data...), Delay: time.Millisecond})
		rest = rest[1:]
	default:
		steps = append(steps, Step{Dir: FromServer, Data: []byte(reply), Delay: time.Millisecond})
	}
	c.Steps = append(steps, rest...)
	c.Server = proxy
	return c
}
