package lab

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab/store"
	"github.com/smtpsh/smtpsh/internal/smtp"
)

// data answers DATA (RFC 5321 §4.1.1.4), reads the message text and
// delivers it.
func (s *session) data() {
	switch {
	case s.tx == nil:
		s.reply(503, ec(5, 5, 1), "Error: need MAIL command")
		return
	case s.tx.bdat:
		// RFC 3030 §3: DATA and BDAT do not mix in one transaction.
		s.reply(503, ec(5, 5, 1), "Error: DATA after BDAT")
		return
	case len(s.tx.rcpts) == 0:
		s.reply(503, ec(5, 5, 1), "Error: need RCPT command")
		return
	}
	s.reply(354, smtp.EnhancedCode{}, "End data with <CR><LF>.<CR><LF>")
	s.flush()

	s.timeout = s.p.Limits.DataTimeout
	defer func() { s.timeout = s.p.Limits.CommandTimeout }()
	dr := smtp.NewDotReader(s.br, &smtp.DotOptions{
		MaxLineLength:   s.p.Limits.TextLine,
		RejectLongLines: s.p.Limits.LongTextLines == "reject",
		EndOnAmbiguous:  s.p.SMTP.Smuggling,
	})
	body, oversize, err := s.readData(dr)
	for _, w := range dr.Warnings() {
		s.note("DATA: %s", w)
	}
	if n := dr.DroppedWarnings(); n > 0 {
		s.note("DATA: %d more warnings not recorded", n)
	}
	s.recordData(body)
	var long *smtp.LineTooLongError
	switch {
	case errors.As(err, &long):
		s.tx = nil
		if derr := dr.Discard(); derr != nil {
			s.readError(derr)
			return
		}
		s.addClient(".")
		// RFC 5321 §4.5.3.1.10: 500 "Line too long".
		s.reply(500, ec(5, 5, 2), "Error: message text line "+strconv.Itoa(long.Line)+" is longer than "+strconv.Itoa(long.Limit)+" octets")
		return
	case err != nil:
		s.tx = nil
		s.readError(err)
		return
	}
	s.addClient(".")
	if oversize {
		// RFC 1870 §6.2: the rest was read and dropped; the session
		// goes on.
		s.tx = nil
		s.reply(552, ec(5, 3, 4), "Message size exceeds fixed limit")
		return
	}
	s.deliver(body, "")
}

// unlimitedSize bounds a message when limits.message_size is 0, so that
// memory stays bounded whatever the profile says.
const unlimitedSize = 256 << 20

// sizeLimit is the most octets of message text the session keeps.
func (s *session) sizeLimit() int64 {
	if n := s.p.Limits.MessageSize; n > 0 {
		return n
	}
	return unlimitedSize
}

// readData reads the message text. Past limits.message_size it reads on and
// drops the rest. For the smuggling profile, the first ambiguous
// end-of-data form ends the text, as on the vulnerable servers.
func (s *session) readData(dr *smtp.DotReader) ([]byte, bool, error) {
	limit := s.sizeLimit()
	var body bytes.Buffer
	var buf [32 << 10]byte
	for {
		n, err := dr.Read(buf[:])
		if n > 0 {
			if int64(body.Len()+n) > limit {
				s.note("DATA: the message exceeds %d octets; reading on to the end and dropping it", limit)
				if derr := dr.Discard(); derr != nil {
					return nil, true, derr
				}
				return nil, true, nil
			}
			body.Write(buf[:n])
		}
		if err == io.EOF {
			if s.p.SMTP.Smuggling {
				for _, w := range dr.Warnings() {
					if w.Kind == smtp.AmbiguousEnd {
						s.note("smuggling profile: %q taken as the end of DATA, as a vulnerable server would; a strict one reads on to \"\\r\\n.\\r\\n\"", w.Form)
						break
					}
				}
			}
			return body.Bytes(), false, nil
		}
		if err != nil {
			return body.Bytes(), false, err
		}
	}
}

// recordData adds the message to the transcript as Data lines, dot-stuffed
// as they were on the wire (RFC 5321 §4.5.2), bounded.
func (s *session) recordData(body []byte) {
	if s.tr == nil || len(body) == 0 {
		return
	}
	var stuffed bytes.Buffer
	w := smtp.NewDotWriter(&stuffed)
	w.Write(body)
	w.Close()
	b := stuffed.Bytes()
	b = b[:len(b)-len(".\r\n")]
	now := s.srv.now()
	for n := 0; len(b) > 0; n++ {
		if n == maxTranscriptDataLines {
			s.note("%d more bytes of message text not recorded", len(b))
			return
		}
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			i = len(b)
		}
		s.tr.AddData(now, string(b[:i]))
		b = b[min(i+2, len(b)):]
	}
}

