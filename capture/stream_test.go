package capture

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a Handler that keeps every byte, gap and end, per connection.
type recorder struct {
	mu    sync.Mutex
	conns map[int]*recConn
	dup   int // connections opened twice under one ID
}

type recConn struct {
	info  ConnInfo
	data  [2][]byte // by Direction; gaps are recorded apart, in gaps
	gaps  [2][]gapAt
	order []Direction // direction of each Data call, in call order
	ended string
	after int // calls after End
}

type gapAt struct {
	off int // bytes of data before the gap in its direction
	n   int64
}

func newRecorder() *recorder { return &recorder{conns: map[int]*recConn{}} }

func (r *recorder) Open(info ConnInfo) Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &recConn{info: info}
	if _, ok := r.conns[info.ID]; ok {
		r.dup++
	}
	r.conns[info.ID] = c
	return c
}

func (c *recConn) Data(dir Direction, at time.Time, p []byte) {
	if c.ended != "" {
		c.after++
	}
	c.data[dir] = append(c.data[dir], p...)
	c.order = append(c.order, dir)
}

func (c *recConn) Gap(dir Direction, at time.Time, n int64) {
	if c.ended != "" {
		c.after++
	}
	c.gaps[dir] = append(c.gaps[dir], gapAt{off: len(c.data[dir]), n: n})
}

func (c *recConn) End(at time.Time, reason string) {
	if c.ended != "" {
		c.after++
	}
	c.ended = reason
}

func (r *recorder) sorted() []*recConn {
	var out []*recConn
	for _, c := range r.conns {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].info.ID < out[j].info.ID })
	return out
}

// checkEnded fails unless every connection got exactly one End, last.
func (r *recorder) checkEnded(t *testing.T) {
	t.Helper()
	if r.dup > 0 {
		t.Errorf("%d connection IDs opened twice", r.dup)
	}
	for _, c := range r.conns {
		if c.ended == "" {
			t.Errorf("connection %d (%v → %v) never ended", c.info.ID, c.info.Client, c.info.Server)
		}
		if c.after > 0 {
			t.Errorf("connection %d: %d calls after End", c.info.ID, c.after)
		}
	}
}

const publicDir = "../../shared/pcaps/public"

// tsharkConv is one line of the "TCP conversations" section of the .txt
// decode beside each public capture (tshark -q -z conv,tcp).
type tsharkConv struct {
	a, b   string
	frames int
}

var convLine = regexp.MustCompile(`^(\S+)\s+<->\s+(\S+)\s+\d+\s+\d+\s+\S+\s+\d+\s+\d+\s+\S+\s+(\d+)\s`)

func readTsharkConvs(t *testing.T, path string) []tsharkConv {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []tsharkConv
	in := false
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "TCP Conversations") {
			in = true
			continue
		}
		if !in {
			continue
		}
		if m := convLine.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[3])
			out = append(out, tsharkConv{a: m[1], b: m[2], frames: n})
		}
	}
	return out
}

func publicCaptures(t *testing.T) []string {
	var files []string
	filepath.WalkDir(publicDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(filepath.Base(p), ".pcap") && !strings.HasSuffix(p, ".txt") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Skip("no public captures in " + publicDir)
	}
	return files
}

// TestPublicCaptures decodes every third-party capture and compares its
// connections with tshark's conversation list beside it: the same number
// of TCP connections, and one SMTP connection for each conversation on an
// SMTP port, with the same endpoints.
func TestPublicCaptures(t *testing.T) {
	for _, file := range publicCaptures(t) {
		t.Run(strings.TrimPrefix(file, publicDir+"/"), func(t *testing.T) {
			want := readTsharkConvs(t, file+".txt")
			rec := newRecorder()
			st, err := Decode(context.Background(), []string{file}, rec, Options{Detect: true})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			rec.checkEnded(t)
			if st.Conns != int64(len(want)) {
				t.Errorf("Conns = %d, tshark lists %d conversations", st.Conns, len(want))
			}
			wantSMTP := map[string]bool{}
			for _, c := range want {
				if isSMTPAddr(c.a) || isSMTPAddr(c.b) {
					wantSMTP[pairKey(c.a, c.b)] = true
				}
			}
			got := map[string]bool{}
			for _, c := range rec.sorted() {
				got[pairKey(tsharkAddr(c.info.Client), tsharkAddr(c.info.Server))] = true
				if !isSMTPAddr(c.info.Server.String()) && !strings.Contains(file, "connect-with-smtp") {
					t.Errorf("connection %d: server %v is not on an SMTP port (client %v)", c.info.ID, c.info.Server, c.info.Client)
				}
				if len(c.data[0])+len(c.data[1]) == 0 {
					t.Errorf("connection %d: no bytes", c.info.ID)
				}
			}
			for k := range wantSMTP {
				if !got[k] {
					t.Errorf("tshark's SMTP conversation %s not decoded", k)
				}
			}
			t.Logf("%s: %+v", filepath.Base(file), st)
		})
	}
}

func isSMTPAddr(s string) bool {
	for _, p := range []string{":25", ":465", ":587", ":2525"} {
		if strings.HasSuffix(s, p) {
			return true
		}
	}
	return false
}

func pairKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return fmt.Sprintf("%s|%s", a, b)
}

// tsharkAddr writes an address and port as tshark's conversation list does
// (no brackets around IPv6).
func tsharkAddr(ap netip.AddrPort) string {
	return fmt.Sprintf("%s:%d", ap.Addr(), ap.Port())
}
