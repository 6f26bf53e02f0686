package shell

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestXCLIENT runs Postfix's XCLIENT_README example against a fake server
// that answers as Postfix does: the command arrives with its values
// xtext-encoded, the 220 starts a new session, and the shell wants EHLO
// again.
func TestXCLIENT(t *testing.T) {
	got := make(chan string, 1)
	addr := fakeServer(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		line := func() string { l, _ := r.ReadString('\n'); return strings.TrimRight(l, "\r\n") }
		fmt.Fprint(c, "220 server.example.com ESMTP Postfix\r\n")
		line()
		fmt.Fprint(c, "250-server.example.com\r\n250-XCLIENT NAME ADDR PROTO HELO\r\n250 8BITMIME\r\n")
		got <- line()
		fmt.Fprint(c, "220 server.example.com ESMTP Postfix\r\n")
		line()
		fmt.Fprint(c, "250-server.example.com\r\n250 8BITMIME\r\n")
		line()
		fmt.Fprint(c, "221 2.0.0 Bye\r\n")
	})
	out, _, err := runLines(t, addr, Config{NoExplain: true},
		"EHLO client.example",
		":xclient FOO=1",
		":xclient NAME=spike.porcupine.org ADDR=168.100.189.2 HELO=a+b",
		"expect 220", "EHLO client.example", "expect 250", "QUIT")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if l := <-got; l != "XCLIENT NAME=spike.porcupine.org ADDR=168.100.189.2 HELO=a+2Bb" {
		t.Errorf("server got %q", l)
	}
	for _, w := range []string{`"FOO=1" is not NAME=value`, "XCLIENT accepted", "send EHLO again", "S: 221"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "nobody asked for") || strings.Contains(out, "out of place") {
		t.Errorf("the second EHLO was out of step:\n%s", out)
	}

}

// TestXFORWARDNotAdvertised: the lab offers no XFORWARD; the shell says so
// and still sends it, and the lab's 502 is shown.
func TestXFORWARDNotAdvertised(t *testing.T) {
	addr, _ := startLab(t, "default")
	out, _, _ := runLines(t, addr, Config{NoExplain: true}, "EHLO client.example", ":xforward ADDR=192.0.2.1", "QUIT")
	for _, w := range []string{"XFORWARD was not advertised", "C: XFORWARD ADDR=192.0.2.1", "S: 502"} {
		if !strings.Contains(out, w) && !strings.Contains(out, strings.TrimPrefix(w, "C: ")) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}
