package shell

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/smtpsh/smtpsh/internal/explain"
	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// handleReply prints and records one reply (or what arrived of it), explains
// it in the context of the command it answers, and moves the phase on.
func (s *Session) handleReply(rr replyResult) {
	if len(s.pending) > 0 && s.pending[0].group > 0 {
		s.note("%s", groupHeader(s.pending[0]))
	}
	if len(s.pending) > 0 && s.pending[0].rcpt != "" {
		s.note("for <%s>:", render.Escape(s.pending[0].rcpt))
	}
	if rr.r != nil {
		for _, l := range rr.r.Raw() {
			s.tr.AddServer(rr.at, l)
			s.print(render.ServerLine(s.cfg.Terminal, rr.r.Code, "S: ", l))
		}
	}
	if rr.err != nil {
		s.replyError(rr)
		return
	}
	r := rr.r
	var p pending
	if len(s.pending) > 0 {
		p = s.pending[0]
		s.pending = s.pending[1:]
	} else {
		// Nothing was waiting: a 421 before closing (RFC 5321 §3.8), or a
		// server that answers one command twice.
		p = pending{verb: explain.Greeting}
		if r.Code != 421 {
			s.warn("a reply nobody asked for: the server and the shell are out of step")
		}
	}
	for _, w := range r.Warnings {
		s.warn("%s", render.Escape(w.String()))
	}
	s.last, s.lastVerb = r, p.verb
	codes := []string{fmt.Sprint(r.Code)}
	if r.Enhanced != (smtp.EnhancedCode{}) {
		codes = append(codes, r.Enhanced.String())
	}
	s.mu.Lock()
	s.st.lastCodes = codes
	s.mu.Unlock()
	if p.verb == smtp.QUIT {
		s.quitAnswered = rr.at
	}
	if r.Code == 334 {
		// RFC 4954 §4: the challenge is the text after "334 ", as sent.
		raw := r.Raw()[0]
		s.lastChallenge = ""
		if len(raw) > 4 {
			s.lastChallenge = raw[4:]
		}
	}
	s.explainReply(r, p.verb)
	s.advance(r, p)
}

// explainReply prints the one-line explanation of r after verb, and the
// meaning of each EHLO keyword.
func (s *Session) explainReply(r *smtp.Reply, verb smtp.Verb) {
	if s.cfg.NoExplain {
		return
	}
	raw := r.Raw()
	line, err := smtp.ParseReplyLine(raw[len(raw)-1])
	if err != nil {
		line = smtp.ReplyLine{Code: r.Code, Enhanced: r.Enhanced}
	}
	// The reply to "." is DATA's second reply (RFC 5321 §4.1.1.4): it
	// is explained after DATA too.
	e := s.kb.Reply(line, verb)
	s.noteWrapped("↳ ", "  ", render.ExplanationLine(e))
	if verb == smtp.EHLO && r.Code == 250 && len(r.Lines) > 1 {
		for _, l := range r.Lines[1:] {
			k := s.kb.Keyword(l)
			name := render.Escape(l)
			if len(name) > 28 {
				name = name[:25] + "..."
			}
			s.noteWrapped(fmt.Sprintf("  %-28s ", name), strings.Repeat(" ", 31), k.Meaning)
		}
	}
}

