package shell

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
)

// :pipeline (RFC 2920): the user types a group of commands, an empty line
// sends them in one write, and each reply is shown with the command it
// answers. The shell warns, before sending, about what RFC 2920 §3.1 and
// the extensions forbid in a group; it still sends the group as typed.

// maxPipeline bounds the commands of one group.
const maxPipeline = 100

// startPipeline begins collecting a group.
func (s *Session) startPipeline(arg string) {
	if arg != "" {
		s.warn(":pipeline takes no argument: type the commands one per line, then an empty line")
		return
	}
	s.mu.Lock()
	ehlo, piped := s.st.ehlo, s.st.caps.Has("PIPELINING")
	s.mu.Unlock()
	switch {
	case !ehlo:
		s.warn("PIPELINING is an extension, offered only in a reply to EHLO: RFC 2920 §3.1 says a client must not pipeline without it (the group is sent anyway)")
	case !piped:
		s.warn("the server did not advertise PIPELINING: RFC 2920 §3.1 says a client must not pipeline then (the group is sent anyway)")
	}
	s.piping, s.pipe = true, nil
	s.note("type the commands of the group, one per line; an empty line sends them in one write, :cancel drops them")
}

// pipeInput takes one line while a group is being collected.
func (s *Session) pipeInput(line string) {
	// Not echoed in a script: flushPipeline prints the group as sent.
	t := strings.TrimSpace(line)
	switch {
	case t == "":
		s.flushPipeline()
	case strings.EqualFold(t, ":cancel"):
		s.piping, s.pipe = false, nil
		s.note("group dropped: nothing was sent")
	case strings.HasPrefix(t, ":"):
		s.warn("meta-commands cannot be part of a group: an empty line sends it, :cancel drops it")
	case len(s.pipe) == maxPipeline:
		s.warn("a group holds at most %d commands: send this one first (an empty line)", maxPipeline)
	default:
		if v, _ := smtp.SplitVerb(line); v == smtp.BDAT {
			s.warn("BDAT is not taken in a group here: its chunk must follow it, which :send --bdat does (RFC 3030 §4)")
			return
		}
		s.pipe = append(s.pipe, line)
	}
}

// pipelineLast says why verb may only end a group, or "" when it may
// appear anywhere (RFC 2920 §3.1: RSET, MAIL and RCPT).
func pipelineLast(v smtp.Verb) string {
	switch v {
	case smtp.EHLO, smtp.HELO, smtp.LHLO, smtp.DATA, smtp.VRFY, smtp.EXPN, smtp.TURN, smtp.QUIT, smtp.NOOP:
		return "RFC 2920 §3.1: its result changes the state the next commands depend on"
	case smtp.STARTTLS:
		return "RFC 3207 §4: after it the stream becomes TLS, so what follows in plaintext is discarded or injected"
	case smtp.AUTH:
		return "RFC 4954 §4: its exchange needs the server's challenges"
	}
	return ""
}

// assumeSuccess is the phase after v if it succeeds: the phase the next
// command of a group is checked against.
func assumeSuccess(p Phase, v smtp.Verb) Phase {
	switch v {
	case smtp.EHLO, smtp.HELO, smtp.LHLO, smtp.RSET:
		if p != PhaseConnect {
			return PhaseMail
		}
	case smtp.MAIL:
		if p == PhaseMail {
			return PhaseRcpt
		}
	case smtp.RCPT:
		if p == PhaseRcpt || p == PhaseRcptData {
			return PhaseRcptData
		}
	}
	return p
}

// flushPipeline sends the collected group in one write.
func (s *Session) flushPipeline() {
	lines := s.pipe
	s.piping, s.pipe = false, nil
	if len(lines) == 0 {
		s.note("empty group: nothing sent")
		return
	}
	if s.closed {
		s.warn("not sent, the connection is closed")
		return
	}
	phase := s.Phase()
	var wire bytes.Buffer
	for i, l := range lines {
		verb, _ := smtp.SplitVerb(l)
		if verb == smtp.AUTH {
			s.print(render.ClientLine("C: ", redactInitialResponse(l)))
		} else {
			s.print(render.ClientLine("C: ", l))
			_ = s.in.SaveHistory(l)
		}
		s.checkCommand(l, verb, phase)
		if why := pipelineLast(verb); why != "" && i < len(lines)-1 {
			s.warn("%s should be the last command of a group (%s)", verb, why)
		}
		phase = assumeSuccess(phase, verb)
		wire.WriteString(l)
		wire.WriteString("\r\n")
	}
	at := s.now()
	if !s.write(wire.Bytes()) {
		return
	}
	for i, l := range lines {
		s.tr.AddClient(at, l)
		verb, _ := smtp.SplitVerb(l)
		if verb == smtp.QUIT {
			s.quitSent = true
		}
		s.pending = append(s.pending, pending{verb: verb, line: l, sent: at, group: i + 1, groupLen: len(lines)})
	}
	s.note("%d commands sent in one write (%d bytes); the replies come in the same order (RFC 2920 §3.1)", len(lines), wire.Len())
}

// groupHeader is the line printed before a reply to a command of a group:
// which command it answers.
func groupHeader(p pending) string {
	return fmt.Sprintf("[%d/%d] %s", p.group, p.groupLen, render.Escape(redactInitialResponse(p.line)))
}
