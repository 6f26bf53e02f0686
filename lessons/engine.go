package lessons

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab/store"
	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/shell"
	"github.com/smtpsh/smtpsh/transcripts"
)

// EngineConfig is what an Engine needs.
type EngineConfig struct {
	// Lesson is the lesson to run; required.
	Lesson *Lesson
	// Renderer renders the lesson's Markdown; nil prints it as it is.
	// Build it once at start with NewRenderer.
	Renderer *render.Renderer
	// Lab is the lab the shell talks to, whose store stored_for reads; nil
	// means no stored_for check can hold.
	Lab *Lab
	// Progress is what the student did in earlier runs; the engine adds
	// this run to it.
	Progress LessonProgress
	// OnProgress, when set, is called with the lesson's progress after
	// every step done or skipped, so it can be saved at once.
	OnProgress func(LessonProgress)
	// Now returns the time for progress records; nil means time.Now.
	Now func() time.Time
	// Proxy is the HTTP CONNECT proxy the shell goes through for a lesson
	// with proxy = true (see SessionDialer); :proxylog shows its log.
	Proxy *Proxy
}

// StepStatus is where one step stands in this run.
type StepStatus uint8

// The statuses of a step.
const (
	StepPending StepStatus = iota
	StepDone
	StepSkipped
)

// String returns "pending", "done" or "skipped".
func (s StepStatus) String() string {
	switch s {
	case StepDone:
		return "done"
	case StepSkipped:
		return "skipped"
	}
	return "pending"
}

// Engine runs one lesson: it is the shell's Observer, shows each step,
// checks it on the transcript events as they happen, gives hints after
// wrong attempts, and handles :hint, :step, :skip and :lesson.
//
// The shell calls it from the session's goroutine; a reader made by Wrap
// calls it from the input goroutine; a mutex orders the two.
type Engine struct {
	cfg    EngineConfig
	lesson *Lesson
	now    func() time.Time

	mu       sync.Mutex
	out      io.Writer
	step     int // the current step; len(Steps) once finished
	status   []StepStatus
	hints    int // hints shown for the current step
	win      window
	dirty    bool // a meta-command the shell handles was used: check before the next line
	finished bool

	// The conversation, across steps: commands waiting for their reply
	// (RFC 2920 lets several be in flight) and the reply being read.
	waiting []sent
	reply   []string
	sasl    bool // a 334 asked for a SASL response (RFC 4954 §4)
}

// sent is a client line waiting for its reply.
type sent struct {
	verb string // upper case; "" for the greeting, "DATA" for the end-of-data "."
	line string
}

// reply is one whole server reply.
type reply struct {
	code     int
	to       sent
	enhanced []string
	lines    []string
}

// window is what happened since the current step started.
type window struct {
	commands []sent
	replies  []reply
	caps     map[string]bool
	data     []string
	metas    map[string]bool
	tls      bool
	auth     bool
	closed   bool
	via      bool // the connection went through a proxy
	// stored holds the IDs of the messages the lab held when the step
	// started, so stored_for sees only new ones.
	stored map[string]bool
}

// NewEngine returns an Engine for cfg.Lesson, at its first step.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	if cfg.Lesson == nil || len(cfg.Lesson.Steps) == 0 {
		return nil, fmt.Errorf("lessons: engine: no lesson, or a lesson without steps")
	}
	e := &Engine{cfg: cfg, lesson: cfg.Lesson, now: cfg.Now, out: io.Discard}
	if e.now == nil {
		e.now = time.Now
	}
	e.status = make([]StepStatus, len(cfg.Lesson.Steps))
	e.resetWindow()
	return e, nil
}

// Start shows the lesson's introduction and first step (shell.Observer).
func (e *Engine) Start(out io.Writer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.out = out
	r := e.cfg.Renderer
	fmt.Fprint(out, markdown(r, introMarkdown(e.lesson)))
	fmt.Fprintln(out)
	fmt.Fprint(out, markdown(r, stepMarkdown(e.lesson, e.step)))
	fmt.Fprintln(out, render.Note(e.term(), "   (:hint gives a hint, :step shows the step again, :skip skips it, :lesson says where you are)"))
}

// term is the Terminal the renderer was built for; a plain one without.
func (e *Engine) term() render.Terminal {
	if e.cfg.Renderer != nil {
		return e.cfg.Renderer.Terminal()
	}
	return render.Terminal{Width: render.DefaultWidth}
}