// advance moves the phase on after reply r to command p (RFC 5321 §4.1.4
// and §3.3: which commands start, continue and reset a transaction).
func (s *Session) advance(r *smtp.Reply, p pending) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.st
	if st.sasl {
		// Each 334 asks for one more response; anything else ends the
		// exchange (RFC 4954 §4).
		st.sasl = r.Code == 334
		if r.Code == 235 {
			st.authed = true
		}
		if !st.sasl {
			return
		}
	}
	switch p.verb {
	case explain.Greeting:
		if st.phase == PhaseConnect {
			st.phase = PhaseHelo
		}
	case smtp.EHLO, smtp.HELO, smtp.LHLO:
		if r.Positive() {
			st.phase = PhaseMail
			if p.verb != smtp.HELO {
				s.ehloLine = p.line
				if s.cfg.StartTLS && !s.autoTLSDone && !st.tls {
					// --starttls: upgrade now (afterReply sends it).
					s.autoTLSDone, s.autoTLSDue = true, true
				}
				caps, warns := smtp.ParseEHLO(r)
				s.mu.Unlock()
				for _, w := range warns {
					s.warn("%s", render.Escape(w.String()))
				}
				s.capabilityDiff(caps)
				s.mu.Lock()
				st.caps, st.ehlo = caps, true
			}
		}
	case smtp.MAIL:
		if r.Positive() {
			st.phase = PhaseRcpt
		}
	case smtp.RCPT:
		if r.Positive() && (st.phase == PhaseRcpt || st.phase == PhaseRcptData) {
			st.phase = PhaseRcptData
			if cmd, err := (smtp.ParseOptions{}).ParseCommand(p.line); err == nil && len(st.rcpts) < maxTrackedRcpts {
				st.rcpts = append(st.rcpts, cmd.Path.Mailbox.String())
			}
		}
	case smtp.DATA:
		switch {
		case p.line == ".":
			st.phase = PhaseMail // accepted or not, the transaction is over
		case r.Code == 354:
			st.phase = PhaseData
			s.inHeader = s.next == nil
			if s.next == nil {
				// Typed by hand; :compose and :send send the text themselves.
				s.mu.Unlock()
				s.note("type the message: headers, an empty line, the body; a line with only \".\" ends it")
				s.mu.Lock()
			}
		}
	case smtp.BDAT:
		switch {
		case bdatLast(p.line):
			// RFC 3030 §2: the reply to BDAT LAST ends the transaction,
			// accepted or not.
			st.phase = PhaseMail
		case !r.Positive() && st.phase >= PhaseRcpt && st.phase <= PhaseRcptData:
			// RFC 3030 §2: after a failed chunk the client must not send
			// more chunks; RSET ends the transaction.
			s.mu.Unlock()
			s.note("the chunk was refused: RFC 3030 §2 says send no more BDAT in this transaction (RSET starts over)")
			s.mu.Lock()
		}
	case smtp.RSET:
		if r.Positive() && st.phase > PhaseHelo && st.phase < PhaseData {
			st.phase = PhaseMail
		}
	case smtp.AUTH:
		switch r.Code {
		case 334:
			st.sasl = true
		case 235:
			st.authed = true
		}
	case smtp.STARTTLS:
		if r.Code == 220 {
			// RFC 3207 §4: the handshake starts now; Run does it while
			// the reply reader is parked (starttls.go).
			st.phase = PhaseTLSHandshake
			s.tlsDue = true
		} else if s.autoEHLO {
			// --starttls asked for TLS and the server said no.
			s.autoEHLO, s.autoTLSRefused = false, true
		}
	case smtp.XCLIENT:
		if r.Code == 220 {
			// Postfix XCLIENT_README: the server starts a new session as
			// the named client and greets again; what EHLO said is gone.
			st.phase, st.ehlo, st.caps, st.authed = PhaseHelo, false, smtp.Capabilities{}, false
			s.prevCaps = nil
			s.mu.Unlock()
			s.note("XCLIENT accepted: the server now treats this connection as the client you named, from its greeting on; send EHLO again")
			s.mu.Lock()
		}
	case smtp.QUIT:
	}
	if st.phase <= PhaseMail || st.phase == PhaseClosed {
		st.bdat, st.rcpts = false, nil // no transaction, or it is over
	}
	if r.Code == 421 {
		// RFC 5321 §3.8: the server is shutting the channel down.
		s.mu.Unlock()
		s.note("the server is closing the connection (421)")
		s.mu.Lock()
	}
}

