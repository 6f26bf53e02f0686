package lessons

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/smtpsh/smtpsh/internal/lab"
)

// MaxLessonSize bounds a lesson file, in bytes: a lesson is prose for a
// person to read in one sitting, and a teacher's file is untrusted input.
const MaxLessonSize = 1 << 20

// maxPattern bounds a check's regular expression, in bytes.
const maxPattern = 1000

// Lesson is one parsed lesson file.
type Lesson struct {
	// Name is the file name without its "NN-" prefix and ".md":
	// "first-contact". Prerequisites and `smtpsh learn NAME` use it.
	Name string
	// Number is the NN of the file name (its place in the course); 0 for a
	// file without one.
	Number int
	// File is the file name the lesson was parsed from.
	File string

	Title         string
	Summary       string
	Profile       string   // the lab profile the lesson starts
	Objectives    []string // what the student can do afterwards
	Prerequisites []string // names of lessons to do first
	// Proxy says the shell goes through an HTTP CONNECT proxy to the lab
	// (see SessionDialer); Capture names an embedded capture sample that
	// :capture reads ("14-reading-a-capture.pcap").
	Proxy   bool
	Capture string

	// Intro is the Markdown before the first step; Outro the Markdown of
	// the optional "## Summary" section after the last one.
	Intro, Outro string
	Steps        []Step
}

// Step is one "## Step: TITLE" section.
type Step struct {
	Title string
	Line  int    // of its heading, 1-based
	Text  string // Markdown, without the check, hint, solution and wrong blocks
	Check Condition
	Hints []string // Markdown, shown one at a time
	// Solution is what the reference solution types, one line each
	// ("<empty>" already turned into ""); Wrong is what must not complete
	// the step (nil when the step has no wrong block).
	Solution []string
	Wrong    []string
}

// Condition is a step's ```check block: every key that is set must hold on the
// events recorded since the step started (see FORMAT.md).
type Condition struct {
	Line int // of the check block's first line of TOML

	Command      string         // a client command with this verb (upper case)
	CommandMatch *regexp.Regexp // a client line matching it
	// Reply is "250", "2xx" or "2": a whole reply of that code or class.
	// ReplyTo restricts Reply, Enhanced and ReplyMatch to replies that
	// answer a command with this verb (upper case).
	Reply      string
	ReplyTo    string
	Enhanced   string         // "2.1.5": a reply carrying this enhanced code
	ReplyMatch *regexp.Regexp // a server line matching it
	Capability string         // an EHLO reply advertised this keyword (upper case)
	TLS        bool           // a TLS handshake completed
	Auth       bool           // AUTH succeeded (235, RFC 4954 §6)
	StoredFor  string         // the lab stored a message for this recipient
	DataMatch  *regexp.Regexp // a message line sent matching it
	Meta       string         // this meta-command was used (lower case, with ":")
	Closed     bool           // the connection was closed
	Via        bool           // the connection went through a proxy (its connect event's via)
}

// Problem is one thing wrong with a lesson file, at a 1-based line (0 when
// it concerns the whole file).
type Problem struct {
	Line int
	Msg  string
}

// String returns "line N: message", or the message alone for line 0.
func (p Problem) String() string {
	if p.Line <= 0 {
		return p.Msg
	}
	return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
}

// ParseError is what Parse returns for a file with problems: all of them,
// in line order.
type ParseError struct {
	File     string
	Problems []Problem
}

// Error returns "FILE:LINE: message" for the first problem, and how many
// more there are.
func (e *ParseError) Error() string {
	if len(e.Problems) == 0 {
		return e.File + ": invalid lesson"
	}
	p := e.Problems[0]
	s := e.File + ": " + p.Msg
	if p.Line > 0 {
		s = fmt.Sprintf("%s:%d: %s", e.File, p.Line, p.Msg)
	}
	if n := len(e.Problems) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more problem(s))", n)
	}
	return s
}

