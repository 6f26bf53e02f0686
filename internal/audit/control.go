package audit

import (
	"context"
	"fmt"
	"strings"
)

// A control probe is a command every real server refuses. A server that
// answers it with 2xx answers everything so (a sink, a honeypot, a
// misconfigured appliance), and then no 2xx it gives is evidence of
// anything: not a relay pattern's acceptance, not a user's existence, not
// a smuggled command's reply. The checks that conclude from a 2xx ask a
// control first and say "unknown" with the control's exchange when it too
// was accepted.
const (
	// nonsenseCommand is a verb no server knows: RFC 5321 §4.2.4 wants
	// 500 (or 502) for it. The fingerprint sends it too (ProbeUnknown).
	nonsenseCommand = "XSMTPSHPROBE"
	// brokenRcpt is RCPT with a path that lacks its closing ">": not the
	// "<" Path ">" of RFC 5321 §4.1.2, so a 501 (§4.3.2). It is a syntax
	// error, not a foreign domain: a real open relay accepts any domain
	// (even .invalid, RFC 2606 §2) but no server should accept this.
	brokenRcpt = "RCPT TO:<smtpsh-probe@invalid"
)

// nonsenseNote says what a control command is, for reasons.
func nonsenseNote(command string) string {
	switch command {
	case nonsenseCommand, syncCommand:
		return "a command no server knows"
	case brokenRcpt:
		return "a path without its closing \">\""
	}
	return "a command every real server refuses"
}

// acceptedNonsense returns the controls that got a 2xx, each as evidence
// (the command, what it is, the code), and the first one's code.
func acceptedNonsense(controls []Exchange) (even []string, code int) {
	for _, ex := range controls {
		if ex.Code/100 == 2 && ex.Command != "RSET" && ex.Command != "MAIL FROM:<>" {
			if even == nil {
				code = ex.Code
			}
			even = append(even, evenTo(ex, nonsenseNote(ex.Command)))
		}
	}
	return even, code
}

// evenTo is one piece of evidence for answersEverything.
func evenTo(ex Exchange, what string) string {
	return fmt.Sprintf("%s (%s: %d)", ex.Command, what, ex.Code)
}

// answersEverything is the reason a 2xx proves nothing on this server:
// "the server answers 250 to everything, even to X (what X is: 250) and
// …, so " + consequence. code is the first control's reply code.
func answersEverything(code int, even []string, consequence string) string {
	return fmt.Sprintf("the server answers %d to everything, even to %s, so %s", code, strings.Join(even, " and "), consequence)
}

// relayControls asks c, after the relay patterns, the two things no real
// server accepts: an unknown command and a RCPT whose path is broken, in a
// transaction of its own (RSET first, RFC 5321 §4.1.1.5). It stops at RCPT
// and never sends DATA. The exchanges are returned as they came, with the
// error that stopped them.
func relayControls(ctx context.Context, c *conn) ([]Exchange, error) {
	var out []Exchange
	for _, line := range []string{"RSET", nonsenseCommand, "MAIL FROM:<>", brokenRcpt} {
		ex, err := c.cmd(ctx, line)
		out = append(out, ex)
		if err != nil {
			return out, err
		}
		if line == "MAIL FROM:<>" && ex.Code/100 != 2 {
			// No transaction, so no RCPT to ask; the unknown command
			// above is the control.
			break
		}
	}
	_, err := c.cmd(ctx, "RSET")
	return out, err
}

// smuggleControl opens a connection and says the smuggling probe's
// syncCommand on its own: the probe reads the server's refusal of it as
// "still in the message", so a server that accepts it cannot be probed.
// A connection that fails returns no exchange: the forms will meet the
// same failure and say so.
func (a *Auditor) smuggleControl(ctx context.Context) (Exchange, bool) {
	c, err := a.open(ctx)
	if err != nil {
		return Exchange{}, false
	}
	defer c.quit(ctx)
	ex, err := c.cmd(ctx, syncCommand)
	return ex, err == nil
}
