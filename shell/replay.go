package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/smtpsh/smtpsh/internal/explain"
	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// ReplayOptions says how Replay shows a transcript.
type ReplayOptions struct {
	// Terminal says whether colour may be used (render.Detect).
	Terminal render.Terminal
	// NoExplain turns off the one-line explanation after each reply.
	NoExplain bool
	// KB explains replies; nil means explain.New().
	KB *explain.KB
	// Step, when not nil, is read for one line (Enter) before each client
	// command after the first; at its end the rest is shown whole.
	Step io.Reader
}

// Replay writes t to w as the live shell would have shown it: client
// lines, server lines coloured by class, the one-line explanation of each
// reply in the context of the command it answers, and a note for each
// event that is not protocol text. The text of t comes from a file, so all
// of it is escaped.
func Replay(w io.Writer, t *transcripts.Transcript, opts ReplayOptions) error {
	kb := opts.KB
	if kb == nil {
		var err error
		if kb, err = explain.New(); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
	}
	// A Session that never connects, so that replies are explained by the
	// very code the live shell uses (explainReply).
	s := &Session{cfg: Config{Terminal: opts.Terminal, NoExplain: opts.NoExplain}, kb: kb, out: w}
	var step *bufio.Scanner
	if opts.Step != nil {
		step = bufio.NewScanner(opts.Step) // bounded: 64 KiB lines
	}
	pend := []smtp.Verb{explain.Greeting}
	var server []string
	flush := func() {
		if len(server) > 0 {
			pend = s.replayReplies(server, pend)
			server = server[:0]
		}
	}
	clients := 0
	for i := range t.Events {
		e := &t.Events[i]
		if e.Kind != transcripts.Server {
			flush()
		}
		switch e.Kind {
		case transcripts.Server:
			server = append(server, e.Text)
		case transcripts.Client:
			if clients > 0 && step != nil {
				fmt.Fprint(w, render.Note(opts.Terminal, "   [Enter: next command] "))
				if !step.Scan() {
					step = nil
					fmt.Fprintln(w)
				}
			}
			clients++
			s.print(render.ClientLine("C: ", e.Text))
			verb, _ := smtp.SplitVerb(e.Text)
			if e.Text == "." {
				// The reply to "." is DATA's second reply (RFC 5321
				// §4.1.1.4), explained after DATA.
				verb = smtp.DATA
			} else if !verb.Known() && len(pend) == 0 && s.lastVerb == smtp.AUTH {
				verb = smtp.AUTH // a SASL response (RFC 4954 §4)
			}
			pend = append(pend, verb)
		case transcripts.Data:
			s.print(render.ClientLine("C: ", e.Text)) // as the shell shows DATA lines
		default:
			s.note("%s", eventNote(e))
		}
	}
	flush()
	return nil
}

// replayReplies prints recorded server lines as replies answering the
// commands in pend, and returns the commands still unanswered.
func (s *Session) replayReplies(lines []string, pend []smtp.Verb) []smtp.Verb {
	for _, r := range recordedReplies(lines) {
		if r.reply == nil {
			for _, l := range r.raw {
				s.print(render.ServerLine(s.cfg.Terminal, 0, "S: ", l))
			}
			s.warn("unreadable reply: %s", render.Escape(r.err.Error()))
			continue
		}
		for _, l := range r.reply.Raw() {
			s.print(render.ServerLine(s.cfg.Terminal, r.reply.Code, "S: ", l))
		}
		for _, w := range r.reply.Warnings {
			s.warn("%s", render.Escape(w.String()))
		}
		verb := explain.Greeting
		if len(pend) > 0 {
			verb, pend = pend[0], pend[1:]
		}
		s.lastVerb = verb
		s.explainReply(r.reply, verb)
	}
	return pend
}

// recorded is one reply read back from recorded server lines, or the lines
// that could not be read as one.
type recorded struct {
	reply *smtp.Reply
	raw   []string
	err   error
}