// Check validates a lesson file's text and returns its problems in line
// order; none means `smtpsh learn --check` passes it.
func Check(src []byte) []Problem {
	_, err := Parse("lesson.md", src)
	var pe *ParseError
	if errors.As(err, &pe) {
		return pe.Problems
	}
	return nil
}

// Parse reads a lesson. file names it (its base name gives the lesson's
// Name and Number) and appears in errors. The error, when the file has
// any problem, is a *ParseError listing every problem found.
func Parse(file string, src []byte) (*Lesson, error) {
	p := &parser{l: &Lesson{File: file}}
	p.l.Name, p.l.Number = nameOf(file)
	p.parse(src)
	if len(p.problems) > 0 {
		slices.SortStableFunc(p.problems, func(a, b Problem) int { return a.Line - b.Line })
		return nil, &ParseError{File: file, Problems: p.problems}
	}
	return p.l, nil
}

// nameOf turns "lessons/files/03-sending-a-message.md" into
// ("sending-a-message", 3).
func nameOf(file string) (string, int) {
	base := strings.TrimSuffix(path.Base(strings.ReplaceAll(file, "\\", "/")), ".md")
	if pre, rest, ok := strings.Cut(base, "-"); ok && rest != "" {
		if n, err := strconv.Atoi(pre); err == nil && n >= 0 {
			return rest, n
		}
	}
	return base, 0
}

// validName reports whether n can name a lesson: lower-case letters,
// digits and inner hyphens.
func validName(n string) bool {
	if n == "" || len(n) > 64 || n[0] == '-' || n[len(n)-1] == '-' {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

type parser struct {
	l        *Lesson
	problems []Problem
}

func (p *parser) problem(line int, format string, args ...any) {
	p.problems = append(p.problems, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

// frontMatter is the TOML between the "+++" lines.
type frontMatter struct {
	Title         string   `toml:"title"`
	Summary       string   `toml:"summary"`
	Profile       string   `toml:"profile"`
	Objectives    []string `toml:"objectives"`
	Prerequisites []string `toml:"prerequisites"`
	Proxy         bool     `toml:"proxy"`
	Capture       string   `toml:"capture"`
}

func (p *parser) parse(src []byte) {
	if len(src) > MaxLessonSize {
		p.problem(0, "the file is %d bytes; a lesson may have at most %d", len(src), MaxLessonSize)
		return
	}
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
		if !utf8.ValidString(lines[i]) {
			p.problem(i+1, "not valid UTF-8")
			return
		}
	}
	if len(lines) > 0 {
		lines[0] = strings.TrimPrefix(lines[0], "\uFEFF")
	}
	if len(lines) == 0 || strings.TrimSpace(lines[0]) != "+++" {
		p.problem(1, `a lesson starts with TOML front matter between two "+++" lines`)
		return
	}
	end := -1
	for i := 1; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == "+++" {
			end = i
			break
		}
	}
	if end < 0 {
		p.problem(1, `the front matter opened here has no closing "+++" line`)
		return
	}
	p.frontMatter(lines[1:end], 2)
	p.body(lines[end+1:], end+2)
}

// frontMatter decodes the front matter, whose first line is line first.
func (p *parser) frontMatter(lines []string, first int) {
	var fm frontMatter
	md, err := toml.Decode(strings.Join(lines, "\n"), &fm)
	if err != nil {
		p.tomlProblem(err, lines, first, "front matter")
		return
	}
	for _, k := range md.Undecoded() {
		p.problem(keyLine(lines, first, k.String()), "unknown front matter key %q (known: title, summary, profile, objectives, prerequisites, proxy, capture)", k.String())
	}
	l := p.l
	l.Title, l.Summary, l.Profile = strings.TrimSpace(fm.Title), strings.TrimSpace(fm.Summary), strings.TrimSpace(fm.Profile)
	l.Objectives, l.Prerequisites = fm.Objectives, fm.Prerequisites
	l.Proxy, l.Capture = fm.Proxy, strings.TrimSpace(fm.Capture)
	if l.Capture != "" && !slices.Contains(SampleNames(), l.Capture) {
		p.problem(keyLine(lines, first, "capture"), "capture = %q: not a capture shipped with smtpsh (%s)", l.Capture, strings.Join(SampleNames(), ", "))
	}
	if l.Title == "" {
		p.problem(keyLine(lines, first, "title"), "the front matter needs a title")
	}
	if l.Summary == "" {
		p.problem(keyLine(lines, first, "summary"), "the front matter needs a summary: one sentence saying what the lesson teaches")
	}
	switch {
	case l.Profile == "":
		p.problem(keyLine(lines, first, "profile"), "the front matter needs a profile: the lab profile the lesson starts (%s)", strings.Join(lab.ProfileNames(), ", "))
	case !slices.Contains(lab.ProfileNames(), l.Profile):
		p.problem(keyLine(lines, first, "profile"), "unknown lab profile %q (built-in: %s)", l.Profile, strings.Join(lab.ProfileNames(), ", "))
	}
	if len(l.Objectives) == 0 {
		p.problem(keyLine(lines, first, "objectives"), "the front matter needs objectives: what the student can do after the lesson")
	}
	for _, o := range l.Objectives {
		if strings.TrimSpace(o) == "" {
			p.problem(keyLine(lines, first, "objectives"), "an objective is empty")
		}
	}
	for _, n := range l.Prerequisites {
		if !validName(n) {
			p.problem(keyLine(lines, first, "prerequisites"), "prerequisite %q is not a lesson name (the file name without NN- and .md, e.g. \"first-contact\")", n)
		}
	}
}

// tomlProblem reports a TOML error at its line when the decoder gives one.
func (p *parser) tomlProblem(err error, lines []string, first int, what string) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		line := first
		if pe.Position.Line > 0 {
			line = first + pe.Position.Line - 1
		}
		p.problem(line, "%s: TOML: %s", what, pe.Message)
		return
	}
	p.problem(first, "%s: TOML: %v", what, err)
}

