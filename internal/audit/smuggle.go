package audit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SmuggleForm is an end-of-data look-alike: a "." line whose line breaks
// are not both CRLF. RFC 5321 §4.5.2 ends DATA only at "\r\n.\r\n"; a
// server that also ends it at one of these, behind a relay that does not,
// lets one message carry a second, forged one (SEC Consult, December 2023:
// CVE-2023-51764 Postfix, CVE-2023-51765 Sendmail, CVE-2023-51766 Exim).
type SmuggleForm struct {
	// Name is the form as Go would quote it: `\n.\n`.
	Name string `json:"name"`
	// Bytes is the form itself.
	Bytes string `json:"-"`
}

// SmuggleForms returns the eight forms: every pairing of CRLF, bare LF and
// bare CR before and after the ".", but the one RFC 5321 allows.
func SmuggleForms() []SmuggleForm {
	forms := []string{"\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r.\r\n", "\r\n.\r", "\n.\r", "\r.\n"}
	out := make([]SmuggleForm, len(forms))
	for i, f := range forms {
		q := strconv.Quote(f)
		out[i] = SmuggleForm{Name: q[1 : len(q)-1], Bytes: f}
	}
	return out
}

// SmuggleOptions configures Smuggle.
type SmuggleOptions struct {
	// IOwnThisServer allows a target that is not the smtpsh lab: the
	// probe delivers eight small messages to Recipient.
	IOwnThisServer bool
	// Fingerprint is the target's fingerprint (see IsLab).
	Fingerprint *Fingerprint
	// Recipient receives the probes; postmaster at the server's domain
	// when empty (RFC 5321 §4.5.1: every server has one).
	Recipient string
	// Sender is the reverse-path; "smtpsh-audit@example.org" when empty.
	Sender string
}

// The outcomes of one form.
const (
	FormEndsData = "ends data"    // the server took it as the end of DATA: vulnerable
	FormStrict   = "message text" // the server read on to "\r\n.\r\n"
	FormRejected = "rejected"     // the server refused the message (bare LF/CR refused)
	FormUnknown  = "unknown"
)

// SmuggleAttempt is one form's outcome and its evidence.
type SmuggleAttempt struct {
	Form     string     `json:"form"`
	Outcome  string     `json:"outcome"`
	Why      string     `json:"why"`
	Evidence []Exchange `json:"evidence,omitempty"`
}

// SmuggleResult is the smuggling verdict.
type SmuggleResult struct {
	Verdict  string           `json:"verdict"`
	Accepted []string         `json:"accepted,omitempty"`
	Attempts []SmuggleAttempt `json:"attempts"`
	Reason   string           `json:"reason"`
	// Control is the exchange of the control probe, the probe's
	// syncCommand said on its own, which every real server refuses; nil
	// when it could not be asked.
	Control *Exchange `json:"control,omitempty"`
}

// ErrNotOwned is returned by Smuggle for a target that is not the lab
// when SmuggleOptions.IOwnThisServer is not set.
var ErrNotOwned = errors.New("refusing the smuggling probe: it delivers messages, and the target is not the smtpsh lab on loopback; say --i-own-this-server if it is yours")

// syncCommand follows each probe message, pipelined (RFC 2920): no server
// knows it, so its reply (5xx) is told apart from the marker NOOP's (2xx).
const syncCommand = "XSMTPSH-SYNC"

