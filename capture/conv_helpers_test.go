package capture

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/transcripts"
)

var update = flag.Bool("update", false, "rewrite golden files")

// step is one delivery to a Decoder: bytes in one direction, or a gap.
type step struct {
	dir  Direction
	data string
	gap  int64
}

func c(s string) step { return step{dir: ClientToServer, data: s} }
func s(s string) step { return step{dir: ServerToClient, data: s} }

// rfcSteps turns RFC notation ("S: line" / "C: line", one per line) into
// steps, one line each with CRLF. Blank lines are skipped.
func rfcSteps(script string) []step {
	var out []step
	for _, l := range strings.Split(script, "\n") {
		l = strings.TrimLeft(l, "\t ")
		switch {
		case strings.HasPrefix(l, "C: "):
			out = append(out, c(l[3:]+"\r\n"))
		case strings.HasPrefix(l, "S: "):
			out = append(out, s(l[3:]+"\r\n"))
		}
	}
	return out
}

var testStart = time.Date(2026, 11, 25, 19, 10, 0, 0, time.UTC)

func testInfo(port uint16) ConnInfo {
	return ConnInfo{
		ID:     1,
		Client: netip.MustParseAddrPort("192.0.2.1:50123"),
		Server: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.25"), port),
		Start:  testStart,
		SawSYN: true,
	}
}

var keepAll = DecoderOptions{KeepTranscript: true, KeepData: true, KeepMessages: true}

// decodeSteps runs steps through a Decoder and returns the conversation.
func decodeSteps(t testing.TB, info ConnInfo, opts DecoderOptions, steps []step) *Conversation {
	t.Helper()
	var got *Conversation
	calls := 0
	d := NewDecoder(info, opts, func(c *Conversation) { got = c; calls++ })
	at := info.Start
	for _, st := range steps {
		at = at.Add(time.Millisecond)
		if st.gap > 0 {
			d.Gap(st.dir, at, st.gap)
			continue
		}
		// p is only valid during the call: prove the decoder copies.
		p := []byte(st.data)
		d.Data(st.dir, at, p)
		for i := range p {
			p[i] = 'X'
		}
	}
	d.End(at.Add(time.Millisecond), "fin")
	if calls != 1 {
		t.Fatalf("done called %d times, want 1", calls)
	}
	if got.Transcript != nil {
		if err := got.Transcript.Validate(); err != nil {
			t.Fatalf("transcript does not validate: %v", err)
		}
	}
	return got
}

// transcriptText writes the transcript without times, secrets kept.
func transcriptText(t testing.TB, tr *transcripts.Transcript) string {
	t.Helper()
	var b bytes.Buffer
	if err := transcripts.Write(&b, tr, transcripts.WriteOptions{Secrets: true}); err != nil {
		t.Fatalf("writing transcript: %v", err)
	}
	// Read it back: a capture's transcript must be a valid file.
	back, err := transcripts.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatalf("transcript does not parse back: %v\n%s", err, b.String())
	}
	if len(back.Events) != len(tr.Events) {
		t.Fatalf("transcript read back has %d events, want %d", len(back.Events), len(tr.Events))
	}
	return b.String()
}

// golden compares got with testdata/conv/name.golden.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "conv", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; got:\n%s", path, got)
	}
}

// exchangeCodes renders the exchanges as "VERB code…" lines, the sequence
// tshark's "SMTP requests/responses" gives.
func exchangeCodes(conv *Conversation) []string {
	var out []string
	for _, e := range conv.Exchanges {
		l := e.Line
		for _, code := range e.Codes {
			l += " " + strconv.Itoa(code)
		}
		out = append(out, l)
	}
	return out
}