// keyLine finds the line that sets key in lines (the first of which is line
// first); first when none does.
func keyLine(lines []string, first int, key string) int {
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(t, key); ok && strings.HasPrefix(strings.TrimSpace(rest), "=") {
			return first + i
		}
	}
	return first
}

// Block kinds that belong to a step rather than to its text.
const (
	blockCheck    = "check"
	blockHint     = "hint"
	blockSolution = "solution"
	blockWrong    = "wrong"
)

// section is the part of the body being read.
type section int

const (
	inIntro section = iota
	inStep
	inSummary
)

// stepBuild collects one step's parts while the body is read.
type stepBuild struct {
	step                             Step
	text                             []string
	checks, solutions, wrongs        int
	checkLines, solutionLine, wrLine int
}

// body reads the Markdown after the front matter; its first line is line
// first.
func (p *parser) body(lines []string, first int) {
	var intro, outro []string
	var steps []*stepBuild
	sec := inIntro
	var (
		fenceOpen  bool
		fenceChar  byte
		fenceLen   int
		fenceKind  string
		fenceLine  int
		fenceLines []string
	)
	appendText := func(l string) {
		switch sec {
		case inIntro:
			intro = append(intro, l)
		case inStep:
			sb := steps[len(steps)-1]
			sb.text = append(sb.text, l)
		case inSummary:
			outro = append(outro, l)
		}
	}
	for i, l := range lines {
		n := first + i
		if fenceOpen {
			if closesFence(l, fenceChar, fenceLen) {
				fenceOpen = false
				if fenceKind == "" {
					appendText(l)
				} else if sec == inStep {
					p.block(steps[len(steps)-1], fenceKind, fenceLine, fenceLines)
				}
				continue
			}
			if fenceKind == "" {
				appendText(l)
			} else {
				fenceLines = append(fenceLines, l)
			}
			continue
		}
		if c, cnt, info, ok := opensFence(l); ok {
			fenceOpen, fenceChar, fenceLen, fenceLine, fenceLines = true, c, cnt, n, nil
			fenceKind = ""
			switch info {
			case blockCheck, blockHint, blockSolution, blockWrong:
				fenceKind = info
				if sec != inStep {
					p.problem(n, "a ```%s block belongs in a \"## Step: TITLE\" section", info)
				}
			default:
				appendText(l)
			}
			continue
		}
		if h, ok := heading2(l); ok {
			if title, ok := cutFold(h, "step:"); ok {
				if sec == inSummary {
					p.problem(n, "a step after \"## Summary\": the summary comes after the last step")
				}
				title = strings.TrimSpace(title)
				if title == "" {
					p.problem(n, "a step needs a title: \"## Step: TITLE\"")
				}
				steps = append(steps, &stepBuild{step: Step{Title: title, Line: n}})
				sec = inStep
				continue
			}
			if strings.EqualFold(h, "summary") {
				switch {
				case sec == inSummary:
					p.problem(n, "a second \"## Summary\"")
				case len(steps) == 0:
					p.problem(n, "\"## Summary\" before any step: it comes after the last one")
				}
				sec = inSummary
				continue
			}
		}
		appendText(l)
	}
	if fenceOpen {
		p.problem(fenceLine, "the code block opened here is never closed")
	}
	p.l.Intro = joinText(intro)
	p.l.Outro = joinText(outro)
	if len(steps) == 0 {
		// At the front matter's closing line: the body may be empty.
		p.problem(first-1, "a lesson needs at least one \"## Step: TITLE\" section")
	}
	wrong := false
	for _, sb := range steps {
		s := &sb.step
		s.Text = joinText(sb.text)
		switch {
		case sb.checks == 0:
			p.problem(s.Line, "step %q has no ```check block: nothing would ever complete it", s.Title)
		case sb.checks > 1:
			p.problem(sb.checkLines, "step %q has %d ```check blocks; put every key in one", s.Title, sb.checks)
		}
		switch {
		case sb.solutions == 0:
			p.problem(s.Line, "step %q has no ```solution block: the lines the reference solution types", s.Title)
		case sb.solutions > 1:
			p.problem(sb.solutionLine, "step %q has %d ```solution blocks; one is allowed", s.Title, sb.solutions)
		}
		if sb.wrongs > 1 {
			p.problem(sb.wrLine, "step %q has %d ```wrong blocks; one is allowed", s.Title, sb.wrongs)
		}
		if sb.wrongs > 0 {
			wrong = true
		}
		p.l.Steps = append(p.l.Steps, *s)
	}
	if len(steps) > 0 && !wrong {
		p.problem(steps[0].step.Line, "no step has a ```wrong block: at least one step must say what does not complete it")
	}
}

