package lessons

import (
	"os"
	"strings"
	"testing"
)

// lesson builds a lesson file from its front matter and body.
func lesson(front, body string) string {
	return "+++\n" + front + "+++\n" + body
}

const goodFront = `title = "T"
summary = "S"
profile = "default"
objectives = ["O"]
`

const goodStep = "## Step: Greet\n\nSay EHLO.\n\n```check\ncommand = \"EHLO\"\n```\n\n```solution\nEHLO x\n```\n\n```wrong\nHELO x\n```\n"

func TestParseGood(t *testing.T) {
	src := lesson(goodFront+"prerequisites = [\"first-contact\"]\n", "Intro *text*.\n\n"+goodStep+
		"## Step: Data\n\n~~~\nNot a step: ## Step: inside a fence\n~~~\n\n```check\ndata_match = '^\\.\\.'\nreply = \"2xx\"\nreply_to = \"data\"\nenhanced = \"2.1.5\"\nstored_for = \"Bob@lab.smtpsh.test\"\ntls = true\n```\n\n```hint\nOne.\n```\n\n```hint\nTwo.\n```\n\n```solution\nDATA\n<empty>\n.x\n\n.\n```\n\n## Summary\n\nDone.\n")
	l, err := Parse("lessons/files/07-some-name.md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "some-name" || l.Number != 7 || l.Title != "T" || l.Intro != "Intro *text*." || l.Outro != "Done." {
		t.Errorf("lesson = %q %d %q intro %q outro %q", l.Name, l.Number, l.Title, l.Intro, l.Outro)
	}
	if len(l.Steps) != 2 {
		t.Fatalf("%d steps", len(l.Steps))
	}
	s := l.Steps[1]
	if s.Title != "Data" || !strings.Contains(s.Text, "## Step: inside a fence") {
		t.Errorf("step 2 = %q, text %q", s.Title, s.Text)
	}
	if got := strings.Join(s.Solution, "|"); got != "DATA||.x|." {
		t.Errorf("solution = %q", got)
	}
	if len(s.Hints) != 2 || s.Hints[1] != "Two." {
		t.Errorf("hints = %q", s.Hints)
	}
	c := s.Check
	if c.ReplyTo != "DATA" || c.Reply != "2xx" || c.Enhanced != "2.1.5" || c.StoredFor != "bob@lab.smtpsh.test" || !c.TLS || c.DataMatch == nil {
		t.Errorf("check = %+v", c)
	}
	if l.Steps[0].Wrong == nil || l.Steps[1].Wrong != nil {
		t.Error("wrong blocks misplaced")
	}
}

// TestCheckProblems: each broken lesson is refused with the line of its
// mistake and a message naming it.
func TestCheckProblems(t *testing.T) {
	step := func(check string) string {
		return lesson(goodFront, "## Step: S\n\n```check\n"+check+"\n```\n\n```solution\nNOOP\n```\n\n```wrong\nQUIT\n```\n")
	}
	// Lines: 1 +++, 2-5 front matter, 6 +++, 7 ## Step, 8 blank, 9 ```check, 10 first key.
	cases := []struct {
		name string
		src  string
		line int
		want string
	}{
		{"no front matter", "# Title\n", 1, "front matter"},
		{"front matter not closed", "+++\ntitle = \"x\"\n", 1, "no closing"},
		{"bad TOML in front matter", "+++\ntitle = \n+++\n", 2, "TOML"},
		{"unknown front matter key", lesson(goodFront+"level = 3\n", goodStep), 6, `unknown front matter key "level"`},
		{"no title", lesson("summary = \"S\"\nprofile = \"default\"\nobjectives = [\"O\"]\n", goodStep), 2, "title"},
		{"unknown profile", lesson("title = \"T\"\nsummary = \"S\"\nprofile = \"nope\"\nobjectives = [\"O\"]\n", goodStep), 4, `unknown lab profile "nope"`},
		{"bad prerequisite", lesson(goodFront+"prerequisites = [\"01-First\"]\n", goodStep), 6, "not a lesson name"},
		{"no steps", lesson(goodFront, "Just text.\n"), 6, "at least one"},
		{"bad regexp", step(`command_match = "(unclosed"`), 10, "command_match"},
		{"unknown key", step("command = \"EHLO\"\nrepley = \"250\""), 11, `unknown check key "repley"`},
		{"empty check", step(""), 9, "empty check"},
		{"bad reply", step(`reply = "250x"`), 10, "reply"},
		{"reply as integer", step(`reply = 250`), 10, "wants a string, not an integer"},
		{"bad enhanced", step(`enhanced = "2.1"`), 10, "enhanced"},
		{"tls false", step(`tls = false`), 10, "checks nothing"},
		{"bad verb", step(`command = "E HLO"`), 10, "not an SMTP verb"},
		{"meta without colon", step(`meta = "explain"`), 10, "meta"},
		{"reply_to alone", step(`reply_to = "VRFY"`), 10, "reply_to"},
		{"bad TOML in check", step(`command = `), 10, "TOML"},
		{"no check", lesson(goodFront, "## Step: S\n\n```solution\nNOOP\n```\n\n```wrong\nQUIT\n```\n"), 7, "no ```check block"},
		{"two checks", lesson(goodFront, "## Step: S\n\n```check\nclosed = true\n```\n```check\ntls = true\n```\n```solution\nQUIT\n```\n```wrong\nNOOP\n```\n"), 12, "2 ```check blocks"},
		{"missing solution", lesson(goodFront, "## Step: S\n\n```check\nclosed = true\n```\n\n```wrong\nNOOP\n```\n"), 7, "no ```solution block"},
		{"no wrong anywhere", lesson(goodFront, "## Step: S\n\n```check\nclosed = true\n```\n\n```solution\nQUIT\n```\n"), 7, "wrong"},
		{"check outside a step", lesson(goodFront, "```check\nclosed = true\n```\n"+goodStep), 7, "belongs in"},
		{"unclosed fence", lesson(goodFront, goodStep+"```\ncode\n"), 22, "never closed"},
		{"step after summary", lesson(goodFront, goodStep+"## Summary\n\nx\n\n## Step: Late\n"), 26, "after \"## Summary\""},
		{"empty step title", lesson(goodFront, "## Step:\n"+goodStep), 7, "needs a title"},
		{"not UTF-8", "+++\ntitle = \"\xff\"\n", 2, "UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := Check([]byte(tc.src))
			for _, p := range ps {
				if p.Line == tc.line && strings.Contains(p.Msg, tc.want) {
					return
				}
			}
			t.Errorf("want a problem at line %d with %q; got %q", tc.line, tc.want, ps)
		})
	}
}

