package capture

import (
	"bufio"
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLive records an SMTP exchange over loopback with Live. As root it
// checks the bytes of both directions; without root it checks that the
// error says root is needed.
func TestLive(t *testing.T) {
	if os.Geteuid() != 0 {
		_, err := Live(context.Background(), "lo", newRecorder(), Options{})
		if err == nil || !strings.Contains(err.Error(), "root") {
			t.Fatalf("without root: error %v, want one that says root is needed", err)
		}
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var st Stats
	var lerr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		st, lerr = Live(ctx, "lo", rec, Options{Ports: []uint16{port}})
	}()
	time.Sleep(300 * time.Millisecond) // the socket is open
	greeting, reply := "220 live.test ESMTP\r\n", "250 live.test\r\n221 bye\r\n"
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte(greeting))
		br := bufio.NewReader(c)
		br.ReadString('\n')
		br.ReadString('\n')
		c.Write([]byte(reply))
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	br.ReadString('\n')
	c.Write([]byte("EHLO me\r\nQUIT\r\n"))
	br.ReadString('\n')
	br.ReadString('\n')
	c.Close()
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
	if lerr != nil {
		t.Fatal(lerr)
	}
	rec.checkEnded(t)
	var found bool
	for _, c := range rec.conns {
		if c.info.Server.Port() != port {
			continue
		}
		found = true
		if got := string(c.data[ServerToClient]); got != greeting+reply {
			t.Errorf("server bytes %q", got)
		}
		if got := string(c.data[ClientToServer]); got != "EHLO me\r\nQUIT\r\n" {
			t.Errorf("client bytes %q", got)
		}
		if !c.info.SawSYN {
			t.Errorf("SawSYN false")
		}
	}
	if !found {
		t.Errorf("connection to port %d not decoded; stats %+v", port, st)
	}
}
