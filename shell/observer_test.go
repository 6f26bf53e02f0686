package shell

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/transcripts"
)

// recorder is an Observer that keeps what it saw and handles :hint.
type recorder struct {
	started bool
	events  []transcripts.Event
	metas   []string
}

func (r *recorder) Start(out io.Writer) { r.started = true; fmt.Fprintln(out, "lesson starts") }
func (r *recorder) Event(e transcripts.Event, out io.Writer) {
	r.events = append(r.events, e)
}
func (r *recorder) Meta(name, arg string, out io.Writer) bool {
	r.metas = append(r.metas, name+" "+arg)
	if name == ":hint" {
		fmt.Fprintln(out, "hint: type EHLO")
		return true
	}
	return false
}
func (r *recorder) Commands() []MetaCommand {
	return []MetaCommand{{Name: ":hint", Usage: "the next hint"}}
}

// TestObserver: the observer sees every transcript event in order, every
// meta-command, and adds its own to :help and Tab.
func TestObserver(t *testing.T) {
	addr, _ := startLab(t, "default")
	r := &recorder{}
	out, s, err := runLines(t, addr, Config{NoExplain: true, Observer: r},
		":hint", "EHLO client.example", ":help", ":info", "QUIT")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !r.started || !strings.HasPrefix(out, "lesson starts") {
		t.Errorf("Start not called first:\n%s", out)
	}
	if !strings.Contains(out, "hint: type EHLO") || strings.Contains(out, "unknown meta-command :hint") {
		t.Errorf(":hint not handled by the observer:\n%s", out)
	}
	if !strings.Contains(out, ":hint") || !strings.Contains(out, "the next hint") {
		t.Errorf(":help lacks the observer's command:\n%s", out)
	}
	want := s.Transcript().Events
	if len(r.events) != len(want) {
		t.Fatalf("observer saw %d events, the transcript has %d", len(r.events), len(want))
	}
	for i := range want {
		if !r.events[i].Equal(want[i]) {
			t.Errorf("event %d: observer saw %+v, transcript has %+v", i, r.events[i], want[i])
		}
	}
	if got := strings.Join(r.metas, "|"); got != ":hint |:help |:info " {
		t.Errorf("metas seen: %q", got)
	}
	// Tab, in a live phase (after Run the phase is closed: nothing).
	live := &Session{cfg: Config{Observer: r}, st: state{phase: PhaseMail}}
	if c := live.Complete(":hi"); len(c) != 1 || c[0] != ":hint" {
		t.Errorf("Complete(:hi) = %q", c)
	}
}
