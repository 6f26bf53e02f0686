package smtp

import (
	"fmt"
	"testing"
)

// commandMix is one realistic submission session: EHLO, MAIL with SIZE and
// BODY, a batch of RCPT with DSN parameters, DATA, the next transaction
// with BDAT, and QUIT.
func commandMix() []string {
	lines := []string{
		"EHLO client.example.net",
		"MAIL FROM:<newsletter-bounces+alice=example.org@lists.example.net> SIZE=48213 BODY=8BITMIME",
	}
	for i := 0; i < 10; i++ {
		lines = append(lines, fmt.Sprintf("RCPT TO:<user%d@example.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;user%d+40example.org", i, i))
	}
	return append(lines,
		"DATA",
		"RSET",
		"MAIL FROM:<> RET=HDRS ENVID=QQ314159",
		"RCPT TO:<postmaster@example.org>",
		"BDAT 48213 LAST",
		"QUIT",
	)
}

func BenchmarkParseCommand(b *testing.B) {
	lines := commandMix()
	n := 0
	for _, l := range lines {
		n += len(l) + 2 // with CRLF, as on the wire
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			if _, err := ParseCommand(l); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(lines)), "cmds/op")
}