// recordedReplies reads consecutive recorded server lines as replies with
// internal/smtp's ReplyReader, the reader the live shell uses.
func recordedReplies(lines []string) []recorded {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	rr := smtp.NewReplyReader(strings.NewReader(b.String()), nil)
	var out []recorded
	used := 0
	for used < len(lines) {
		r, err := rr.ReadReply()
		switch {
		case err == nil:
			used += len(r.Raw())
			out = append(out, recorded{reply: r})
		case errors.Is(err, io.EOF):
			// An unfinished multi-line reply: show what there is.
			return append(out, recorded{raw: lines[used:], err: err})
		default:
			// Out of step: show the rest as it is rather than guess.
			return append(out, recorded{raw: lines[used:], err: err})
		}
	}
	return out
}

// eventNote describes an event that is not protocol text, escaped.
func eventNote(e *transcripts.Event) string {
	switch e.Kind {
	case transcripts.Connect:
		n := "connected to " + render.Escape(e.Addr)
		if e.Via != "" {
			n += " via " + render.Escape(e.Via)
		}
		return n
	case transcripts.TLS:
		if e.TLS == nil {
			return "TLS"
		}
		n := "TLS: " + render.Escape(e.TLS.Version) + " " + render.Escape(e.TLS.CipherSuite)
		if e.TLS.CertSubject != "" {
			n += ", certificate " + render.Escape(e.TLS.CertSubject)
		}
		if e.TLS.ServerName != "" {
			n += ", SNI " + render.Escape(e.TLS.ServerName)
		}
		return n
	case transcripts.Close:
		n := "connection closed by the " + e.Side.String()
		if e.Side == transcripts.SideUnknown {
			n = "connection closed"
		}
		if e.Text != "" {
			n += " (" + render.Escape(e.Text) + ")"
		}
		return n
	case transcripts.Gap:
		return fmt.Sprintf("! the capture lost %d bytes from the %s", e.Bytes, e.Side)
	case transcripts.Note:
		return render.Escape(e.Text)
	}
	return "unknown event " + e.Kind.String()
}

// ReplayLines returns the lines a session must be given to send t's client
// lines again: C: lines as they are, D: lines without their dot-stuffing
// (the session stuffs again, RFC 5321 §4.5.2). It stops before the first
// line that cannot be replayed (redacted, or one the shell would read as
// something else than a line to send), and says which in err; the lines
// before it are still returned.
func ReplayLines(t *transcripts.Transcript) ([]string, error) {
	var out []string
	n := 0
	for i := range t.Events {
		e := &t.Events[i]
		if e.Kind != transcripts.Client && e.Kind != transcripts.Data {
			continue
		}
		n++
		line := e.Text
		why := ""
		if e.Kind == transcripts.Data {
			line = strings.TrimPrefix(line, ".")
			if line == "." {
				why = `a lone "." in the data would end it`
			}
		} else {
			switch tl := strings.TrimSpace(line); {
			case e.Redacted:
				why = "it was redacted when recorded"
			case tl == "" || strings.HasPrefix(tl, "#"):
				why = "the shell skips blank and # lines"
			case strings.HasPrefix(tl, ":"):
				why = `the shell reads a line starting with ":" as a meta-command`
			}
		}
		if _, ok := expectLine(line); ok && why == "" {
			why = `the shell reads "expect" lines as expectations`
		}
		if why != "" {
			return out, fmt.Errorf("stopped before client line %d, %q: %s", n, render.Escape(e.Text), why)
		}
		out = append(out, line)
	}
	return out, nil
}

// A ReplayDiff is a reply that differs from the recorded one.
type ReplayDiff struct {
	// Line is the client line the reply answers; "" for the greeting.
	Line string
	// Recorded and Got are the replies' codes, "250 2.1.5", or "no reply".
	Recorded, Got string
}

// String says what differs: `RCPT TO:<a@b>: recorded 250 2.1.5, got 550 5.1.1`.
func (d ReplayDiff) String() string {
	what := "greeting"
	if d.Line != "" {
		what = render.Escape(d.Line)
	}
	return fmt.Sprintf("%s: recorded %s, got %s", what, d.Recorded, d.Got)
}

