package shell

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
)

// MaxMessageFile bounds the message file :send reads, in bytes.
const MaxMessageFile = 50 << 20

// bdatChunk is the size of each BDAT chunk :send sends (RFC 3030 §2: the
// client chooses; a megabyte keeps every reply prompt).
const bdatChunk = 1 << 20

// shownMessageLines is how many lines of a message the shell prints as it
// sends it.
const shownMessageLines = 20

// step is a meta-command's next move, taken once every command sent has
// its reply; it returns the step after it, nil when the meta-command is
// done. The session keeps the pending step between replies.
type step func() step

// ReadMessageFile reads a message file for :send: at most max bytes, a
// regular file (not a device or a pipe that never ends).
func ReadMessageFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("message file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("message file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("message file %s: not a regular file", path)
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("message file %s: %d bytes, more than the %d bytes :send takes", path, fi.Size(), max)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("message file %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("message file %s: more than the %d bytes :send takes", path, max)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("message file %s: empty", path)
	}
	return b, nil
}

// CRLF returns msg with every line ending CRLF: a bare LF or a bare CR
// becomes CRLF (RFC 5322 §2.3: CR and LF appear only together), and a last
// line without one gets it. BDAT sends octets as they are (RFC 3030 §2),
// so the shell does here what DotWriter does for DATA: no bare line break
// reaches the server (the stuff of SMTP smuggling).
func CRLF(msg []byte) []byte {
	out := make([]byte, 0, len(msg)+len(msg)/32+2)
	for i := 0; i < len(msg); i++ {
		switch c := msg[i]; c {
		case '\r':
			out = append(out, '\r', '\n')
			if i+1 < len(msg) && msg[i+1] == '\n' {
				i++
			}
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

// DataText returns msg as the text of DATA on the wire, dot-stuffed and
// ended with ".\r\n" by internal/smtp's DotWriter (RFC 5321 §4.5.2), and
// how many lines were stuffed.
func DataText(msg []byte) ([]byte, int, error) {
	var b bytes.Buffer
	b.Grow(len(msg) + len(msg)/64 + 8)
	dw := smtp.NewDotWriter(&b)
	if _, err := dw.Write(msg); err != nil {
		return nil, 0, err
	}
	if err := dw.Close(); err != nil {
		return nil, 0, err
	}
	stuffed := bytes.Count(b.Bytes(), []byte("\r\n..")) // a stuffed line begins "..", after a line end
	if bytes.HasPrefix(b.Bytes(), []byte("..")) {
		stuffed++
	}
	return b.Bytes(), stuffed, nil
}

// send is ":send [--bdat] FILE".
func (s *Session) send(arg string) {
	bdat := false
	if rest, ok := strings.CutPrefix(arg, "--bdat"); ok && (rest == "" || rest[0] == ' ') {
		bdat, arg = true, strings.TrimSpace(rest)
	}
	if arg == "" {
		s.warn(":send [--bdat] FILE")
		return
	}
	if !s.readyToSend(":send") {
		return
	}
	if s.Phase() != PhaseRcptData {
		s.warn(":send sends in the current transaction: MAIL FROM and RCPT TO first (RFC 5321 §3.3); :compose opens one itself")
		return
	}
	msg, err := s.message(arg)
	if err != nil {
		s.warn("%s", render.Escape(err.Error()))
		if !s.in.Interactive() {
			s.fail(ExitProtocol, ":send: %w", err)
		}
		return
	}
	s.transmit(msg, "", nil, bdat)
}

// MessageSource is a LineReader that holds messages in memory: :send NAME
// takes the message named NAME from it before it looks for a file, so
// `smtpsh send` hands the shell the message it built without writing it to
// disk.
type MessageSource interface {
	// Message returns the message called name, and whether there is one.
	Message(name string) ([]byte, bool)
}

// message returns what :send sends for arg: the input's message of that
// name, or else the file.
func (s *Session) message(arg string) ([]byte, error) {
	if ms, ok := s.in.(MessageSource); ok {
		if msg, ok := ms.Message(arg); ok {
			if len(msg) == 0 {
				return nil, fmt.Errorf("message %s: empty", arg)
			}
			return msg, nil
		}
	}
	return ReadMessageFile(arg, MaxMessageFile)
}

// readyToSend says whether a message may be sent now.
func (s *Session) readyToSend(what string) bool {
	switch {
	case s.closed:
		s.warn("%s: the connection is closed", what)
	case s.quitSent:
		s.warn("%s: QUIT was sent: the session is ending", what)
	case len(s.pending) > 0:
		s.warn("%s: wait for the replies to the commands sent before", what)
	case s.saslPending():
		s.warn("%s: the server waits for a SASL response", what)
	default:
		switch s.Phase() {
		case PhaseMail, PhaseRcpt, PhaseRcptData:
			return true
		case PhaseConnect, PhaseHelo:
			s.warn("%s: say EHLO first (RFC 5321 §4.1.4)", what)
		default:
			s.warn("%s: not now (phase %s)", what, s.Phase())
		}
	}
	return false
}

// transmit sends msg: it opens the transaction (MAIL FROM:<from>, RCPT
// TO:<rcpts>) unless one is open, then the message with DATA, or with BDAT
// when bdat is set and the server advertised CHUNKING (RFC 3030 §2).
// Commands are pipelined only when the server advertised PIPELINING (RFC
// 2920 §3.1); otherwise each waits for its reply.
func (s *Session) transmit(msg []byte, from string, rcpts []string, bdat bool) {
	if first := s.transmitSteps(msg, from, rcpts, bdat); first != nil {
		s.run(first)
	}
}

// transmitSteps returns the steps transmit takes; nil when there is nothing
// to send.
func (s *Session) transmitSteps(msg []byte, from string, rcpts []string, bdat bool) step {
	s.mu.Lock()
	phase, caps, ehlo := s.st.phase, s.st.caps, s.st.ehlo
	s.mu.Unlock()
	if bdat && !(ehlo && caps.Has("CHUNKING")) {
		s.warn("--bdat: the server did not advertise CHUNKING (RFC 3030 §2): sending with DATA")
		bdat = false
	}
	msg = CRLF(msg)
	if limit, ok := caps.Size(); ok && limit > 0 && int64(len(msg)) > limit {
		s.warn("the message is %d bytes and the server's SIZE is %d (RFC 1870): expect 552", len(msg), limit)
	}
	var cmds []string
	envFrom := from
	switch phase {
	case PhaseMail:
		cmds = append(cmds, "MAIL FROM:<"+from+">")
		fallthrough
	case PhaseRcpt:
		if len(rcpts) == 0 {
			s.warn("no recipients: RCPT TO first")
			return nil
		}
		for _, r := range rcpts {
			cmds = append(cmds, "RCPT TO:<"+r+">")
		}
	}
	if phase != PhaseMail {
		envFrom, _ = envelopeFrom(s.tr)
	}
	if n := fromNote(msg, envFrom); n != "" {
		s.note("%s", render.Escape(n))
	}
	pipelining := ehlo && caps.Has("PIPELINING")
	var first step
	if pipelining {
		// RFC 2920 §3.1: MAIL, RCPT and DATA may go in one write; the
		// text waits for DATA's 354. BDAT may be pipelined too (RFC 3030
		// §4.2): a server reads a chunk's octets even when it refuses it.
		first = func() step {
			for _, c := range cmds {
				s.sendLine(c)
			}
			if bdat {
				return s.sendBody(msg, true)
			}
			s.sendLine("DATA")
			return s.sendDATA(msg)
		}
	} else {
		// One command at a time, each after its reply.
		var at func(i int) step
		at = func(i int) step {
			return func() step {
				if i > 0 && (s.last == nil || !s.last.Positive()) {
					s.warn("%s was refused: the message is not sent", render.Escape(cmds[i-1]))
					return nil
				}
				if i < len(cmds) {
					s.sendLine(cmds[i])
					return at(i + 1)
				}
				if bdat {
					return s.sendBody(msg, true)
				}
				s.sendLine("DATA")
				return s.sendDATA(msg)
			}
		}
		first = at(0)
	}
	return first
}

// run takes a meta-command's first step. The steps after it wait for the
// session to hand them the replies (see step).
func (s *Session) run(first step) {
	if next := first(); next != nil {
		s.continueLater(next)
	}
}

// sendLine sends a command the shell composed: shown, recorded and paired
// with its reply like a typed one, never saved in the history.
func (s *Session) sendLine(line string) bool {
	verb, _ := smtp.SplitVerb(line)
	return s.sendSecret(line, line, verb)
}

// sendDATA returns the step that sends the message after DATA's 354.
func (s *Session) sendDATA(msg []byte) step {
	return func() step {
		if s.last == nil || s.last.Code != 354 {
			// RFC 5321 §4.1.1.4: no 354, no data; RFC 2920 §3.1 says the
			// same for pipelined DATA.
			s.warn("DATA was not answered 354: the message is not sent")
			return nil
		}
		return s.sendBody(msg, false)
	}
}

// sendBody sends msg as DATA text (dot-stuffed, ended with ".") or as BDAT
// chunks, the last with LAST (RFC 3030 §2). BDAT chunks need no reply in
// between and are sent in one go (RFC 3030 §4.2).
func (s *Session) sendBody(msg []byte, bdat bool) step {
	at := s.now()
	if !bdat {
		s.showMessage(msg)
		wire, stuffed, err := DataText(msg)
		if err != nil {
			s.warn("cannot dot-stuff the message: %v", err)
			return nil
		}
		if !s.write(wire) {
			return nil
		}
		lines := strings.Split(strings.TrimSuffix(string(wire), "\r\n.\r\n"), "\r\n")
		for _, l := range lines {
			s.tr.AddData(at, l)
		}
		s.tr.AddClient(at, ".")
		s.print(render.ClientLine("C: ", "."))
		if stuffed > 0 {
			s.note("%d line(s) dot-stuffed: a line starting with \".\" got another (RFC 5321 §4.5.2)", stuffed)
		}
		s.expectEndOfData(smtp.DATA, ".", at)
		s.setPhase(PhaseMail) // the reply decides; until then, no more data
		return nil
	}
	for off := 0; off < len(msg); off += bdatChunk {
		end := min(off+bdatChunk, len(msg))
		cmd := fmt.Sprintf("BDAT %d", end-off)
		if end == len(msg) {
			cmd += " LAST"
		}
		s.print(render.ClientLine("C: ", cmd))
		if off == 0 {
			s.showMessage(msg) // the text follows the first BDAT (RFC 3030 §2)
		}
		if !s.write(append([]byte(cmd+"\r\n"), msg[off:end]...)) {
			return nil
		}
		s.tr.AddClient(at, cmd)
		chunk := string(msg[off:end])
		for _, l := range strings.SplitAfter(chunk, "\r\n") {
			if l != "" {
				s.tr.AddData(at, strings.TrimSuffix(l, "\r\n"))
			}
		}
		s.expectEndOfData(smtp.BDAT, cmd, at)
	}
	s.setPhase(PhaseMail) // RFC 3030 §2: BDAT LAST ends the transaction
	return nil
}

// showMessage prints the start of the message being sent.
func (s *Session) showMessage(msg []byte) {
	lines := strings.Split(strings.TrimSuffix(string(msg), "\r\n"), "\r\n")
	for i, l := range lines {
		if i == shownMessageLines {
			s.note("... %d more line(s), %d bytes in all", len(lines)-i, len(msg))
			break
		}
		s.print(render.ClientLine("C: ", l))
	}
}

// continueLater keeps next for when the replies to what was sent are in:
// the session loop runs it once no command is waiting for its reply.
func (s *Session) continueLater(next step) {
	s.next = next
}