// Commands lists the engine's meta-commands (shell.Observer). It reads no
// state, so readline's goroutine may call it.
func (e *Engine) Commands() []shell.MetaCommand {
	ms := []shell.MetaCommand{
		{Name: ":hint", Usage: "the next hint for this lesson step"},
		{Name: ":step", Usage: "show the current lesson step again"},
		{Name: ":skip", Usage: "skip this lesson step (it counts as skipped, not done)"},
		{Name: ":lesson", Usage: "where you are: the lesson, its objectives, step N of M"},
	}
	for _, m := range extraMetas() {
		ms = append(ms, m.MetaCommand)
	}
	return ms
}

// extraMeta is a meta-command a lesson needs beyond :hint, :step, :skip and
// :lesson (such as :dns), handled by the engine under its lock.
type extraMeta struct {
	shell.MetaCommand
	run func(e *Engine, arg string, out io.Writer)
}

// extraMetas lists the extra meta-commands, each file that adds some in
// one line.
func extraMetas() []extraMeta {
	var ms []extraMeta
	ms = append(ms, mailAuthMetas()...) // mailauth.go: :dns :spf :dkim :dmarc (lesson 12)
	ms = append(ms, captureMetas()...)  // capture.go: :capture (lesson 14)
	ms = append(ms, proxyMetas()...)    // proxy_log.go: :proxylog (lesson 15)
	return ms
}

// runExtra runs an extra meta-command; it reports whether name is one.
// Its use counts for checks with meta = "NAME".
func (e *Engine) runExtra(name, arg string, out io.Writer) bool {
	for _, m := range extraMetas() {
		if m.Name == name {
			e.win.metas[name] = true
			m.run(e, arg, out)
			e.evaluate()
			return true
		}
	}
	return false
}

// Meta handles :hint, :step, :skip and :lesson, and notes every other
// meta-command for checks with meta = "..." (shell.Observer).
func (e *Engine) Meta(name, arg string, out io.Writer) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.out = out
	if e.runExtra(name, arg, out) {
		return true
	}
	switch name {
	case ":hint", ":step", ":skip", ":lesson":
	default:
		// The shell acts on it after this returns: the check runs once
		// it has (on the next event, or before the next line is read).
		e.win.metas[name] = true
		e.dirty = true
		return false
	}
	if e.finished {
		fmt.Fprintln(out, render.Note(e.term(), "   the lesson is complete: :quit leaves, smtpsh learn lists the others"))
		return true
	}
	switch name {
	case ":hint":
		e.win.metas[name] = true
		e.hint(false)
		e.evaluate()
	case ":step":
		e.win.metas[name] = true
		fmt.Fprint(out, markdown(e.cfg.Renderer, stepMarkdown(e.lesson, e.step)))
		e.evaluate()
	case ":skip":
		e.status[e.step] = StepSkipped
		fmt.Fprintln(out, render.Note(e.term(), fmt.Sprintf("   skipped step %d/%d: %s", e.step+1, len(e.lesson.Steps), e.lesson.Steps[e.step].Title)))
		e.advance()
	case ":lesson":
		e.whereAmI()
	}
	return true
}

// whereAmI prints the lesson, its objectives and the steps so far.
func (e *Engine) whereAmI() {
	l := e.lesson
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** (lesson %s), step %d of %d\n\n", l.Title, l.Name, e.step+1, len(l.Steps))
	b.WriteString("Objectives:\n\n")
	for _, o := range l.Objectives {
		fmt.Fprintf(&b, "- %s\n", o)
	}
	b.WriteString("\nSteps:\n\n")
	for i, s := range l.Steps {
		mark := " "
		switch {
		case e.status[i] == StepDone:
			mark = "✓"
		case e.status[i] == StepSkipped:
			mark = "–"
		case i == e.step:
			mark = "→"
		}
		fmt.Fprintf(&b, "%d. %s %s\n", i+1, mark, s.Title)
	}
	fmt.Fprint(e.out, markdown(e.cfg.Renderer, b.String()))
}

// Event checks the current step after each transcript event
// (shell.Observer).
func (e *Engine) Event(ev transcripts.Event, out io.Writer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.out = out
	answered, ok := e.record(ev)
	if e.finished {
		return
	}
	if e.evaluate() {
		return
	}
	if ok && answered.to.verb != "" && e.wrongAttempt(answered) {
		e.hint(true)
	}
}