// capabilityDiff shows what changed between two EHLO replies, as after
// STARTTLS or AUTH (RFC 3207 §4.2: the client must discard what it knew).
func (s *Session) capabilityDiff(caps smtp.Capabilities) {
	prev := s.prevCaps
	c := caps
	s.prevCaps = &c
	if prev == nil || s.cfg.NoExplain {
		return
	}
	var added, removed []string
	for _, c := range caps.List {
		if old, ok := prev.Get(c.Keyword); !ok || !sameCapability(old, c) {
			added = append(added, capString(c))
		}
	}
	for _, c := range prev.List {
		if now, ok := caps.Get(c.Keyword); !ok || !sameCapability(now, c) {
			removed = append(removed, capString(c))
		}
	}
	if len(added)+len(removed) == 0 {
		s.note("capabilities unchanged since the last EHLO")
		return
	}
	for _, a := range added {
		s.note("  + %s", render.Escape(a))
	}
	for _, r := range removed {
		s.note("  - %s", render.Escape(r))
	}
}

func capString(c smtp.Capability) string {
	return strings.TrimSpace(c.Keyword + " " + strings.Join(c.Params, " "))
}

func sameCapability(a, b smtp.Capability) bool {
	return strings.EqualFold(capString(a), capString(b))
}

// replyError reports a reply that could not be read, and ends the session
// when the stream is no longer in step.
func (s *Session) replyError(rr replyResult) {
	err := rr.err
	var waiting string
	if len(s.pending) > 0 {
		if p := s.pending[0]; p.verb == explain.Greeting {
			waiting = " while waiting for the greeting"
		} else {
			waiting = fmt.Sprintf(" while waiting for the reply to %q", render.Escape(p.line))
		}
	}
	switch {
	case errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
		if s.quitSent && (len(s.pending) == 0 || len(s.pending) == 1 && s.pending[0].verb == smtp.QUIT) {
			if len(s.pending) == 1 {
				s.warn("the server closed the connection without answering QUIT")
			}
			s.closeConn(transcripts.SideServer, "")
			return
		}
		s.warn("the server closed the connection%s", waiting)
		s.closeConn(transcripts.SideServer, "closed by server")
		s.fail(ExitProtocol, "the server closed the connection%s", waiting)
	case errors.Is(err, io.ErrUnexpectedEOF):
		s.warn("the server closed the connection in the middle of a reply%s", waiting)
		s.closeConn(transcripts.SideServer, "closed mid-reply")
		s.fail(ExitProtocol, "the server closed the connection in the middle of a reply%s", waiting)
	case inStep(err):
		s.warn("unreadable reply%s: %s", waiting, render.Escape(err.Error()))
		var p pending
		if len(s.pending) > 0 {
			p = s.pending[0]
			s.pending = s.pending[1:]
		}
		if rr.r != nil && rr.r.Code >= 200 && rr.r.Code <= 599 {
			// The code was readable: follow the phase as the server did.
			s.last, s.lastVerb = rr.r, p.verb
			s.advance(rr.r, p)
		}
		s.fail(ExitProtocol, "unreadable reply%s: %w", waiting, err)
	default:
		if s.closed {
			return // we closed it
		}
		s.warn("reading from the server failed%s: %s", waiting, render.Escape(err.Error()))
		s.closeConn(transcripts.SideUnknown, "read error")
		s.fail(ExitProtocol, "reading from %s%s: %w", s.cfg.Addr, waiting, err)
	}
}

// noteWrapped prints a note whose text is wrapped to the terminal's width
// with a hanging indent. Not on a terminal it stays one line, which is what
// scripts and grep want.
func (s *Session) noteWrapped(first, rest, text string) {
	if !s.cfg.Terminal.TTY {
		s.note("%s%s", first, text)
		return
	}
	for _, l := range render.Wrap(text, "   "+first, "   "+rest, s.cfg.Terminal.Width) {
		s.print(render.Note(s.cfg.Terminal, l))
	}
}

// maxTrackedRcpts bounds the recipients kept for LMTP's replies; RFC 5321
// §4.5.3.1.8 asks servers to take at least 100.
const maxTrackedRcpts = 10000
