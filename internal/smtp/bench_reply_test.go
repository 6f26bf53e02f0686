package smtp

import (
	"strings"
	"testing"
)

// benchReplies is a realistic session's worth of replies: a greeting, a
// Postfix EHLO, envelope answers, a Gmail multi-line rejection, DATA.
var benchReplies = strings.Join([]string{
	"220 mail.example.com ESMTP Postfix (Debian/GNU)\r\n",
	"250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n" +
		"250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
	"250 2.1.0 Ok\r\n",
	"250 2.1.5 Ok\r\n",
	"550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table\r\n",
	"550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n" +
		"550-5.1.1 double-checking the recipient's email address for typos or\r\n" +
		"550-5.1.1 unnecessary spaces. For more information, go to\r\n" +
		"550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp\r\n",
	"354 End data with <CR><LF>.<CR><LF>\r\n",
	"250 2.0.0 Ok: queued as 4Z1x2y3ABCz\r\n",
	"221 2.0.0 Bye\r\n",
}, "")

// cycleReader returns s over and over.
type cycleReader struct {
	s   string
	off int
}

func (c *cycleReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.s[c.off:])
		n += k
		c.off = (c.off + k) % len(c.s)
	}
	return n, nil
}

// BenchmarkReadReply measures ReadReplyInto on a stream of real replies;
// one op is one whole session (9 replies, 23 lines).
func BenchmarkReadReply(b *testing.B) {
	rr := NewReplyReader(&cycleReader{s: benchReplies}, nil)
	var r Reply
	n := 0
	for _, l := range strings.SplitAfter(benchReplies, "\r\n") {
		if len(l) > 3 && l[3] != '-' {
			n++
		}
	}
	b.SetBytes(int64(len(benchReplies)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for range n {
			if err := rr.ReadReplyInto(&r); err != nil {
				b.Fatal(err)
			}
		}
	}
}