// ReplayTo re-sends t's client lines to the server of cfg through a
// Session, which shows the conversation as the shell does, then compares
// each reply's code and enhanced code with the recorded one and prints the
// differences and a summary to out. The error is an *ExitError with
// ExitExpect when a reply differs, the session's own failure otherwise, or
// an error saying where replay stopped (a redacted line).
func ReplayTo(ctx context.Context, cfg Config, t *transcripts.Transcript, out io.Writer) ([]ReplayDiff, error) {
	lines, stopErr := ReplayLines(t)
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	runErr := s.Run(ctx, Lines(out, lines...))
	var ee *ExitError
	if errors.As(runErr, &ee) && (ee.Code == ExitConnect || ee.Code == ExitTLS) {
		return nil, runErr // nothing to compare
	}
	diffs := CompareReplies(t, s.Transcript(), len(lines))
	fmt.Fprintln(out)
	for _, d := range diffs {
		fmt.Fprintln(out, render.Warning(cfg.Terminal, "differs: "+d.String()))
	}
	if stopErr != nil {
		fmt.Fprintln(out, render.Warning(cfg.Terminal, "replay "+stopErr.Error()))
	}
	switch len(diffs) {
	case 0:
		fmt.Fprintf(out, "replay: %d client lines sent, every reply matches\n", len(lines))
	case 1:
		fmt.Fprintf(out, "replay: %d client lines sent, 1 reply differs\n", len(lines))
	default:
		fmt.Fprintf(out, "replay: %d client lines sent, %d replies differ\n", len(lines), len(diffs))
	}
	switch {
	case len(diffs) > 0:
		return diffs, &ExitError{Code: ExitExpect, Err: fmt.Errorf("replay: %d of the replies differ from the recording", len(diffs))}
	case runErr != nil:
		return nil, runErr
	case stopErr != nil:
		return nil, fmt.Errorf("replay: %w", stopErr)
	}
	return nil, nil
}

// CompareReplies compares the replies of two transcripts of the same
// client lines: the greeting, then the reply to each of the first n client
// and data lines (data lines have none, unless a server that refused DATA
// read them as commands). Codes and enhanced codes are compared, not text,
// which differs between any two servers.
func CompareReplies(recordedT, live *transcripts.Transcript, n int) []ReplayDiff {
	rec, lines := slotReplies(recordedT)
	got, _ := slotReplies(live)
	var diffs []ReplayDiff
	for i := 0; i <= n && i < len(rec); i++ {
		var g *smtp.Reply
		if i < len(got) {
			g = got[i]
		}
		a, b := codeString(rec[i]), codeString(g)
		if a != b {
			diffs = append(diffs, ReplayDiff{Line: lines[i], Recorded: a, Got: b})
		}
	}
	return diffs
}

// slotReplies returns, for the greeting (slot 0) and each client or data
// line (slot i), the first reply that answered it, nil if none, pairing
// replies with commands in order as the shell does (RFC 5321 §4.2: one
// reply per command, in order, also when pipelined, RFC 2920 §3).
func slotReplies(t *transcripts.Transcript) ([]*smtp.Reply, []string) {
	replies := []*smtp.Reply{nil}
	lines := []string{""}
	queue := []int{0}
	var server []string
	flush := func() {
		if len(server) == 0 {
			return
		}
		for _, r := range recordedReplies(server) {
			if r.reply == nil || len(queue) == 0 {
				continue
			}
			replies[queue[0]] = r.reply
			queue = queue[1:]
		}
		server = server[:0]
	}
	for i := range t.Events {
		e := &t.Events[i]
		switch e.Kind {
		case transcripts.Server:
			server = append(server, e.Text)
			continue
		case transcripts.Client:
			flush()
			queue = append(queue, len(replies))
		case transcripts.Data:
			flush()
		default:
			flush()
			continue
		}
		replies = append(replies, nil)
		lines = append(lines, e.Text)
	}
	flush()
	return replies, lines
}

// codeString is a reply's code and enhanced code, "250 2.1.5", as people
// quote them; "no reply" for nil.
func codeString(r *smtp.Reply) string {
	if r == nil {
		return "no reply"
	}
	if r.Enhanced.IsZero() {
		return fmt.Sprint(r.Code)
	}
	return fmt.Sprintf("%d %s", r.Code, r.Enhanced)
}
