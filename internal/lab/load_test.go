package lab

import (
	"bufio"
	"context"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestThousandIdleConnections opens 1,000 concurrent connections that
// each read the banner and then sit idle, and checks that the server's
// memory and goroutines stay bounded and that Shutdown closes them all.
// Not timed: the bounds are on resources, not speed.
func TestThousandIdleConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	const n = 1000
	l := startLab(t, "default", labOptions{})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	conns := make([]net.Conn, 0, n)
	readers := make([]*bufio.Reader, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := net.DialTimeout("tcp", l.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		readers = append(readers, bufio.NewReaderSize(c, 128))
	}
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			line, err := readers[i].ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "220 lab.smtpsh.test ") {
				errs <- line + " " + errString(err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("a connection got no banner: %s", e)
	}
	if got := l.srv.ActiveSessions(); got != n {
		t.Fatalf("ActiveSessions() = %d, want %d", got, n)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapInuse+after.StackInuse) - int64(before.HeapInuse+before.StackInuse)
	perConn := grown / n
	g := runtime.NumGoroutine() - g0
	t.Logf("%d idle sessions: heap+stack grew %d KiB (%d bytes per session, both ends in this process), %d goroutines", n, grown>>10, perConn, g)
	// One goroutine per session (the client side here has none left);
	// the generous bound leaves room for the runtime's own.
	if g > n+50 {
		t.Errorf("%d goroutines for %d sessions", g, n)
	}
	// Both ends live in this process: ~8 KiB of buffers and a small
	// stack per session; 64 KiB a session means a buffer is unbounded.
	if perConn > 64<<10 {
		t.Errorf("%d bytes per idle session", perConn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := l.srv.ActiveSessions(); got != 0 {
		t.Errorf("%d sessions after Shutdown", got)
	}
	// Every client is told why and then closed.
	c := readers[n/2]
	line, _ := c.ReadString('\n')
	if !strings.HasPrefix(line, "421 4.3.2 ") {
		t.Errorf("idle client got %q at Shutdown", line)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
