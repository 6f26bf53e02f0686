package send

import (
	"fmt"
	"strings"

	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/shell"
)

// Phase is a point in the session `smtpsh send` goes through, in order;
// --quit-after names one.
type Phase int

// The phases, in the order of a session (RFC 5321 §3.3, §4.1.4).
const (
	// PhaseNone: nothing was done yet.
	PhaseNone Phase = iota
	// PhaseConnect: the connection is open.
	PhaseConnect
	// PhaseBanner: the server's greeting (RFC 5321 §4.2, 220).
	PhaseBanner
	// PhaseEHLO: EHLO and its reply (RFC 5321 §4.1.1.1).
	PhaseEHLO
	// PhaseTLS: STARTTLS, the handshake and EHLO again (RFC 3207 §4.2).
	PhaseTLS
	// PhaseXCLIENT: Postfix's XCLIENT, its 220 (a new greeting) and EHLO
	// again (Postfix XCLIENT_README).
	PhaseXCLIENT
	// PhaseAuth: the AUTH exchange (RFC 4954 §4).
	PhaseAuth
	// PhaseMail: MAIL FROM (RFC 5321 §4.1.1.2).
	PhaseMail
	// PhaseRcpt: RCPT TO, one per recipient (RFC 5321 §4.1.1.3).
	PhaseRcpt
	// PhaseData: DATA and its 354 (RFC 5321 §4.1.1.4).
	PhaseData
	// PhaseDot: the message and the reply to its end, the "." line or
	// BDAT LAST (RFC 3030 §2).
	PhaseDot
	// PhaseQuit: QUIT (RFC 5321 §4.1.1.10).
	PhaseQuit
)

var phaseNames = [...]string{"none", "connect", "banner", "ehlo", "tls", "xclient", "auth", "mail", "rcpt", "data", "dot", "quit"}

// String names the phase as --quit-after and --json spell it.
func (p Phase) String() string {
	if p < 0 || int(p) >= len(phaseNames) {
		return fmt.Sprintf("phase(%d)", int(p))
	}
	return phaseNames[p]
}

// QuitAfterPhases are the values --quit-after takes.
const QuitAfterPhases = "connect|banner|ehlo|tls|xclient|auth|mail|rcpt|data|dot"

// ParsePhase parses a --quit-after value, in any case ("RCPT" as swaks
// spells it too). swaks' "helo" and "first-helo" are taken as ehlo.
func ParsePhase(s string) (Phase, error) {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case "helo", "first-helo", "lhlo":
		return PhaseEHLO, nil
	default:
		for p := PhaseConnect; p <= PhaseDot; p++ {
			if l == phaseNames[p] {
				return p, nil
			}
		}
	}
	return PhaseNone, fmt.Errorf("%q: want one of %s", s, QuitAfterPhases)
}

// Exit statuses of `smtpsh send`. 0, 1, 3, 5 and 6 mean what they mean for
// the shell (shell.ExitConnect, …); the others name the phase at which the
// server said no, so that a script can tell a refused recipient from a
// refused message.
const (
	ExitOK       = 0
	ExitUsage    = 1 // bad flags
	ExitInput    = 2 // a file to send is missing or unreadable, or an address does not parse
	ExitConnect  = shell.ExitConnect
	ExitProtocol = shell.ExitProtocol // no reply in time, an unreadable reply, or the connection closed
	ExitTLS      = shell.ExitTLS      // STARTTLS refused or the handshake failed
	ExitGreeting = 7                  // the greeting or EHLO was not 2xx
	ExitAuth     = 8                  // AUTH refused
	ExitMail     = 9                  // MAIL FROM refused
	ExitRcpt     = 10                 // a RCPT TO refused
	ExitData     = 11                 // DATA refused (not 354)
	ExitMessage  = 12                 // the message refused after its end (".", BDAT); in LMTP, for every recipient
	ExitXCLIENT  = 13                 // XCLIENT refused (not 220)
	ExitPartial  = 14                 // LMTP: the message delivered to some recipients and refused for others
)

// ExitHelp documents the exit statuses, for --help and the README.
const ExitHelp = `Exit status:
  0   the message was accepted (with --lmtp, for every recipient), or the session
      reached --quit-after, and QUIT was answered
  1   bad usage: a flag is wrong or missing
  2   bad input: a body, attachment or --data file is missing or unreadable, or an address does not parse
  3   the connection could not be opened
  5   protocol error: no reply in time, an unreadable reply, or the server closed the connection
  6   TLS failure: STARTTLS refused, or the handshake or certificate check failed
  7   the greeting or EHLO was refused (not 2xx)
  8   AUTH was refused
  9   MAIL FROM was refused
  10  a RCPT TO was refused (the message is not sent to the others either)
  11  DATA was refused (no 354)
  12  the message was refused after its end (the "." line, or BDAT); with
      --lmtp, refused for every recipient
  13  XCLIENT was refused (no 220)
  14  with --lmtp, the message was delivered to some recipients and refused
      for others: the JSON summary's "recipients" say which (do not resend
      to the ones delivered)`

// exitFor is the exit status when the server refuses at phase p.
func exitFor(p Phase) int {
	switch p {
	case PhaseBanner, PhaseEHLO:
		return ExitGreeting
	case PhaseTLS:
		return ExitTLS
	case PhaseXCLIENT:
		return ExitXCLIENT
	case PhaseAuth:
		return ExitAuth
	case PhaseMail:
		return ExitMail
	case PhaseRcpt:
		return ExitRcpt
	case PhaseData:
		return ExitData
	case PhaseDot:
		return ExitMessage
	}
	return ExitProtocol
}

// phaseOf is the phase of a command: the greeting ("") is the banner, a
// SASL response is AUTH, the end of DATA and BDAT are the message.
func phaseOf(verb smtp.Verb) Phase {
	switch verb {
	case "":
		return PhaseBanner
	case smtp.EHLO, smtp.HELO, smtp.LHLO:
		return PhaseEHLO
	case smtp.STARTTLS:
		return PhaseTLS
	case smtp.XCLIENT:
		return PhaseXCLIENT
	case smtp.AUTH:
		return PhaseAuth
	case smtp.MAIL:
		return PhaseMail
	case smtp.RCPT:
		return PhaseRcpt
	case smtp.DATA:
		return PhaseData
	case smtp.BDAT, endOfData:
		return PhaseDot
	case smtp.QUIT:
		return PhaseQuit
	}
	return PhaseNone
}