// block attaches a fenced block of a special kind to a step.
func (p *parser) block(sb *stepBuild, kind string, line int, lines []string) {
	s := &sb.step
	switch kind {
	case blockCheck:
		sb.checks++
		sb.checkLines = line
		if sb.checks == 1 {
			s.Check = p.check(lines, line+1)
		}
	case blockHint:
		h := joinText(lines)
		if h == "" {
			p.problem(line, "an empty ```hint block")
			return
		}
		s.Hints = append(s.Hints, h)
	case blockSolution, blockWrong:
		var typed []string
		for _, l := range lines {
			switch {
			case strings.TrimSpace(l) == "":
				// Blank lines only separate; "<empty>" types one.
			case l == "<empty>":
				typed = append(typed, "")
			default:
				typed = append(typed, l)
			}
		}
		if len(typed) == 0 {
			p.problem(line, "an empty ```%s block", kind)
		}
		if kind == blockSolution {
			sb.solutions++
			sb.solutionLine = line
			s.Solution = typed
		} else {
			sb.wrongs++
			sb.wrLine = line
			s.Wrong = typed
		}
	}
}

// checkKeys are the keys a check may hold, in FORMAT.md's order.
var checkKeys = []string{"command", "command_match", "reply", "reply_to", "enhanced", "reply_match",
	"capability", "tls", "auth", "stored_for", "data_match", "meta", "closed", "via"}

