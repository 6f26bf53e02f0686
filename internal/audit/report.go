package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

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
	var b strings.Builder
	h := func(s string) {
		if md {
			fmt.Fprintf(&b, "\n## %s\n\n", s)
		} else {
			fmt.Fprintf(&b, "\n%s\n%s\n", s, strings.Repeat("-", len(s)))
		}
	}
	item := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		if md {
			b.WriteString("- " + mdEscape(s) + "\n")
		} else {
			b.WriteString("  " + s + "\n")
		}
	}
	if md {
		fmt.Fprintf(&b, "# smtpsh audit of %s\n", mdEscape(render.Escape(r.Target)))
	} else {
		fmt.Fprintf(&b, "smtpsh audit of %s\n", render.Escape(r.Target))
	}
	if fp := r.Fingerprint; fp != nil {
		h("Fingerprint: " + fp.Product)
		item("%s", fp.Reason)
		for _, e := range fp.describeEvidence() {
			item("%s", e)
		}
		if len(fp.Banner) > 0 {
			item("banner: %s", render.Escape(strings.Join(fp.Banner, " / ")))
		}
	}
	if e := r.Enum; e != nil {
		h("Users (method " + string(e.Method) + ", domain " + render.Escape(e.Domain) + ")")
		for _, s := range e.Steps {
			item("%s", s)
		}
		for _, u := range e.Users {
			item("%s: %s — %s (%s)", render.Escape(u.User), u.Status, u.Exchange, u.Why)
		}
		if e.Reason != "" {
			item("%s", e.Reason)
		}
	}
	if rr := r.Relay; rr != nil {
		h("Open relay: " + rr.Verdict)
		item("%s", rr.Reason)
		for i, at := range rr.Attempts {
			res := at.Mail.String()
			if at.Rcpt != nil {
				res = at.Rcpt.String()
			}
			mark := "refused"
			if at.Accepted {
				mark = "ACCEPTED"
			}
			item("%2d %-18s %s: %s", i+1, at.Pattern.Name, mark, res)
		}
		for _, ex := range rr.Controls {
			item("control: %s", ex)
		}
	}
	if sr := r.Smuggle; sr != nil {
		h("SMTP smuggling: " + sr.Verdict)
		item("%s", sr.Reason)
		if sr.Control != nil {
			item("control: %s", *sr.Control)
		}
		for _, at := range sr.Attempts {
			item("%-8s %s: %s", at.Form, at.Outcome, at.Why)
		}
	}
	if len(r.Skipped) > 0 {
		h("Skipped")
		for c, why := range r.Skipped {
			item("%s: %s", c, why)
		}
	}
	if len(r.Tarpits) > 0 {
		h("Tarpits")
		for _, t := range r.Tarpits {
			item("%s", t)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape keeps server text from becoming Markdown markup.
func mdEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "<", `\<`, ">", `\>`, "#", `\#`, "|", `\|`)
	return r.Replace(s)
}