// record adds ev to the step's window; it returns the reply ev completed,
// if it did.
func (e *Engine) record(ev transcripts.Event) (reply, bool) {
	w := &e.win
	switch ev.Kind {
	case transcripts.Connect:
		// A new connection starts over (RFC 5321 §3.1): the greeting is
		// the first reply.
		e.waiting, e.reply, e.sasl = []sent{{}}, nil, false
		w.via = ev.Via != ""
	case transcripts.Client:
		c := sent{line: ev.Text}
		switch {
		case ev.Text == ".":
			c.verb = string(smtp.DATA) // the end of data (RFC 5321 §4.1.1.4)
		case e.sasl:
			c.verb = string(smtp.AUTH) // a SASL response, not a command
		default:
			v, _ := smtp.SplitVerb(ev.Text)
			c.verb = strings.ToUpper(string(v))
		}
		w.commands = append(w.commands, c)
		if len(e.waiting) < 1000 {
			e.waiting = append(e.waiting, c)
		}
	case transcripts.Data:
		if len(w.data) < 10000 {
			w.data = append(w.data, ev.Text)
		}
	case transcripts.Server:
		if len(e.reply) < 1000 {
			e.reply = append(e.reply, ev.Text)
		}
		rl, err := smtp.ParseReplyLine(ev.Text)
		if err == nil && rl.More {
			return reply{}, false
		}
		r := reply{code: rl.Code, lines: e.reply}
		e.reply = nil
		if len(e.waiting) > 0 {
			r.to = e.waiting[0]
			e.waiting = e.waiting[1:]
		}
		for _, l := range r.lines {
			if p, err := smtp.ParseReplyLine(l); err == nil && !p.Enhanced.IsZero() {
				r.enhanced = append(r.enhanced, p.Enhanced.String())
			}
		}
		// EHLO's reply lists one keyword per line after the first
		// (RFC 5321 §4.1.1.1).
		if (r.to.verb == string(smtp.EHLO) || r.to.verb == string(smtp.LHLO)) && r.code == 250 {
			for _, l := range r.lines[1:] {
				if p, err := smtp.ParseReplyLine(l); err == nil {
					kw, _, _ := strings.Cut(strings.TrimSpace(p.Text), " ")
					w.caps[strings.ToUpper(kw)] = true
				}
			}
		}
		e.sasl = r.code == 334
		if r.code == 235 {
			w.auth = true // RFC 4954 §6
		}
		if len(w.replies) < 1000 {
			w.replies = append(w.replies, r)
		}
		return r, true
	case transcripts.TLS:
		w.tls = true
	case transcripts.Close:
		w.closed = true
		e.waiting, e.reply, e.sasl = nil, nil, false
	}
	return reply{}, false
}

// wrongAttempt reports whether r, the reply to a command, shows the
// student off the step's path: an error reply, or an answer to a command
// the check does not ask for.
func (e *Engine) wrongAttempt(r reply) bool {
	c := e.lesson.Steps[e.step].Check
	if r.code >= 400 {
		return true
	}
	if c.Command != "" && r.to.verb != c.Command {
		return true
	}
	return c.CommandMatch != nil && !c.CommandMatch.MatchString(r.to.line)
}

// settle runs the check put off after a meta-command the shell handled.
func (e *Engine) settle() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dirty && !e.finished {
		e.evaluate()
	}
}

// evaluate checks the current step and moves on when it holds; it reports
// whether it did.
func (e *Engine) evaluate() bool {
	e.dirty = false
	if e.finished || !e.holds(e.lesson.Steps[e.step].Check) {
		return false
	}
	e.status[e.step] = StepDone
	fmt.Fprintln(e.out, checkMark(e.cfg.Renderer, "✓ step %d/%d: %s", e.step+1, len(e.lesson.Steps), e.lesson.Steps[e.step].Title))
	e.advance()
	return true
}

// advance moves to the next step, or finishes the lesson.
func (e *Engine) advance() {
	e.step++
	e.hints = 0
	e.resetWindow()
	e.report()
	if e.step < len(e.lesson.Steps) {
		fmt.Fprintln(e.out)
		fmt.Fprint(e.out, markdown(e.cfg.Renderer, stepMarkdown(e.lesson, e.step)))
		return
	}
	e.finished = true
	done, skipped := 0, 0
	for _, s := range e.status {
		switch s {
		case StepDone:
			done++
		case StepSkipped:
			skipped++
		}
	}
	fmt.Fprintln(e.out)
	if e.lesson.Outro != "" {
		fmt.Fprint(e.out, markdown(e.cfg.Renderer, "## Summary\n\n"+e.lesson.Outro))
	}
	msg := fmt.Sprintf("✓ lesson complete: %s, %d of %d steps done", e.lesson.Title, done, len(e.status))
	if skipped > 0 {
		msg += fmt.Sprintf(", %d skipped (run it again to do them)", skipped)
	}
	fmt.Fprintln(e.out, checkMark(e.cfg.Renderer, "%s", msg))
	fmt.Fprintln(e.out, render.Note(e.term(), "   :quit leaves; smtpsh learn shows what comes next"))
}

