package send

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/shell"
	"github.com/smtpsh/smtpsh/transcripts"
)

// Summary is what --json prints: one object for the whole session.
type Summary struct {
	Server string `json:"server"`
	// Result is "ok" or "failed"; Exit the exit status and Error why.
	Result string `json:"result"`
	Exit   int    `json:"exit"`
	Error  string `json:"error,omitempty"`
	// Phases are the phases reached, in order; FailedPhase the one the
	// server refused or the session broke in.
	Phases      []string `json:"phases"`
	FailedPhase string   `json:"failed_phase,omitempty"`
	TLS         bool     `json:"tls"`
	// Commands are the commands sent and the replies, AUTH secrets
	// redacted (RFC 4954 §4: they encode the password).
	Commands []Exchange `json:"commands"`
	// LMTP says the session spoke LMTP (RFC 2033).
	LMTP bool `json:"lmtp,omitempty"`
	// Recipients are the recipients of the transaction, each with the
	// reply to its RCPT and to the end of the message: its own in LMTP
	// (RFC 2033 §4.2), the one reply for all in SMTP.
	Recipients  []RecipientResult `json:"recipients,omitempty"`
	MessageSize int               `json:"message_size"`
	// QueueID is the server's name for the message, from the reply to its
	// end ("250 2.0.0 Ok: queued as 4XyZ1" → "4XyZ1").
	QueueID    string  `json:"queue_id,omitempty"`
	DurationMS float64 `json:"duration_ms"`
	Transcript string  `json:"transcript,omitempty"`
}

// RecipientResult is what became of one recipient.
type RecipientResult struct {
	Recipient string `json:"recipient"`
	// RcptCode is the reply code to its RCPT TO; 0 when none came.
	RcptCode int `json:"rcpt_code"`
	// Code and Reply are the reply to the end of the message for this
	// recipient; Code is 0 when the message was not sent to it.
	Code  int      `json:"code,omitempty"`
	Reply []string `json:"reply,omitempty"`
	// Accepted: the server took the message for this recipient (2xx to
	// the end of the message; in LMTP, delivered).
	Accepted bool `json:"accepted"`
}

// Result is what Run returns: the summary, the transcript (with secrets;
// transcripts.Write redacts them) and the error with its exit status.
type Result struct {
	Summary    Summary
	Transcript *transcripts.Transcript
	Failure    *Failure
}

// Run sends o.Message with a shell session built from cfg (the server, the
// dialer, explanations), printing to out as the shell does. The error is
// a *shell.ExitError whose Code is one of the Exit constants; nil when the
// session did all it was asked.
func Run(ctx context.Context, cfg shell.Config, o Options, out io.Writer) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, &shell.ExitError{Code: ExitUsage, Err: err}
	}
	sc := NewScript(o, out)
	cfg.Observer = sc
	cfg.EHLOName = o.EHLO
	sess, err := shell.New(cfg)
	if err != nil {
		return nil, &shell.ExitError{Code: ExitUsage, Err: err}
	}
	start := time.Now()
	runErr := sess.Run(ctx, sc)
	tr := sess.Transcript()
	res := &Result{Transcript: tr, Failure: sc.Failure()}
	xs := Exchanges(transcripts.Redact(tr).Events)
	if f := res.Failure; f != nil && f.Exchange.Code != 0 && f.index < len(xs) && xs[f.index].Code == f.Exchange.Code {
		f.Exchange = xs[f.index] // the same exchange, its secrets redacted
	}
	err = outcome(o, res.Failure, sc.Done(), xs, runErr)
	res.Summary = summarize(cfg.Addr, o, tr, xs, res.Failure, err, time.Since(start))
	return res, err
}

// outcome decides the error and exit status: a refusal names its phase;
// otherwise the shell's own failure (connect, TLS, protocol) stands.
func outcome(o Options, f *Failure, done bool, xs []Exchange, runErr error) error {
	if f != nil && f.Exchange.Code != 0 && f.Exchange.Recipient != "" {
		return lmtpOutcome(xs)
	}
	if f != nil && f.Exchange.Code != 0 {
		x := f.Exchange
		what := "the greeting"
		if x.Command != "" {
			what = render.Escape(x.Command)
		}
		return &shell.ExitError{Code: exitFor(f.Phase), Err: fmt.Errorf("%s: the server refused %s: %s", f.Phase, what, render.Escape(strings.Join(x.Reply, " / ")))}
	}
	var ee *shell.ExitError
	if o.QuitAfter == PhaseData && done && errors.As(runErr, &ee) && ee.Code == shell.ExitProtocol && len(xs) > 0 && dataOpen(xs) {
		// Stopping after DATA's 354 can only be done by closing the
		// connection (RFC 5321 §4.1.1.4: there is no way to abort the
		// text): the shell calls that an error, --quit-after data asked
		// for it.
		return nil
	}
	if runErr != nil {
		phase := PhaseConnect
		if f != nil {
			phase = f.Phase
		} else if r := reached(xs); len(r) > 0 {
			phase = r[len(r)-1]
		}
		if errors.As(runErr, &ee) {
			return &shell.ExitError{Code: ee.Code, Err: fmt.Errorf("%s: %w", phase, ee.Err)}
		}
		return &shell.ExitError{Code: ExitProtocol, Err: fmt.Errorf("%s: %w", phase, runErr)}
	}
	if f != nil {
		return &shell.ExitError{Code: exitFor(f.Phase), Err: fmt.Errorf("%s: %s", f.Phase, f.Why)}
	}
	return nil
}

