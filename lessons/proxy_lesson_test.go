package lessons

import (
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/transcripts"
)

// lessonWith returns a one-step lesson with extra front matter and check.
func lessonWith(front, check string) string {
	return "+++\ntitle = \"T\"\nsummary = \"S\"\nprofile = \"default\"\nobjectives = [\"O\"]\n" + front + "+++\n\n## Step: One\n\n" +
		"```check\n" + check + "```\n```solution\nEHLO x\n```\n```wrong\nHELO x\n```\n"
}

// TestSessionKeys checks the front matter keys proxy and capture and the
// check key via, each problem at its line.
func TestSessionKeys(t *testing.T) {
	tests := []struct {
		name, front, check string
		line               int    // of the problem; 0 for none, -1 for any
		msg                string // in the problem
	}{
		{"proxy and capture", "proxy = true\ncapture = \"14-reading-a-capture.pcap\"\n", "via = true\n", 0, ""},
		{"unknown capture", "capture = \"nope.pcap\"\n", "command = \"EHLO\"\n", 6, "not a capture shipped"},
		{"capture is a path", "capture = \"../14-reading-a-capture.pcap\"\n", "command = \"EHLO\"\n", 6, "not a capture shipped"},
		// The TOML decoder's type errors carry no position format.go reads
		// (it reports them at the front matter's first line): any line.
		{"proxy not a bool", "proxy = \"yes\"\n", "command = \"EHLO\"\n", -1, `"proxy"`},
		{"via false", "", "via = false\n", 11, "checks nothing"},
		{"via not a bool", "", "via = \"http\"\n", 11, "wants true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := Check([]byte(lessonWith(tc.front, tc.check)))
			if tc.line == 0 {
				if len(ps) > 0 {
					t.Fatalf("problems: %v", ps)
				}
				l, err := Parse("15-x.md", []byte(lessonWith(tc.front, tc.check)))
				if err != nil || !l.Proxy || l.Capture != "14-reading-a-capture.pcap" || !l.Steps[0].Check.Via {
					t.Fatalf("parsed %+v, %v", l, err)
				}
				return
			}
			if len(ps) != 1 || tc.line > 0 && ps[0].Line != tc.line || !strings.Contains(ps[0].Msg, tc.msg) {
				t.Fatalf("problems %v, want one at line %d with %q", ps, tc.line, tc.msg)
			}
		})
	}
}

// TestViaCheck checks via = true holds only after a connect event through
// a proxy, and that a reconnect without one takes it back.
func TestViaCheck(t *testing.T) {
	src := lessonWith("", "via = true\nreply = \"220\"\n")
	for _, tc := range []struct {
		name string
		via  []string // one connect event each
		want bool
	}{
		{"direct", []string{""}, false},
		{"through a proxy", []string{"http://127.0.0.1:3128"}, true},
		{"SOCKS5", []string{"socks5://127.0.0.1:1080"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse("x.md", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			e, err := NewEngine(EngineConfig{Lesson: l})
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			for _, v := range tc.via {
				e.Event(transcripts.Event{Kind: transcripts.Connect, Time: time.Now(), Addr: "127.0.0.1:25", Via: v}, &out)
				e.Event(transcripts.Event{Kind: transcripts.Server, Time: time.Now(), Text: "220 mx ESMTP"}, &out)
			}
			if e.Finished() != tc.want {
				t.Errorf("finished %v, want %v:\n%s", e.Finished(), tc.want, out.String())
			}
		})
	}
}

// TestSessionMetasWithout checks :capture and :proxylog say what is missing
// in a lesson without a capture or a proxy, and count for meta checks.
func TestSessionMetasWithout(t *testing.T) {
	l, err := Parse("x.md", []byte(lessonWith("", "meta = \":proxylog\"\n")))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(EngineConfig{Lesson: l})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if !e.Meta(":capture", "", &out) || !strings.Contains(out.String(), "ships no capture") {
		t.Errorf(":capture: %q", out.String())
	}
	out.Reset()
	if !e.Meta(":proxylog", "", &out) || !strings.Contains(out.String(), "does not go through the lesson's proxy") {
		t.Errorf(":proxylog: %q", out.String())
	}
	if !e.Finished() {
		t.Error(":proxylog did not count for meta = \":proxylog\"")
	}
}

// TestCaptureCommandArgs checks :capture's arguments on lesson 14.
func TestCaptureCommandArgs(t *testing.T) {
	l, err := Parse("x.md", []byte(lessonWith("capture = \"14-reading-a-capture.pcap\"\n", "meta = \":capture\"\n")))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(EngineConfig{Lesson: l})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ arg, want string }{
		{"", "3 SMTP conversation(s)"},
		{"--summary", "3 SMTP conversation(s)"},
		{"--creds", "password: builder"},
		{"--follow 2", secretPhrase},
		{"--follow 4", "from 1 to 3"},
		{"--follow 0", "from 1 to 3"},
		{"--follow x", "from 1 to 3"},
		{"--bogus", "usage: :capture"},
	} {
		var out strings.Builder
		if !e.Meta(":capture", tc.arg, &out) || !strings.Contains(out.String(), tc.want) {
			t.Errorf(":capture %s: %q, want %q in it", tc.arg, out.String(), tc.want)
		}
	}
}