// report hands the progress to OnProgress.
func (e *Engine) report() {
	if e.cfg.OnProgress != nil {
		e.cfg.OnProgress(e.progress())
	}
}

// progress merges this run into the earlier progress: a step done in any
// run stays done.
func (e *Engine) progress() LessonProgress {
	p := e.cfg.Progress.clone()
	for i, s := range e.status {
		p.mark(e.lesson.Steps[i].Title, s)
	}
	p.Steps = len(e.lesson.Steps)
	p.Updated = e.now().UTC()
	if e.step >= len(e.lesson.Steps) {
		p.Finished = true
	}
	return p
}

// hint prints the next hint; auto says a wrong attempt asked for it.
func (e *Engine) hint(auto bool) {
	s := e.lesson.Steps[e.step]
	lead := ""
	if auto {
		lead = "Not yet. "
	}
	switch {
	case len(s.Hints) == 0:
		fmt.Fprintln(e.out, render.Note(e.term(), "   "+lead+"This step has no hints: :step shows it again, :skip moves on."))
	case e.hints < len(s.Hints):
		e.hints++
		fmt.Fprint(e.out, markdown(e.cfg.Renderer, fmt.Sprintf("**%sHint %d/%d:** %s", lead, e.hints, len(s.Hints), s.Hints[e.hints-1])))
	default:
		fmt.Fprint(e.out, markdown(e.cfg.Renderer, fmt.Sprintf("**%sHint %d/%d:** %s\n\nThat was the last hint: `:step` shows the step again, `:skip` moves on.", lead, len(s.Hints), len(s.Hints), s.Hints[len(s.Hints)-1])))
	}
}

// resetWindow starts an empty window for the current step.
func (e *Engine) resetWindow() {
	e.win = window{caps: map[string]bool{}, metas: map[string]bool{}, stored: map[string]bool{}}
	for _, m := range e.labMessages() {
		e.win.stored[m.ID] = true
	}
}

// holds reports whether every key of c holds on the window.
func (e *Engine) holds(c Condition) bool {
	w := &e.win
	if c.Command != "" && !anyOf(w.commands, func(s sent) bool { return s.verb == c.Command }) {
		return false
	}
	if c.CommandMatch != nil && !anyOf(w.commands, func(s sent) bool { return c.CommandMatch.MatchString(s.line) }) {
		return false
	}
	replyTo := func(r reply) bool {
		return c.ReplyTo == "" || r.to.verb == c.ReplyTo
	}
	if c.Reply != "" && !anyOf(w.replies, func(r reply) bool { return replyTo(r) && codeMatches(c.Reply, r.code) }) {
		return false
	}
	if c.Enhanced != "" && !anyOf(w.replies, func(r reply) bool {
		return replyTo(r) && anyOf(r.enhanced, func(x string) bool { return x == c.Enhanced })
	}) {
		return false
	}
	if c.ReplyMatch != nil && !anyOf(w.replies, func(r reply) bool {
		return replyTo(r) && anyOf(r.lines, c.ReplyMatch.MatchString)
	}) {
		return false
	}
	if c.Capability != "" && !w.caps[c.Capability] {
		return false
	}
	if c.TLS && !w.tls || c.Auth && !w.auth || c.Closed && !w.closed || c.Via && !w.via {
		return false
	}
	if c.DataMatch != nil && !anyOf(w.data, func(l string) bool {
		// The line as typed and as sent: "..x" on the wire is ".x"
		// typed (RFC 5321 §4.5.2).
		return c.DataMatch.MatchString(l) || strings.HasPrefix(l, ".") && c.DataMatch.MatchString(l[1:])
	}) {
		return false
	}
	if c.Meta != "" && !w.metas[c.Meta] {
		return false
	}
	// With data_match too, the stored message must be the one that
	// matches: a wrong answer stored earlier in the step, and the right
	// line typed but not yet sent, must not complete it together.
	if c.StoredFor != "" && !e.storedFor(c.StoredFor, c.DataMatch) {
		return false
	}
	return true
}