// lmtpOutcome is the error when an LMTP server refused the message for
// some recipients after its end (RFC 2033 §4.2): ExitMessage when it
// refused it for all, ExitPartial when it delivered it to some, which a
// script must not send it to again.
func lmtpOutcome(xs []Exchange) error {
	var refused []string
	accepted := 0
	for _, r := range recipientResults(xs) {
		switch {
		case r.Accepted:
			accepted++
		case r.Code != 0:
			refused = append(refused, "<"+r.Recipient+">: "+strings.Join(r.Reply, " / "))
		}
	}
	if len(refused) == 0 {
		return nil
	}
	code := ExitMessage
	what := fmt.Sprintf("refused the message for every recipient (%d)", len(refused))
	if accepted > 0 {
		code = ExitPartial
		what = fmt.Sprintf("delivered the message to %d recipient(s) and refused it for %d", accepted, len(refused))
	}
	return &shell.ExitError{Code: code, Err: fmt.Errorf("%s: LMTP: the server %s: %s", PhaseDot, what, render.Escape(strings.Join(refused, "; ")))}
}

// recipientResults follows the recipients of the last transaction in xs:
// each RCPT's reply, then the reply to the end of the message that
// answers for it: in LMTP the one with its Recipient, in SMTP the one
// reply, which answers for every recipient accepted.
func recipientResults(xs []Exchange) []RecipientResult {
	var rs []RecipientResult
	for _, x := range xs {
		switch {
		case x.Verb == smtp.MAIL:
			rs = nil
		case x.Verb == smtp.RCPT && len(rs) < maxRecipients:
			rs = append(rs, RecipientResult{Recipient: forwardPath(x.Command), RcptCode: x.Code})
		case x.Code != 0 && (x.Verb == endOfData || x.Verb == smtp.BDAT && bdatLast(x.Command)):
			for i := range rs {
				r := &rs[i]
				if r.RcptCode/100 != 2 || r.Code != 0 || x.Recipient != "" && x.Recipient != r.Recipient {
					continue
				}
				r.Code, r.Reply, r.Accepted = x.Code, x.Reply, x.Code/100 == 2
				if x.Recipient != "" {
					break // LMTP: this reply is this recipient's only
				}
			}
		}
	}
	return rs
}

// dataOpen reports whether the last command answered is DATA with 354.
func dataOpen(xs []Exchange) bool {
	for i := len(xs) - 1; i >= 0; i-- {
		if xs[i].Code != 0 {
			return xs[i].Code == 354
		}
	}
	return false
}

// reached returns the phases whose commands were answered well, in order.
func reached(xs []Exchange) []Phase {
	var ps []Phase
	if len(xs) > 0 {
		ps = append(ps, PhaseConnect)
	}
	for _, x := range xs {
		if x.Code == 0 || !acceptable(x) || x.Phase == PhaseNone {
			continue
		}
		if !slices.Contains(ps, x.Phase) {
			ps = append(ps, x.Phase)
		}
	}
	return ps
}

func summarize(addr string, o Options, tr *transcripts.Transcript, xs []Exchange, f *Failure, err error, d time.Duration) Summary {
	s := Summary{
		Server:      addr,
		Result:      "ok",
		Commands:    xs,
		MessageSize: len(o.Message),
		DurationMS:  float64(d.Microseconds()) / 1000,
		Phases:      []string{},
	}
	if s.Commands == nil {
		s.Commands = []Exchange{}
	}
	for _, p := range reached(xs) {
		s.Phases = append(s.Phases, p.String())
	}
	s.LMTP = o.LMTP
	s.Recipients = recipientResults(xs)
	for _, e := range tr.Events {
		if e.Kind == transcripts.TLS {
			s.TLS = true
		}
	}
	if err != nil {
		s.Result, s.Error = "failed", err.Error()
		var ee *shell.ExitError
		if errors.As(err, &ee) {
			s.Exit = ee.Code
		}
		if f != nil {
			s.FailedPhase = f.Phase.String()
		}
	}
	for i := len(xs) - 1; i >= 0; i-- {
		if x := xs[i]; (x.Verb == endOfData || strings.HasSuffix(x.Command, " LAST")) && x.Code/100 == 2 {
			s.QueueID = QueueID(strings.Join(x.Reply, " "))
			break
		}
	}
	return s
}

// queueIDForms are how servers name the message they queued, in their
// reply to its end.
var queueIDForms = []*regexp.Regexp{
	regexp.MustCompile(`queued as ([0-9A-Za-z]+)`),                                        // Postfix, the lab
	regexp.MustCompile(`\bid=([0-9A-Za-z-]+)`),                                            // Exim
	regexp.MustCompile(`^250[ -](?:[245]\.\d+\.\d+ )?([0-9A-Za-z]{8,}) Message accepted`), // Sendmail
	regexp.MustCompile(`\bOK\s+\d+\s+(\S+)\s+- gsmtp`),                                    // Gmail
	regexp.MustCompile(`\[InternalId=(\d+)`),                                              // Exchange
	regexp.MustCompile(`(?i)\bqueued as:? <?([0-9A-Za-z.@_-]+)>?`),                        // others
}

// QueueID returns the queue id in the reply text to the end of a
// message, or "".
func QueueID(reply string) string {
	for _, re := range queueIDForms {
		if m := re.FindStringSubmatch(reply); m != nil {
			return m[1]
		}
	}
	return ""
}
