package capture

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchReply is a server reply and the client offset after which it is
// sent: after the command (or pipelined group) it answers.
type benchReply struct {
	after int
	text  string
}

// benchStream builds one conversation of about size bytes: 100 KiB messages
// of 76-character lines (some dot-stuffed), sent with DATA, pipelined.
func benchStream(size int) (client []byte, replies []benchReply) {
	var line strings.Builder
	for i := 0; i < 76; i++ {
		line.WriteByte(byte('a' + i%26))
	}
	l := line.String() + "\r\n"
	var body strings.Builder
	for body.Len() < 100<<10 {
		body.WriteString(l)
		if body.Len()%7 == 0 {
			body.WriteString("..stuffed\r\n")
		}
	}
	var cb strings.Builder
	replies = append(replies, benchReply{0, "220 mx.example.org ESMTP\r\n"})
	cb.WriteString("EHLO client.example\r\n")
	replies = append(replies, benchReply{cb.Len(), "250-mx.example.org\r\n250 PIPELINING\r\n"})
	for i := 0; cb.Len() < size; i++ {
		fmt.Fprintf(&cb, "MAIL FROM:<a%d@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n", i)
		replies = append(replies, benchReply{cb.Len(), "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"})
		cb.WriteString(body.String())
		cb.WriteString(".\r\n")
		replies = append(replies, benchReply{cb.Len(), "250 2.0.0 Ok: queued\r\n"})
	}
	cb.WriteString("QUIT\r\n")
	replies = append(replies, benchReply{cb.Len(), "221 2.0.0 Bye\r\n"})
	return []byte(cb.String()), replies
}

// BenchmarkConv decodes a 10 MB conversation delivered as 1448-byte
// segments (one Ethernet MSS), each reply right after the client segment
// that completes what it answers. "summary" keeps neither transcript nor
// messages (smtpsh capture --summary), "messages" keeps the messages
// (--extract), "transcript" keeps everything with a D: line per message
// line.
func BenchmarkConv(b *testing.B) {
	client, replies := benchStream(10 << 20)
	type seg struct {
		dir Direction
		p   []byte
	}
	var segs []seg
	total := int64(len(client))
	ri := 0
	for off := 0; off <= len(client); off += 1448 {
		end := min(off+1448, len(client))
		if end > off {
			segs = append(segs, seg{ClientToServer, client[off:end]})
		}
		for ; ri < len(replies) && replies[ri].after <= end; ri++ {
			segs = append(segs, seg{ServerToClient, []byte(replies[ri].text)})
			total += int64(len(replies[ri].text))
		}
	}
	for _, mode := range []struct {
		name string
		opts DecoderOptions
	}{
		{"summary", DecoderOptions{}},
		{"messages", DecoderOptions{KeepMessages: true}},
		{"transcript", DecoderOptions{KeepTranscript: true, KeepData: true, KeepMessages: true}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			b.SetBytes(total)
			b.ReportAllocs()
			var conv *Conversation
			for b.Loop() {
				d := NewDecoder(testInfo(25), mode.opts, nil)
				for _, s := range segs {
					d.Data(s.dir, testStart, s.p)
				}
				d.End(testStart.Add(time.Second), "fin")
				conv = d.Conversation()
			}
			if len(conv.Messages) < 50 || conv.Result != "250 2.0.0 Ok: queued" || !conv.Messages[len(conv.Messages)-1].Complete {
				b.Fatalf("decoded %d messages, result %q", len(conv.Messages), conv.Result)
			}
		})
	}
}