// Smuggle sends one message per form, on its own connection, with the
// form inside followed by "NOOP smtpsh-smuggle-N", then the real end of
// data and a command no server knows. A server that took the form as the
// end of data answers the NOOP (2xx) before the unknown command (5xx).
// First, on a connection of its own, it says that command alone: a server
// that accepts it answers everything with 2xx, and the verdict is unknown.
func (a *Auditor) Smuggle(ctx context.Context, opts SmuggleOptions) (*SmuggleResult, error) {
	if !opts.IOwnThisServer && !a.IsLab(opts.Fingerprint) {
		return nil, ErrNotOwned
	}
	if opts.Sender == "" {
		opts.Sender = "smtpsh-audit@example.org"
	}
	for _, s := range []string{opts.Sender, opts.Recipient} {
		if err := checkUser(s); s != "" && err != nil {
			return nil, err
		}
	}
	res := &SmuggleResult{Verdict: VerdictUnknown}
	// The probe tells "ended at the form" (2xx to the smuggled NOOP) from
	// "still in the message" (5xx to syncCommand): a server that accepts
	// syncCommand too cannot be probed, and gets no messages.
	if ctl, ok := a.smuggleControl(ctx); ok {
		res.Control = &ctl
		if even, code := acceptedNonsense([]Exchange{ctl}); len(even) > 0 {
			res.Reason = answersEverything(code, even, "a 2xx after a form cannot tell a smuggled command run from message text; no message was sent")
			return res, nil
		}
	}
	unknown := 0
	for i, f := range SmuggleForms() {
		at := a.smuggleOne(ctx, i+1, f, &opts)
		res.Attempts = append(res.Attempts, at)
		switch at.Outcome {
		case FormEndsData:
			res.Accepted = append(res.Accepted, f.Name)
		case FormUnknown:
			unknown++
		}
		if ctx.Err() != nil {
			break
		}
	}
	switch {
	case len(res.Accepted) > 0:
		res.Verdict = VerdictVulnerable
		res.Reason = "taken as the end of DATA: " + strings.Join(res.Accepted, ", ")
	case unknown == 0:
		res.Verdict = VerdictNotVuln
		res.Reason = "every form was read as message text or refused; only \\r\\n.\\r\\n ends DATA (RFC 5321 §4.5.2)"
	default:
		res.Reason = fmt.Sprintf("%d of %d forms could not be tested: %s", unknown, len(res.Attempts), firstWhy(res.Attempts))
	}
	return res, nil
}

func firstWhy(ats []SmuggleAttempt) string {
	for _, at := range ats {
		if at.Outcome == FormUnknown {
			return at.Why
		}
	}
	return ""
}

func (a *Auditor) smuggleOne(ctx context.Context, n int, f SmuggleForm, opts *SmuggleOptions) SmuggleAttempt {
	at := SmuggleAttempt{Form: f.Name, Outcome: FormUnknown}
	tries := 0
	c, err := a.open(ctx)
	for err != nil && lostConnection(err) {
		c, err = a.reconnect(ctx, &tries, err)
	}
	if err != nil {
		at.Why = "could not talk to the server: " + err.Error()
		return at
	}
	defer c.quit(ctx)
	rcpt := opts.Recipient
	if rcpt == "" {
		rcpt = "postmaster"
		if d := c.serverName(); d != "" {
			rcpt += "@" + d
		}
	}
	for _, line := range []string{"MAIL FROM:<" + opts.Sender + ">", "RCPT TO:<" + rcpt + ">", "DATA"} {
		ex, err := c.cmd(ctx, line)
		at.Evidence = append(at.Evidence, ex)
		if err != nil {
			at.Why = err.Error()
			return at
		}
		want := 2
		if line == "DATA" {
			want = 3
		}
		if ex.Code/100 != want {
			at.Why = "could not start a message: " + ex.String()
			return at
		}
	}
	marker := "NOOP smtpsh-smuggle-" + strconv.Itoa(n)
	body := "From: <" + opts.Sender + ">\r\nTo: <" + rcpt + ">\r\nSubject: smtpsh smuggling probe " + strconv.Itoa(n) + "\r\n\r\n" +
		"Does " + f.Name + " end DATA here?" + f.Bytes + marker + "\r\n.\r\n" + syncCommand + "\r\n"
	if err := c.writeData([]byte(body)); err != nil {
		at.Why = err.Error()
		return at
	}
	first, err := c.read(ctx, ".")
	at.Evidence = append(at.Evidence, first)
	if err != nil {
		at.Why = "no reply to the message: " + err.Error()
		return at
	}
	if first.Code/100 != 2 {
		at.Outcome, at.Why = FormRejected, "the server refused the message: "+first.String()
		return at
	}
	next, err := c.read(ctx, marker+" or "+syncCommand)
	at.Evidence = append(at.Evidence, next)
	switch {
	case err != nil && next.Code == 0:
		at.Why = "the message was accepted, then: " + err.Error()
	case next.Code/100 == 2:
		at.Outcome = FormEndsData
		at.Why = fmt.Sprintf("the message ended at %s: the smuggled %q was run as a command (%s)", f.Name, marker, next)
	default:
		at.Outcome = FormStrict
		at.Why = fmt.Sprintf("one message up to \\r\\n.\\r\\n, then the unknown %s was refused (%s): %s was message text", syncCommand, next, f.Name)
	}
	return at
}