// check parses a check block whose first line of TOML is line first.
func (p *parser) check(lines []string, first int) Condition {
	c := Condition{Line: first}
	var m map[string]any
	if _, err := toml.Decode(strings.Join(lines, "\n"), &m); err != nil {
		p.tomlProblem(err, lines, first, "check")
		return c
	}
	if len(m) == 0 {
		p.problem(first-1, "an empty check: give at least one key (%s)", strings.Join(checkKeys, ", "))
		return c
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := m[k]
		at := keyLine(lines, first, k)
		if !slices.Contains(checkKeys, k) {
			p.problem(at, "unknown check key %q (known: %s)", k, strings.Join(checkKeys, ", "))
			continue
		}
		switch k {
		case "tls", "auth", "closed", "via":
			b, ok := v.(bool)
			if !ok {
				p.problem(at, "check key %s wants true, not %s", k, tomlType(v))
				continue
			}
			if !b {
				p.problem(at, "%s = false checks nothing: leave the key out", k)
			}
			switch k {
			case "tls":
				c.TLS = b
			case "auth":
				c.Auth = b
			case "via":
				c.Via = b
			default:
				c.Closed = b
			}
			continue
		}
		s, ok := v.(string)
		if !ok {
			p.problem(at, "check key %s wants a string, not %s (write %s = \"...\")", k, tomlType(v), k)
			continue
		}
		switch k {
		case "command", "reply_to":
			verb := strings.ToUpper(strings.TrimSpace(s))
			if !validVerb(verb) {
				p.problem(at, "%s = %q: not an SMTP verb such as EHLO or RCPT", k, s)
			}
			if k == "command" {
				c.Command = verb
			} else {
				c.ReplyTo = verb
			}
		case "command_match", "reply_match", "data_match":
			re := p.pattern(at, k, s)
			switch k {
			case "command_match":
				c.CommandMatch = re
			case "reply_match":
				c.ReplyMatch = re
			default:
				c.DataMatch = re
			}
		case "reply":
			if !validReply(s) {
				p.problem(at, "reply = %q: want a code (\"250\"), a class with x's (\"2xx\") or a class (\"2\"), first digit 2 to 5", s)
			}
			c.Reply = s
		case "enhanced":
			if !validEnhanced(s) {
				p.problem(at, "enhanced = %q: want an RFC 3463 code such as \"2.1.5\" (class 2, 4 or 5)", s)
			}
			c.Enhanced = s
		case "capability":
			kw := strings.ToUpper(strings.TrimSpace(s))
			if !validKeyword(kw) {
				p.problem(at, "capability = %q: want an EHLO keyword such as STARTTLS (RFC 5321 §4.1.1.1)", s)
			}
			c.Capability = kw
		case "stored_for":
			if local, domain, ok := strings.Cut(s, "@"); !ok || local == "" || domain == "" || strings.ContainsAny(s, " <>") {
				p.problem(at, "stored_for = %q: want a mailbox such as bob@lab.smtpsh.test", s)
			}
			c.StoredFor = strings.ToLower(s)
		case "meta":
			name := strings.ToLower(strings.TrimSpace(s))
			if len(name) < 2 || name[0] != ':' || strings.ContainsAny(name, " \t") {
				p.problem(at, "meta = %q: want a meta-command such as \":explain\"", s)
			}
			c.Meta = name
		}
	}
	if c.ReplyTo != "" && c.Reply == "" && c.Enhanced == "" && c.ReplyMatch == nil {
		p.problem(keyLine(lines, first, "reply_to"), "reply_to qualifies reply, enhanced or reply_match; add one of them")
	}
	return c
}

