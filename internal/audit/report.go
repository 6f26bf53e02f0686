package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/smtpsh/smtpsh/internal/render"
)

// Check names one check of Run.
type Check string

// The checks, in the order Run does them.
const (
	CheckFingerprint Check = "fingerprint"
	CheckEnum        Check = "enum"
	CheckRelay       Check = "relay"
	CheckSmuggle     Check = "smuggle"
)

// ParseChecks reads "fingerprint,enum,relay,smuggle" (any subset, any order).
func ParseChecks(s string) ([]Check, error) {
	var out []Check
	for _, f := range strings.Split(s, ",") {
		switch c := Check(strings.TrimSpace(strings.ToLower(f))); c {
		case CheckFingerprint, CheckEnum, CheckRelay, CheckSmuggle:
			out = append(out, c)
		case "":
		default:
			return nil, fmt.Errorf("check %q: want fingerprint, enum, relay or smuggle", f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no checks in %q", s)
	}
	return out, nil
}

// compareChecks orders checks as Run does them; names it does not know
// (from a report read back) come after, by name.
func compareChecks(x, y Check) int {
	rank := func(c Check) int {
		switch c {
		case CheckFingerprint:
			return 0
		case CheckEnum:
			return 1
		case CheckRelay:
			return 2
		case CheckSmuggle:
			return 3
		}
		return 4
	}
	if d := rank(x) - rank(y); d != 0 {
		return d
	}
	return strings.Compare(string(x), string(y))
}

// RunOptions says which checks Run does and with what.
type RunOptions struct {
	Checks  []Check
	Enum    EnumOptions
	Relay   RelayOptions
	Smuggle SmuggleOptions
}

// Report is everything Run found.
type Report struct {
	Target      string         `json:"target"`
	Started     time.Time      `json:"started"`
	Fingerprint *Fingerprint   `json:"fingerprint,omitempty"`
	Enum        *Enumeration   `json:"enum,omitempty"`
	Relay       *RelayResult   `json:"relay,omitempty"`
	Smuggle     *SmuggleResult `json:"smuggle,omitempty"`
	// Skipped says why a requested check did not run.
	Skipped map[Check]string `json:"skipped,omitempty"`
	// Tarpits lists slow replies noticed.
	Tarpits []string `json:"tarpits,omitempty"`
}

// Run does the checks. The fingerprint always runs first when a check that
// may send (relay with Send, smuggle) needs to know whether the target is
// the lab.
func (a *Auditor) Run(ctx context.Context, o RunOptions) (*Report, error) {
	r := &Report{Target: a.cfg.Addr, Started: time.Now().UTC()}
	want := map[Check]bool{}
	for _, c := range o.Checks {
		want[c] = true
	}
	skip := func(c Check, why string) {
		if r.Skipped == nil {
			r.Skipped = map[Check]string{}
		}
		r.Skipped[c] = why
	}
	if want[CheckFingerprint] || want[CheckSmuggle] || o.Relay.Send {
		fp, err := a.Fingerprint(ctx)
		if err != nil {
			return r, err
		}
		r.Fingerprint = fp
		o.Relay.Fingerprint, o.Smuggle.Fingerprint = fp, fp
	}
	if want[CheckEnum] {
		if len(o.Enum.Users) == 0 {
			skip(CheckEnum, "no users to look for")
		} else {
			e, err := a.Enumerate(ctx, o.Enum)
			if err != nil {
				return r, err
			}
			r.Enum = e
		}
	}
	if want[CheckRelay] && ctx.Err() == nil {
		rr, err := a.RelayTest(ctx, o.Relay)
		if err != nil {
			skip(CheckRelay, err.Error())
		}
		r.Relay = rr
	}
	if want[CheckSmuggle] && ctx.Err() == nil {
		sr, err := a.Smuggle(ctx, o.Smuggle)
		if err != nil {
			skip(CheckSmuggle, err.Error())
		}
		r.Smuggle = sr
	}
	r.Tarpits = a.Tarpits()
	return r, ctx.Err()
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes r for people, plain text; every string from the server
// is escaped.
func (r *Report) WriteText(w io.Writer) error { return r.write(w, false) }

// WriteMarkdown writes r as Markdown (for glamour, or a ticket).
func (r *Report) WriteMarkdown(w io.Writer) error { return r.write(w, true) }

func (r *Report) write(w io.Writer, md bool) error {
	b := &reportWriter{md: md}
	if md {
		fmt.Fprintf(&b.b, "# smtpsh audit of %s\n", mdEscape(render.Escape(r.Target)))
	} else {
		fmt.Fprintf(&b.b, "smtpsh audit of %s\n", render.Escape(r.Target))
	}
	if fp := r.Fingerprint; fp != nil {
		b.heading("Fingerprint: " + fp.Product)
		b.para(fp.Reason)
		var rows [][]string
		for _, m := range fp.Evidence {
			// The weight goes with the probe: a column of its own is
			// too narrow for glamour to keep its header whole.
			rows = append(rows, []string{fmt.Sprintf("%s +%d", m.Probe, m.Weight), render.Escape(m.Line), m.Source})
		}
		b.table([]string{"probe", "reply line", "wording from"}, "lll", rows,
			func(c []string) string {
				probe, weight, _ := strings.Cut(c[0], " ")
				return fmt.Sprintf("%s: %s (%s; %s)", probe, c[1], weight, c[2])
			})
		if len(fp.Banner) > 0 {
			b.para("banner: " + render.Escape(strings.Join(fp.Banner, " / ")))
		}
	}
	if e := r.Enum; e != nil {
		b.heading("Users (method " + string(e.Method) + ", domain " + render.Escape(e.Domain) + ")")
		b.list(e.Steps)
		var rows [][]string
		for _, u := range e.Users {
			rows = append(rows, []string{render.Escape(u.User), string(u.Status), u.Exchange.String(), u.Why})
		}
		b.table([]string{"user", "status", "reply", "why"}, "llll", rows,
			func(c []string) string { return fmt.Sprintf("%s: %s — %s (%s)", c[0], c[1], c[2], c[3]) })
		if e.Reason != "" {
			b.para(e.Reason)
		}
	}
	if rr := r.Relay; rr != nil {
		b.heading("Open relay: " + rr.Verdict)
		b.para(rr.Reason)
		var rows [][]string
		for i, at := range rr.Attempts {
			res := at.Mail.String()
			if at.Rcpt != nil {
				res = at.Rcpt.String()
			}
			mark := "refused"
			if at.Accepted {
				mark = "ACCEPTED"
			}
			rows = append(rows, []string{fmt.Sprint(i + 1), at.Pattern.Name, mark, res})
		}
		b.table([]string{"#", "pattern", "result", "reply"}, "rlll", rows,
			func(c []string) string { return fmt.Sprintf("%2s %-18s %s: %s", c[0], c[1], c[2], c[3]) })
		var ctl []string
		for _, ex := range rr.Controls {
			ctl = append(ctl, "control: "+ex.String())
		}
		b.list(ctl)
	}
	if sr := r.Smuggle; sr != nil {
		b.heading("SMTP smuggling: " + sr.Verdict)
		b.para(sr.Reason)
		if sr.Control != nil {
			b.list([]string{"control: " + sr.Control.String()})
		}
		var rows [][]string
		for _, at := range sr.Attempts {
			rows = append(rows, []string{at.Form, at.Outcome, at.Why})
		}
		b.table([]string{"form", "outcome", "why"}, "lll", rows,
			func(c []string) string { return fmt.Sprintf("%-8s %s: %s", c[0], c[1], c[2]) })
	}
	if len(r.Skipped) > 0 {
		b.heading("Skipped")
		// In the order Run does the checks, not map order: the same
		// report reads the same every time.
		var skipped []string
		for _, c := range slices.SortedFunc(maps.Keys(r.Skipped), compareChecks) {
			skipped = append(skipped, fmt.Sprintf("%s: %s", c, r.Skipped[c]))
		}
		b.list(skipped)
	}
	if len(r.Tarpits) > 0 {
		b.heading("Tarpits")
		b.list(r.Tarpits)
	}
	_, err := io.WriteString(w, b.b.String())
	return err
}

// reportWriter writes a report's sections as plain text (headings
// underlined, items indented) or as Markdown (## headings, paragraphs,
// lists and tables that glamour renders, every string escaped).
type reportWriter struct {
	b  strings.Builder
	md bool
}

func (w *reportWriter) heading(s string) {
	s = escapeControls(s)
	if w.md {
		fmt.Fprintf(&w.b, "\n## %s\n\n", mdEscape(s))
	} else {
		fmt.Fprintf(&w.b, "\n%s\n%s\n", s, strings.Repeat("-", utf8.RuneCountInString(s)))
	}
}

// para is a sentence of the report: a paragraph in Markdown.
func (w *reportWriter) para(s string) {
	s = escapeControls(s)
	if w.md {
		w.b.WriteString(mdEscape(s) + "\n\n")
	} else {
		w.b.WriteString("  " + s + "\n")
	}
}

func (w *reportWriter) list(items []string) {
	for _, s := range items {
		s = escapeControls(s)
		if w.md {
			w.b.WriteString("- " + mdEscape(s) + "\n")
		} else {
			w.b.WriteString("  " + s + "\n")
		}
	}
	if w.md && len(items) > 0 {
		w.b.WriteString("\n")
	}
}

// table writes rows under header as a Markdown table (align holds one
// 'l' or 'r' per column), or, in text, each row on a line as line says.
func (w *reportWriter) table(header []string, align string, rows [][]string, line func([]string) string) {
	if len(rows) == 0 {
		return
	}
	if !w.md {
		for _, r := range rows {
			w.b.WriteString("  " + escapeControls(line(r)) + "\n")
		}
		return
	}
	w.b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for i := range header {
		if i < len(align) && align[i] == 'r' {
			w.b.WriteString(" ---: |")
		} else {
			w.b.WriteString(" --- |")
		}
	}
	w.b.WriteString("\n")
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = mdEscape(escapeControls(c))
		}
		w.b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	w.b.WriteString("\n")
}

// escapeControls escapes what must never reach a terminal (C0 and C1
// controls, DEL, bytes that are not UTF-8, other non-printing runes) as
// render.Escape does, and leaves everything else, backslashes included,
// as it is: the report's strings are already escaped where they quote the
// server (Exchange.String), and this keeps a string that was not from
// writing escape sequences to the terminal.
func escapeControls(s string) string {
	var b strings.Builder
	escaped := false
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		// A RuneError of one byte is a byte that is not UTF-8; of three,
		// a real U+FFFD.
		keep := r == ' ' || unicode.IsPrint(r) && (r != utf8.RuneError || n == 3)
		switch {
		case !keep && !escaped:
			escaped = true
			b.WriteString(s[:i])
			b.WriteString(render.Escape(s[i : i+n]))
		case !keep:
			b.WriteString(render.Escape(s[i : i+n]))
		case escaped:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	if !escaped {
		return s
	}
	return b.String()
}

// mdEscape keeps server text from becoming Markdown markup.
func mdEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "<", `\<`, ">", `\>`, "#", `\#`, "|", `\|`)
	return r.Replace(s)
}
