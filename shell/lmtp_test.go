package shell

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestLMTP plays RFC 2033 §4.2's case against a fake LMTP server: after
// the final dot each accepted recipient gets its own reply, in RCPT order,
// and the shell waits for all of them, labelled, before going on.
func TestLMTP(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		line := func() string { l, _ := r.ReadString('\n'); return strings.TrimRight(l, "\r\n") }
		fmt.Fprint(c, "220 lmtp.example LMTP ready\r\n")
		if l := line(); !strings.HasPrefix(l, "LHLO ") {
			fmt.Fprintf(c, "500 want LHLO, got %q\r\n", l)
			return
		}
		fmt.Fprint(c, "250-lmtp.example\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n")
		line()
		fmt.Fprint(c, "250 2.1.0 OK\r\n")
		line()
		fmt.Fprint(c, "250 2.1.5 OK\r\n") // pat
		line()
		fmt.Fprint(c, "550 5.1.1 No such user\r\n") // jones
		line()
		fmt.Fprint(c, "250 2.1.5 OK\r\n") // green
		line()
		fmt.Fprint(c, "354 Start mail input\r\n")
		for line() != "." {
		}
		fmt.Fprint(c, "250 2.0.0 <pat@foo.edu> delivered\r\n452 4.2.2 <green@foo.edu> is over quota\r\n")
		line()
		fmt.Fprint(c, "221 2.0.0 Bye\r\n")
	})
	out, _, err := runLines(t, addr, Config{NoExplain: true, LMTP: true},
		"LHLO client.example", "MAIL FROM:<chris@bar.com>", "RCPT TO:<pat@foo.edu>", "RCPT TO:<jones@foo.edu>", "RCPT TO:<green@foo.edu>",
		"DATA", "Subject: hi", "", "hello", ".", "expect 452", "QUIT")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	flat := stripNotes(out)
	for _, w := range []string{
		"LMTP: one reply per accepted recipient follows, in RCPT order (RFC 2033 §4.2): 2",
		"for <pat@foo.edu>:\nS: 250 2.0.0 <pat@foo.edu> delivered",
		"for <green@foo.edu>:\nS: 452 4.2.2",
		"expect 452: ok", "S: 221 2.0.0 Bye",
	} {
		if !strings.Contains(flat, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "nobody asked for") {
		t.Errorf("a reply was taken as unasked:\n%s", out)
	}
	// LHLO comes first in completion; EHLO is not legal in LMTP.
	s := &Session{cfg: Config{LMTP: true}, st: state{phase: PhaseHelo, lmtp: true}}
	if c := s.Complete(""); len(c) == 0 || c[0] != "LHLO " {
		t.Errorf("Complete(\"\") = %q, want LHLO first", c)
	}
}