// TestParseErrorNamesFileAndLine: the error a broken file gives names the
// file and line like a compiler.
func TestParseErrorNamesFileAndLine(t *testing.T) {
	_, err := Parse("my.md", []byte(lesson(goodFront, "## Step: S\n\n```check\nreply = \"7\"\n```\n```solution\nx\n```\n```wrong\ny\n```\n")))
	if err == nil || !strings.HasPrefix(err.Error(), "my.md:10: reply = \"7\"") {
		t.Errorf("err = %v", err)
	}
}

// TestShippedLessonsCheck: every embedded lesson passes --check, names
// existing lessons as prerequisites, and comes after them.
func TestShippedLessonsCheck(t *testing.T) {
	ls, err := All()
	if err != nil {
		t.Fatal(err)
	}
	number := map[string]int{}
	for _, l := range ls {
		if _, dup := number[l.Name]; dup {
			t.Errorf("two lessons named %s", l.Name)
		}
		number[l.Name] = l.Number
	}
	for _, l := range ls {
		src, err := Source(l.File)
		if err != nil {
			t.Fatal(err)
		}
		if ps := Check(src); len(ps) > 0 {
			t.Errorf("%s: %q", l.File, ps)
		}
		if n := len(l.Steps); l.Number <= 4 && (n < 4 || n > 8) {
			t.Errorf("%s has %d steps; lessons 1-4 have 4 to 8", l.File, n)
		}
		for _, p := range l.Prerequisites {
			n, ok := number[p]
			if !ok {
				t.Errorf("%s: prerequisite %q is no lesson", l.File, p)
			} else if n >= l.Number {
				t.Errorf("%s: prerequisite %q comes later in the course", l.File, p)
			}
		}
	}
}

func TestFind(t *testing.T) {
	ls := []*Lesson{{Name: "first-contact", Number: 1}, {Name: "helo-and-ehlo", Number: 2}, {Name: "headers", Number: 5}}
	cases := []struct{ arg, want string }{
		{"1", "first-contact"}, {"02", "helo-and-ehlo"}, {"first", "first-contact"}, {"headers", "headers"},
		{"he", ""}, {"9", ""}, {"nope", ""},
	}
	for _, tc := range cases {
		l, err := Find(ls, tc.arg)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("Find(%q) = %s, want an error", tc.arg, l.Name)
		case tc.want != "" && (err != nil || l.Name != tc.want):
			t.Errorf("Find(%q) = %v, %v; want %s", tc.arg, l, err, tc.want)
		}
	}
}

func TestCodeMatches(t *testing.T) {
	cases := []struct {
		pattern string
		code    int
		want    bool
	}{
		{"250", 250, true}, {"250", 251, false}, {"2xx", 252, true}, {"2xx", 354, false},
		{"25x", 252, true}, {"25x", 221, false}, {"5", 554, true}, {"5", 450, false},
	}
	for _, tc := range cases {
		if got := codeMatches(tc.pattern, tc.code); got != tc.want {
			t.Errorf("codeMatches(%q, %d) = %v", tc.pattern, tc.code, got)
		}
	}
}

// TestFormatDocExample: the example in FORMAT.md is a valid lesson.
func TestFormatDocExample(t *testing.T) {
	doc, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "````markdown\n")
	example, _, ok2 := strings.Cut(rest, "\n````")
	if !ok || !ok2 {
		t.Fatal("FORMAT.md has no ````markdown example")
	}
	if ps := Check([]byte(example)); len(ps) > 0 {
		t.Errorf("FORMAT.md's example: %q", ps)
	}
}
