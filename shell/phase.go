package shell

import "github.com/smtpsh/smtpsh/internal/smtp"

// Phase is where an SMTP conversation is, as the client sees it from the
// replies it got (RFC 5321 §3.3, §4.1.4: the order of commands).
type Phase int

// The phases, in the order a mail transaction goes through them.
const (
	// PhaseConnect: connected, waiting for the greeting.
	PhaseConnect Phase = iota
	// PhaseHelo: greeted; EHLO or HELO comes next (RFC 5321 §4.1.4).
	PhaseHelo
	// PhaseMail: the client introduced itself; MAIL starts a transaction.
	PhaseMail
	// PhaseRcpt: MAIL was accepted; RCPT comes next.
	PhaseRcpt
	// PhaseRcptData: at least one RCPT was accepted; more RCPT, or DATA.
	PhaseRcptData
	// PhaseData: DATA got 354; lines are message text until ".".
	PhaseData
	// PhaseTLSHandshake: STARTTLS got 220; the server waits for a TLS
	// handshake (RFC 3207 §4). The shell runs it at once on an
	// internal/dial connection; on any other the phase stays until :quit.
	PhaseTLSHandshake
	// PhaseClosed: the connection is closed.
	PhaseClosed
)

// String names the phase as the prompt shows it.
func (p Phase) String() string {
	switch p {
	case PhaseConnect:
		return "connect"
	case PhaseHelo:
		return "helo"
	case PhaseMail:
		return "mail"
	case PhaseRcpt, PhaseRcptData:
		return "rcpt"
	case PhaseData:
		return "data"
	case PhaseTLSHandshake:
		return "tls-handshake"
	case PhaseClosed:
		return "closed"
	}
	return "unknown"
}

// legalVerbs lists the verbs that make sense in phase p, most likely first,
// given the extensions the server advertised (caps) and the session state.
// An extension's verb appears only when advertised: STARTTLS (RFC 3207 §4),
// AUTH (RFC 4954 §3), BDAT with CHUNKING (RFC 3030 §2), ETRN (RFC 1985).
func legalVerbs(p Phase, st *state) []smtp.Verb {
	ext := func(vs []smtp.Verb, v smtp.Verb, kw string, ok bool) []smtp.Verb {
		if ok && st.ehlo && st.caps.Has(kw) {
			return append(vs, v)
		}
		return vs
	}
	var vs []smtp.Verb
	switch p {
	case PhaseConnect, PhaseHelo:
		vs = []smtp.Verb{smtp.EHLO, smtp.HELO}
		if st.lmtp {
			vs = []smtp.Verb{smtp.LHLO} // RFC 2033 §4.1: LMTP has no HELO or EHLO
		}
	case PhaseMail:
		vs = []smtp.Verb{smtp.MAIL}
		vs = ext(vs, smtp.STARTTLS, "STARTTLS", !st.tls)
		vs = ext(vs, smtp.AUTH, "AUTH", !st.authed)
		vs = append(vs, smtp.VRFY, smtp.EXPN)
		vs = ext(vs, smtp.ETRN, "ETRN", true)
		// Postfix XCLIENT_README, XFORWARD_README: outside a transaction.
		vs = ext(vs, smtp.XCLIENT, "XCLIENT", true)
		vs = ext(vs, smtp.XFORWARD, "XFORWARD", true)
		vs = append(vs, smtp.EHLO, smtp.HELO)
	case PhaseRcpt:
		vs = []smtp.Verb{smtp.RCPT}
	case PhaseRcptData:
		if st.bdat {
			// RFC 3030 §3: once BDAT was used, the message goes on
			// with BDAT only; DATA may not be mixed in.
			vs = []smtp.Verb{smtp.BDAT}
			break
		}
		vs = []smtp.Verb{smtp.RCPT, smtp.DATA}
		vs = ext(vs, smtp.BDAT, "CHUNKING", true)
	default:
		return nil
	}
	return append(vs, smtp.RSET, smtp.NOOP, smtp.HELP, smtp.QUIT)
}

// verbLegal reports whether v is among legalVerbs(p, st).
func verbLegal(v smtp.Verb, p Phase, st *state) bool {
	for _, l := range legalVerbs(p, st) {
		if l == v {
			return true
		}
	}
	return false
}
