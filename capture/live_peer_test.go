package capture

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tinySMTP serves one SMTP session on ln and records the bytes both ways.
func tinySMTP(ln net.Listener, in, out *bytes.Buffer, done chan<- struct{}) {
	defer close(done)
	c, err := ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	w := io.MultiWriter(c, out)
	br := bufio.NewReader(io.TeeReader(c, in))
	io.WriteString(w, "220 peer.test ESMTP\r\n")
	data := false
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if data {
			if l == ".\r\n" {
				data = false
				io.WriteString(w, "250 2.0.0 queued\r\n")
			}
			continue
		}
		switch v := strings.ToUpper(strings.Fields(l + " x")[0]); v {
		case "EHLO":
			io.WriteString(w, "250-peer.test\r\n250 PIPELINING\r\n")
		case "DATA":
			data = true
			io.WriteString(w, "354 go ahead\r\n")
		case "QUIT":
			io.WriteString(w, "221 bye\r\n")
			return
		default:
			io.WriteString(w, "250 ok\r\n")
		}
	}
}

// TestPeerTcpdumpLoopback records Python's smtplib talking to a small
// server on loopback with tcpdump (-i lo: Ethernet; -i any: Linux SLL2) and
// checks that the decoded bytes equal what the server read and wrote.
func TestPeerTcpdumpLoopback(t *testing.T) {
	tcpdump, err1 := exec.LookPath("tcpdump")
	python, err2 := exec.LookPath("python3")
	if err1 != nil || err2 != nil || os.Geteuid() != 0 {
		if os.Getenv("SMTPSH_PEERS") == "1" {
			t.Fatal("tcpdump, python3 and root are needed with SMTPSH_PEERS=1")
		}
		t.Skip("needs tcpdump, python3 and root")
	}
	for _, iface := range []string{"lo", "any"} {
		t.Run(iface, func(t *testing.T) {
			// tcpdump -i any on a loaded machine now and then writes a
			// file that stops early (its fault, not the decoder's: the
			// bytes are not in the file). Such a recording is made again,
			// at most twice; a complete one is checked strictly.
			var path string
			var in, out bytes.Buffer
			var port int
			for attempt := 1; ; attempt++ {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				port = ln.Addr().(*net.TCPAddr).Port
				var stop func([]byte) bool
				path, stop = startTcpdump(t, tcpdump, iface, port)
				in.Reset()
				out.Reset()
				done := make(chan struct{})
				go tinySMTP(ln, &in, &out, done)
				script := `import smtplib,sys
s=smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.sendmail("a@example.org", ["b@example.net","c@example.net"], "Subject: hi\r\n\r\n.leading dot\r\nbody\r\n")
s.quit()`
				if outp, err := exec.Command(python, "-c", script, itoa(port)).CombinedOutput(); err != nil {
					ln.Close()
					t.Fatalf("smtplib: %v %s", err, outp)
				}
				<-done
				ln.Close()
				if stop([]byte("221 bye\r\n")) || attempt == 3 {
					break
				}
				t.Logf("attempt %d: tcpdump -i %s wrote an incomplete file; recording again", attempt, iface)
			}
			rec := newRecorder()
			st, err := Decode(context.Background(), []string{path}, rec, Options{Ports: []uint16{uint16(port)}})
			if err != nil {
				t.Fatal(err)
			}
			rec.checkEnded(t)
			if len(rec.conns) != 1 {
				t.Fatalf("%d connections decoded, want 1; stats %+v", len(rec.conns), st)
			}
			for _, c := range rec.conns {
				if !bytes.Equal(c.data[ClientToServer], in.Bytes()) {
					t.Errorf("client bytes %q, server read %q", c.data[ClientToServer], in.Bytes())
				}
				if !bytes.Equal(c.data[ServerToClient], out.Bytes()) {
					t.Errorf("server bytes %q, server wrote %q", c.data[ServerToClient], out.Bytes())
				}
				if c.ended != "fin" {
					t.Errorf("ended %q, want fin", c.ended)
				}
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer that a process may write while a test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startTcpdump records loopback traffic to and from port (TCP, and the
// UDP probes it sends itself) on iface into a file. It returns once
// tcpdump is seen capturing: "listening" is printed before the socket
// sees every packet, so it sends UDP probes to the port until one is in
// the file (the decoder skips them as non-TCP). stop waits until the file
// holds last, the last bytes the conversation sent (tcpdump can be seconds
// behind on a busy machine), then stops tcpdump.
func startTcpdump(t *testing.T, tcpdump, iface string, port int) (path string, stop func(last []byte) bool) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "lo.pcap")
	// Without --immediate-mode, packets wait in the kernel's ring for a
	// block to fill or time out: tcpdump stopped before then writes none
	// of them ("0 packets captured").
	dump := exec.Command(tcpdump, "-i", iface, "--immediate-mode", "-U", "-w", path, "port", itoa(port))
	derr := &lockedBuffer{}
	dump.Stderr = derr
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			dump.Process.Signal(syscall.SIGINT)
			dump.Wait()
		}
	}
	t.Cleanup(halt)
	probe, err := net.Dial("udp", "127.0.0.1:"+itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	for i := 0; ; i++ {
		if i == 200 {
			t.Fatalf("tcpdump -i %s captured no probe in 10 s: %s", iface, derr.String())
		}
		probe.Write([]byte("smtpsh probe"))
		time.Sleep(50 * time.Millisecond)
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte("smtpsh probe")) {
			break
		}
	}
	return path, func(last []byte) bool {
		t.Helper()
		ok := waitCaptured(t, path, last)
		halt()
		return ok
	}
}

// waitCaptured waits (at most 10 s) until the capture tcpdump is writing
// with -U holds last, the last bytes the conversation sent, and then a
// little longer for the FIN after them: on a busy machine tcpdump can be
// seconds behind, and stopping it early loses the end.
func waitCaptured(t *testing.T, path string, last []byte) bool {
	t.Helper()
	for i := 0; i < 200; i++ {
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, last) {
			time.Sleep(200 * time.Millisecond)
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%s: %q not captured after 10 s", path, last)
	return false
}