// bdat answers BDAT (RFC 3030 §2): the chunk is read whatever the answer,
// since the client sends it without waiting.
func (s *session) bdat(cmd *smtp.Command) {
	if !s.p.hasExtension("CHUNKING") {
		// A server without CHUNKING does not know the chunk follows;
		// its bytes are read as commands, as such a server would.
		s.reply(502, ec(5, 5, 1), "Error: command not implemented")
		return
	}
	s.timeout = s.p.Limits.DataTimeout
	defer func() { s.timeout = s.p.Limits.CommandTimeout }()
	refuse := func(code int, enh smtp.EnhancedCode, text string) {
		if err := s.discardChunk(cmd.ChunkSize); err != nil {
			s.readError(err)
			return
		}
		s.reply(code, enh, text)
	}
	switch {
	case s.tx == nil:
		refuse(503, ec(5, 5, 1), "Error: need MAIL command")
		return
	case len(s.tx.rcpts) == 0:
		refuse(503, ec(5, 5, 1), "Error: need RCPT command")
		return
	}
	tx := s.tx
	tx.bdat = true
	limit := s.sizeLimit()
	if cmd.ChunkSize > uint64(limit) || int64(len(tx.body))+int64(cmd.ChunkSize) > limit {
		tx.oversize = true
	}
	if tx.oversize {
		if err := s.discardChunk(cmd.ChunkSize); err != nil {
			s.readError(err)
			return
		}
		// RFC 3030 §2 and RFC 1870 §6.2; the transaction is over.
		s.tx = nil
		s.reply(552, ec(5, 3, 4), "Message size exceeds fixed limit")
		return
	}
	// Grow as the octets arrive: a client that announces a big chunk
	// and sends little costs little.
	w := bytes.NewBuffer(tx.body)
	_, err := io.CopyN(w, s.br, int64(cmd.ChunkSize))
	tx.body = w.Bytes()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		s.tx = nil
		s.readError(err)
		return
	}
	s.note("BDAT: read a chunk of %d octets", cmd.ChunkSize)
	if !cmd.Last {
		s.reply(250, ec(2, 0, 0), "Ok: "+strconv.FormatUint(cmd.ChunkSize, 10)+" bytes")
		return
	}
	s.deliver(tx.body, strconv.Itoa(len(tx.body))+" bytes ")
}

// discardChunk reads and drops n octets of a refused BDAT chunk.
func (s *session) discardChunk(n uint64) error {
	for n > 0 {
		k := min(n, 1<<20)
		d, err := s.br.Discard(int(k))
		n -= uint64(d)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// deliver stores the message and answers 250 only once the store has it
// (RFC 5321 §4.1.1.4: the 250 takes responsibility for the message).
func (s *session) deliver(body []byte, what string) {
	tx := s.tx
	s.tx = nil
	now := s.srv.now()
	id := s.srv.nextID()
	msg := &store.Message{
		ID:        id,
		From:      tx.from,
		To:        tx.rcpts,
		Mailboxes: tx.mailboxes,
		Relayed:   tx.relayed,
		Params:    tx.params,
		Received:  now,
		Remote:    s.remote,
	}
	hdr := s.receivedHeader(id, tx, now)
	msg.Data = make([]byte, 0, len(hdr)+len(body))
	msg.Data = append(append(msg.Data, hdr...), body...)
	if err := s.srv.cfg.Store.Deliver(msg); err != nil {
		s.note("the store refused the message: %v", err)
		s.reply(451, ec(4, 3, 0), "Error: queue file write error")
		return
	}
	// limits.max_errors counts errors made without delivering mail, as
	// Postfix's smtpd_hard_error_limit does: a delivery starts it afresh.
	s.errors = 0
	s.reply(250, ec(2, 0, 0), "Ok: "+what+"queued as "+msg.ID)
}

// receivedHeader is the trace field RFC 5321 §4.4 requires, with the
// protocol names of RFC 3848.
func (s *session) receivedHeader(id string, tx *transaction, now time.Time) string {
	proto := "SMTP"
	if s.esmtp {
		proto = "ESMTP"
		if s.tls {
			proto += "S"
		}
		if s.authUser != "" {
			proto += "A"
		}
	}
	if tx.smtputf8 {
		proto = "UTF8" + proto // RFC 6531 §3.7.3
	}
	helo := s.helo
	if helo == "" {
		helo = "unknown"
	}
	ip := s.remoteIP
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
		ip = "IPv6:" + ip
	}
	var b strings.Builder
	b.WriteString("Received: from ")
	b.WriteString(sanitizeHeader(helo))
	b.WriteString(" ([")
	b.WriteString(ip)
	b.WriteString("])\r\n\tby ")
	b.WriteString(s.p.Hostname)
	b.WriteString(" (smtpsh-lab ")
	b.WriteString(s.p.Name)
	b.WriteString(") with ")
	b.WriteString(proto)
	b.WriteString(" id ")
	b.WriteString(id)
	if len(tx.rcpts) == 1 {
		b.WriteString("\r\n\tfor <")
		b.WriteString(sanitizeHeader(tx.rcpts[0]))
		b.WriteString(">")
	}
	b.WriteString("; ")
	b.WriteString(now.Format(time.RFC1123Z))
	b.WriteString("\r\n")
	return b.String()
}

// sanitizeHeader keeps client-supplied text from breaking the header.
func sanitizeHeader(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