// pattern compiles a check's regular expression.
func (p *parser) pattern(at int, key, s string) *regexp.Regexp {
	if len(s) > maxPattern {
		p.problem(at, "%s is %d bytes; at most %d", key, len(s), maxPattern)
		return nil
	}
	if s == "" {
		p.problem(at, "%s is empty: it would match anything", key)
		return nil
	}
	re, err := regexp.Compile(s)
	if err != nil {
		p.problem(at, "%s: %v", key, err)
		return nil
	}
	return re
}

// tomlType names a decoded TOML value's type for a problem message.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

// validVerb accepts a command verb: letters only, as RFC 5321 §4.1.1
// spells them (known or not: lessons may teach the lab's refusals).
func validVerb(v string) bool {
	if v == "" || len(v) > 16 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 'A' || v[i] > 'Z' {
			return false
		}
	}
	return true
}

// validReply accepts "250", "2xx", "25x" and "2": RFC 5321 §4.2.1's first
// digit is 2 to 5 and the second 0 to 5.
func validReply(s string) bool {
	if len(s) != 1 && len(s) != 3 || s[0] < '2' || s[0] > '5' {
		return false
	}
	if len(s) == 1 {
		return true
	}
	if s[1] == 'x' || s[1] == 'X' {
		return s[2] == 'x' || s[2] == 'X'
	}
	if s[1] < '0' || s[1] > '5' {
		return false
	}
	return s[2] == 'x' || s[2] == 'X' || s[2] >= '0' && s[2] <= '9'
}

// validEnhanced accepts class.subject.detail with class 2, 4 or 5 and at
// most three digits for subject and detail (RFC 3463 §2).
func validEnhanced(s string) bool {
	f := strings.Split(s, ".")
	if len(f) != 3 || f[0] != "2" && f[0] != "4" && f[0] != "5" {
		return false
	}
	for _, x := range f[1:] {
		if x == "" || len(x) > 3 {
			return false
		}
		for i := 0; i < len(x); i++ {
			if x[i] < '0' || x[i] > '9' {
				return false
			}
		}
	}
	return true
}

// validKeyword accepts an EHLO keyword: ALPHA / DIGIT, then those and "-"
// (RFC 5321 §4.1.1.1).
func validKeyword(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && (c != '-' || i == 0) {
			return false
		}
	}
	return true
}

// opensFence reports whether l opens a fenced code block (CommonMark: up to
// three spaces, then at least three backticks or tildes) and returns its
// character, length and the first word of its info string.
func opensFence(l string) (c byte, n int, info string, ok bool) {
	t := strings.TrimLeft(l, " ")
	if len(l)-len(t) > 3 || len(t) < 3 || t[0] != '`' && t[0] != '~' {
		return 0, 0, "", false
	}
	c = t[0]
	for n < len(t) && t[n] == c {
		n++
	}
	if n < 3 {
		return 0, 0, "", false
	}
	rest := strings.TrimSpace(t[n:])
	if c == '`' && strings.Contains(rest, "`") {
		return 0, 0, "", false
	}
	info, _, _ = strings.Cut(rest, " ")
	return c, n, strings.ToLower(info), true
}

// closesFence reports whether l closes a block opened with n c's.
func closesFence(l string, c byte, n int) bool {
	t := strings.TrimLeft(l, " ")
	if len(l)-len(t) > 3 {
		return false
	}
	t = strings.TrimRight(t, " \t")
	if len(t) < n {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] != c {
			return false
		}
	}
	return true
}

// heading2 returns the text of a level-2 ATX heading ("## Text ##").
func heading2(l string) (string, bool) {
	t := strings.TrimLeft(l, " ")
	if len(l)-len(t) > 3 {
		return "", false
	}
	rest, ok := strings.CutPrefix(t, "##")
	if !ok || rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	if r := strings.TrimRight(rest, "#"); r != rest && (r == "" || strings.HasSuffix(r, " ")) {
		rest = strings.TrimSpace(r)
	}
	return rest, true
}

// cutFold is strings.CutPrefix, ignoring ASCII case.
func cutFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// joinText joins lines of Markdown and trims blank lines around them.
func joinText(lines []string) string {
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