// storedFor reports whether the lab stored a message for rcpt since the
// step started: addressed to it, or delivered to its mailbox (an alias or
// a list may have brought it there); with match, one with a line that
// matches it.
func (e *Engine) storedFor(rcpt string, match *regexp.Regexp) bool {
	local, domain, _ := strings.Cut(rcpt, "@")
	labDomain := ""
	if e.cfg.Lab != nil {
		labDomain = strings.ToLower(e.cfg.Lab.Profile.Domain)
	}
	for _, m := range e.labMessages() {
		// Stored lines are unstuffed; data_match may be written for the
		// wire form (RFC 5321 §4.5.2), as the data check above allows.
		if e.win.stored[m.ID] || match != nil && !anyOf(strings.Split(string(m.Data), "\r\n"), func(l string) bool {
			return match.MatchString(l) || strings.HasPrefix(l, ".") && match.MatchString("."+l)
		}) {
			continue
		}
		for _, to := range m.To {
			if strings.EqualFold(strings.Trim(to, "<>"), rcpt) {
				return true
			}
		}
		if domain == labDomain {
			for _, box := range m.Mailboxes {
				if strings.EqualFold(box, local) {
					return true
				}
			}
		}
	}
	return false
}

// labMessages returns every message the lab holds in memory.
func (e *Engine) labMessages() []*store.Message {
	if e.cfg.Lab == nil || e.cfg.Lab.Store == nil {
		return nil
	}
	st := e.cfg.Lab.Store
	ms := st.Relayed()
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m.ID] = true
	}
	for _, box := range st.Mailboxes() {
		for _, m := range st.Mailbox(box) {
			if !seen[m.ID] {
				seen[m.ID] = true
				ms = append(ms, m)
			}
		}
	}
	return ms
}

// codeMatches reports whether code fits pattern: "250", "25x", "2xx" or
// "2".
func codeMatches(pattern string, code int) bool {
	c := strconv.Itoa(code)
	if len(pattern) == 1 {
		return len(c) == 3 && c[0] == pattern[0]
	}
	if len(c) != len(pattern) {
		return false
	}
	for i := 0; i < len(c); i++ {
		if pattern[i] != 'x' && pattern[i] != 'X' && pattern[i] != c[i] {
			return false
		}
	}
	return true
}

func anyOf[T any](xs []T, f func(T) bool) bool {
	for _, x := range xs {
		if f(x) {
			return true
		}
	}
	return false
}

// State reports the current step (0-based; len(Steps) once finished) and
// the status of every step. Safe to call from any goroutine.
func (e *Engine) State() (step int, status []StepStatus) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.step, append([]StepStatus(nil), e.status...)
}

// Finished reports whether every step is done or skipped.
func (e *Engine) Finished() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.finished
}

// Progress returns the lesson's progress, this run merged with the
// earlier ones.
func (e *Engine) Progress() LessonProgress {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.progress()
}

// Wrap returns in with one addition: before each line is read, a check put
// off after a meta-command the shell handled itself (such as :explain) is
// run, so "✓ step" follows that command's output rather than preceding
// it. learn wraps the shell's input with it.
//
// A readline input keeps its Tab completion and its hidden password
// prompt (for :auth) through the wrapper.
func (e *Engine) Wrap(in shell.LineReader) shell.LineReader {
	r := &settlingReader{LineReader: in, e: e}
	if t, ok := in.(terminalReader); ok {
		return &settlingTerminal{settlingReader: r, t: t}
	}
	return r
}

// terminalReader is what the shell's readline input offers besides
// shell.LineReader.
type terminalReader interface {
	SetCompleter(func(head string) ([]string, int))
	ReadPassword(prompt string) ([]byte, error)
}

type settlingTerminal struct {
	*settlingReader
	t terminalReader
}

func (r *settlingTerminal) SetCompleter(f func(head string) ([]string, int)) { r.t.SetCompleter(f) }
func (r *settlingTerminal) ReadPassword(prompt string) ([]byte, error) {
	return r.t.ReadPassword(prompt)
}

type settlingReader struct {
	shell.LineReader
	e *Engine
}

func (r *settlingReader) ReadLine() (string, error) {
	r.e.settle()
	return r.LineReader.ReadLine()
}
