package shell

import (
	"strings"

	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
)

// A BDAT typed by hand (RFC 3030 §2): "BDAT n [LAST]" is followed by
// exactly n octets of message, with no dot-stuffing and no reply until all
// of them arrived. The shell counts them down as the user types lines (each
// with its CR LF) and shows the count in the prompt ("bdat 12> "), so the
// chunk is exactly what the server expects; the reply is awaited only once
// the chunk is complete.

// startChunk notes a BDAT line just sent. It reports whether octets are to
// follow, in which case the reply is awaited once they are sent.
func (s *Session) startChunk(line string) bool {
	cmd, err := smtp.ParseOptions{}.ParseCommand(line)
	if err != nil || cmd.Verb != smtp.BDAT {
		return false // the server will say what it thinks of it
	}
	s.mu.Lock()
	s.st.bdat = true
	s.mu.Unlock()
	if cmd.ChunkSize == 0 {
		return false
	}
	s.mu.Lock()
	s.st.chunkLeft, s.st.chunkCmd = cmd.ChunkSize, line
	s.mu.Unlock()
	s.note("BDAT: type the next %d octets; each line counts with its CR LF, nothing is dot-stuffed (RFC 3030 §2); the server answers when the chunk is complete", cmd.ChunkSize)
	return true
}

// chunkPending reports whether a typed BDAT is waiting for its octets.
func (s *Session) chunkPending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.chunkLeft > 0
}

// sendChunkLine sends one typed line of a BDAT chunk with its CR LF, or
// without it when the line alone fills the chunk exactly. A line longer
// than what is left is not sent: the octets after the chunk would be read
// as a command.
func (s *Session) sendChunkLine(line string) {
	s.mu.Lock()
	left, cmd := s.st.chunkLeft, s.st.chunkCmd
	s.mu.Unlock()
	if !s.in.Interactive() {
		s.print(render.ClientLine("C: ", line))
	}
	wire := line + "\r\n"
	switch {
	case uint64(len(wire)) <= left:
	case uint64(len(line)) == left:
		wire = line
		s.note("sent without CR LF: the line fills the chunk exactly")
	default:
		s.warn("not sent: this line is %d octets with its CR LF and the chunk has %d left; the rest would be read as a command", len(wire), left)
		if !s.in.Interactive() {
			s.fail(ExitProtocol, "a script line overruns the BDAT chunk")
		}
		return
	}
	at := s.now()
	if !s.write([]byte(wire)) {
		return
	}
	s.tr.AddData(at, strings.TrimSuffix(wire, "\r\n"))
	left -= uint64(len(wire))
	s.mu.Lock()
	s.st.chunkLeft = left
	s.mu.Unlock()
	if left == 0 {
		s.expectEndOfData(smtp.BDAT, cmd, at)
	}
}

// bdatLast reports whether a BDAT line carries LAST (RFC 3030 §2).
func bdatLast(line string) bool {
	cmd, err := smtp.ParseOptions{}.ParseCommand(line)
	return err == nil && cmd.Verb == smtp.BDAT && cmd.Last
}
