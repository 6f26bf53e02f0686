package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Reply is one complete server reply: one or more lines sharing a code
// (RFC 5321 §4.2).
//
// Enhanced status codes (RFC 2034 §4, RFC 3463) are decided by the first
// line: when it carries one, Enhanced holds it and the same code is removed
// from the front of every line that repeats it, as RFC 2034 §4 says each line
// should. A line that omits the code, or carries a different one, is reported
// in Warnings; a different code is left in that line's text so nothing is
// lost. When the first line has no enhanced code, Enhanced is zero and no
// line is stripped.
type Reply struct {
	// Code is the three-digit reply code of the first line.
	Code int
	// Enhanced is the first line's RFC 3463 code; zero when absent.
	Enhanced EnhancedCode
	// Lines holds the text of each line after the code, the separator and
	// (see above) the enhanced code.
	Lines []string
	// Warnings lists tolerated deviations from RFC 5321 found while
	// reading; nil for a clean reply.
	Warnings []Warning

	// wire holds the lines as received; line i is
	// wire[starts[i]:ends[i]], without its line ending. Offsets rather
	// than strings keep reading free of per-line pointer writes.
	wire         string
	starts, ends []int
	fromWire     bool
}

// Warning describes a tolerated deviation from the protocol: the input was
// understood, but a strict peer would have sent it differently.
type Warning struct {
	// Line is the 1-based line number within the reply (or other unit
	// being parsed); 0 when no single line applies.
	Line int
	// Column is the 1-based byte column within that line as received
	// (code included); 0 when no single position applies.
	Column int
	// Msg says what deviates and, where one decides, which RFC section.
	Msg string
}

// String formats the warning as "line 2, column 4: …".
func (w Warning) String() string {
	switch {
	case w.Line > 0 && w.Column > 0:
		return fmt.Sprintf("line %d, column %d: %s", w.Line, w.Column, w.Msg)
	case w.Line > 0:
		return fmt.Sprintf("line %d: %s", w.Line, w.Msg)
	}
	return w.Msg
}

// Class returns the first digit of the code: 2 positive completion,
// 3 positive intermediate, 4 transient negative, 5 permanent negative
// (RFC 5321 §4.2.1).
func (r *Reply) Class() int { return r.Code / 100 }

// Positive reports a 2yz reply: the command succeeded.
func (r *Reply) Positive() bool { return r.Class() == 2 }

// Intermediate reports a 3yz reply: the server waits for more (DATA's 354,
// AUTH's 334).
func (r *Reply) Intermediate() bool { return r.Class() == 3 }

// TransientNegative reports a 4yz reply: the same command may succeed later.
func (r *Reply) TransientNegative() bool { return r.Class() == 4 }

// PermanentNegative reports a 5yz reply: repeating the command as it is will
// fail again.
func (r *Reply) PermanentNegative() bool { return r.Class() == 5 }

// Text returns the lines' text joined by "\n".
func (r *Reply) Text() string { return strings.Join(r.Lines, "\n") }

// String formats the reply in wire form, with "-" on every line but the last
// and the enhanced code repeated on each line, joined by "\n" and without
// CRLF. Reading it back gives the same Code, Enhanced and Lines.
func (r *Reply) String() string {
	return string(appendReply(nil, r.Code, r.Enhanced, r.Lines, "\n", false))
}

// Raw returns the lines as they were received, without line endings. For a
// reply that was not read from the wire it returns the lines String would
// write.
func (r *Reply) Raw() []string {
	if r.fromWire {
		raw := make([]string, len(r.ends))
		for i := range r.ends {
			raw[i] = r.rawLine(i)
		}
		return raw
	}
	s := r.String()
	return strings.Split(s, "\n")
}

// rawLine returns line i as received.
func (r *Reply) rawLine(i int) string { return r.wire[r.starts[i]:r.ends[i]] }

// WriteTo writes the reply in wire form with CRLF line endings. It refuses
// a reply that WriteReply would refuse.
func (r *Reply) WriteTo(w io.Writer) (int64, error) {
	b, err := formatReply(r.Code, r.Enhanced, r.Lines)
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

// WriteReply writes a reply with CRLF line endings and the enhanced code, if
// not zero, on every line (RFC 2034 §4). No lines means one line with no
// text. It refuses, before writing anything, a code outside RFC 5321 §4.2's
// Reply-code grammar, an enhanced code whose class differs from the code's,
// and text containing CR, LF or other control characters (RFC 5321 §4.2
// textstring allows only HT and printable characters), so a lab profile
// cannot forge extra reply lines by accident.
func WriteReply(w io.Writer, code int, enhanced EnhancedCode, lines ...string) error {
	b, err := formatReply(code, enhanced, lines)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func formatReply(code int, enhanced EnhancedCode, lines []string) ([]byte, error) {
	const what = "reply"
	if code < 200 || code > 559 || code/10%10 > 5 {
		return nil, &SyntaxError{What: what, Msg: fmt.Sprintf("reply code %d is outside RFC 5321 §4.2's 2xx-5xx with second digit 0-5", code)}
	}
	if !enhanced.IsZero() && enhanced.Class != code/100 {
		return nil, &SyntaxError{What: what, Msg: fmt.Sprintf("enhanced code %s has a different class from reply code %d (RFC 3463 §2)", enhanced, code)}
	}
	if !enhanced.IsZero() && !validEnhanced(enhanced) {
		return nil, &SyntaxError{What: what, Msg: fmt.Sprintf("enhanced code %d.%d.%d is outside RFC 3463 §2's 1-3 digit fields", enhanced.Class, enhanced.Subject, enhanced.Detail)}
	}
	for i, l := range lines {
		for j := 0; j < len(l); j++ {
			if c := l[j]; c < ' ' && c != '\t' || c == 0x7f {
				return nil, &ReplyError{Line: i + 1, Err: syntaxErr(what, j+1, "control character %q in reply text", c)}
			}
		}
	}
	return appendReply(nil, code, enhanced, lines, "\r\n", true), nil
}

func validEnhanced(c EnhancedCode) bool {
	return c.Subject >= 0 && c.Subject <= 999 && c.Detail >= 0 && c.Detail <= 999
}

// appendReply formats lines in wire form, separated by eol and, when
// trailing is set, ended by it too. The last line always gets the SP after
// its code, even with no text: RFC 5321 §4.2 says servers SHOULD send it.
func appendReply(b []byte, code int, enhanced EnhancedCode, lines []string, eol string, trailing bool) []byte {
	if len(lines) == 0 {
		lines = []string{""}
	}
	enh := enhanced.String()
	for i, l := range lines {
		b = append(b, byte('0'+code/100%10), byte('0'+code/10%10), byte('0'+code%10))
		if i < len(lines)-1 {
			b = append(b, '-')
		} else {
			b = append(b, ' ')
		}
		if enh != "" {
			b = append(b, enh...)
			if l != "" {
				b = append(b, ' ')
			}
		}
		b = append(b, l...)
		if i < len(lines)-1 {
			b = append(b, eol...)
		}
	}
	if trailing {
		b = append(b, eol...)
	}
	return b
}

// ReplyLimits bounds what a ReplyReader accepts. Zero fields take the
// defaults.
type ReplyLimits struct {
	// MaxLineLength is the longest line accepted, in octets including the
	// line ending. RFC 5321 §4.5.3.1.5 allows 512, but real servers send
	// longer lines, so the default is 2048 and lines over 512 only warn.
	MaxLineLength int
	// MaxLines is the most lines one reply may have; default 128.
	MaxLines int
}

// Default reply limits; see ReplyLimits.
const (
	DefaultMaxReplyLineLength = 2048
	DefaultMaxReplyLines      = 128
	// rfcReplyLineLength is RFC 5321 §4.5.3.1.5's limit, CRLF included.
	rfcReplyLineLength = 512
	// maxResync bounds how many bytes are skipped to get back in step
	// after an over-long line or reply.
	maxResync = 1 << 20
	// maxReplyText bounds the bytes beyond the current reply copied for
	// the replies that follow it.
	maxReplyText = 8192
)

// ReplyReader reads server replies from a byte stream.
//
// Grammar accepted (RFC 5321 §4.2), one line at a time as ParseReplyLine
// documents, with these rules for a whole reply:
//   - lines end in CRLF; a bare LF is accepted and reported as a Warning;
//   - a line with "-" after its code is followed by more lines of the same
//     reply; a line with SP after its code, or just a code, ends it;
//   - every line must have the first line's code (RFC 5321 §4.2.1); a
//     different code is a *CodeMismatchError, reported after the rest of
//     the reply has been read so the stream stays in step.
//
// Errors about a particular line are a *ReplyError carrying the 1-based line
// number and wrapping a *SyntaxError, *LineTooLongError, *TooManyLinesError,
// *CodeMismatchError, io.ErrUnexpectedEOF or the underlying read error. End of
// input before the first byte of a reply is io.EOF itself.
type ReplyReader struct {
	br  *bufio.Reader
	lim ReplyLimits

	// buf holds the current reply's lines as received; reused.
	buf []byte
	lfs []bool // whether line i ended in a bare LF

	// text is a string copy of bytes that were buffered when a reply was
	// last read whole from the buffer; text[textOff:] is what followed it.
	// Replies that arrive together share it: one allocation per buffer
	// fill rather than per reply.
	text    string
	textOff int
}

// NewReplyReader returns a reader of replies from r, bounded by lim (nil for
// the defaults). If r is a *bufio.Reader at least MaxLineLength big it is
// used directly, so the caller can share it (e.g. to check Buffered before
// STARTTLS); otherwise r is wrapped in one.
func NewReplyReader(r io.Reader, lim *ReplyLimits) *ReplyReader {
	var l ReplyLimits
	if lim != nil {
		l = *lim
	}
	if l.MaxLineLength <= 0 {
		l.MaxLineLength = DefaultMaxReplyLineLength
	}
	if l.MaxLines <= 0 {
		l.MaxLines = DefaultMaxReplyLines
	}
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < l.MaxLineLength {
		br = bufio.NewReaderSize(r, l.MaxLineLength)
	}
	return &ReplyReader{br: br, lim: l}
}

// Reset makes rr read from r, discarding anything buffered, so one reader
// (and its buffers) can serve connection after connection. A *bufio.Reader
// shared with the caller (see NewReplyReader) is reset too.
func (rr *ReplyReader) Reset(r io.Reader) {
	rr.br.Reset(r)
	rr.text, rr.textOff = "", 0
}

// Buffered returns the number of bytes read from the connection but not yet
// consumed as replies. It must be 0 before a STARTTLS handshake: anything
// buffered came before TLS and would be an injection (CVE-2011-0411).
func (rr *ReplyReader) Buffered() int { return rr.br.Buffered() }

// ReadReply reads one reply. On error the returned reply, when not nil,
// holds what could be decoded (Raw lines and the lines parsed so far).
func (rr *ReplyReader) ReadReply() (*Reply, error) {
	r := new(Reply)
	if err := rr.ReadReplyInto(r); err != nil {
		if err == io.EOF {
			return nil, err
		}
		return r, err
	}
	return r, nil
}

// ReadReplyInto reads one reply into r, reusing r's slices, so that a
// steady stream of replies read into one Reply costs no allocation per line
// and, when replies arrive together, less than one per reply: the strings
// of replies read from one buffer fill share one copy of it. Strings from
// earlier replies stay valid. Errors are as for ReadReply.
func (rr *ReplyReader) ReadReplyInto(r *Reply) error {
	r.Code, r.Enhanced = 0, EnhancedCode{}
	r.Lines, r.Warnings = r.Lines[:0], r.Warnings[:0]
	r.wire, r.fromWire = "", true
	if rr.readBuffered(r) {
		return rr.finish(r)
	}
	r.starts, r.ends = r.starts[:0], r.ends[:0]
	rr.buf, rr.lfs = rr.buf[:0], rr.lfs[:0]

	for n := 1; ; n++ {
		line, err := rr.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull || err == nil && len(line) > rr.lim.MaxLineLength {
			more := len(line) >= 4 && line[3] == '-'
			e := &LineTooLongError{Limit: rr.lim.MaxLineLength, Line: n, Length: int64(len(line))}
			if err != nil {
				e.Resynced, e.Length, err = rr.skipLine(e.Length)
			} else {
				e.Resynced = true
			}
			if err == nil && e.Resynced && more {
				e.Resynced, err = rr.skipReply()
			}
			rr.finishBuf(r)
			if err != nil && err != io.EOF {
				return &ReplyError{Line: n, Err: errors.Join(e, err)}
			}
			return &ReplyError{Line: n, Err: e}
		}
		if err != nil {
			if err == io.EOF && n == 1 && len(line) == 0 {
				return io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			rr.finishBuf(r)
			return &ReplyError{Line: n, Err: err}
		}
		if n > rr.lim.MaxLines {
			e := &TooManyLinesError{Limit: rr.lim.MaxLines}
			e.Resynced = true
			if len(line) >= 4 && line[3] == '-' {
				e.Resynced, err = rr.skipReply()
			}
			rr.finishBuf(r)
			if err != nil && err != io.EOF {
				return &ReplyError{Line: n, Err: errors.Join(e, err)}
			}
			return &ReplyError{Line: n, Err: e}
		}
		line = line[:len(line)-1]
		bareLF := true
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
			bareLF = false
		}
		r.starts = append(r.starts, len(rr.buf))
		rr.buf = append(rr.buf, line...)
		r.ends = append(r.ends, len(rr.buf))
		rr.lfs = append(rr.lfs, bareLF)
		// A line continues the reply only with "-" after its code; any
		// other shape, malformed ones included, ends it (RFC 5321 §4.2.1).
		if len(line) < 4 || line[3] != '-' {
			break
		}
	}
	return rr.finishBuf(r)
}

// finishBuf is finish for lines gathered in rr.buf.
func (rr *ReplyReader) finishBuf(r *Reply) error {
	r.wire = string(rr.buf)
	return rr.finish(r)
}

// readBuffered reads a reply that is already whole in the bufio.Reader's
// buffer, the usual case, with a single copy; it leaves everything to the
// line-by-line path (and returns false) when the reply is not all there or
// any line needs a limit checked.
func (rr *ReplyReader) readBuffered(r *Reply) bool {
	buf, _ := rr.br.Peek(rr.br.Buffered())
	r.starts, r.ends, rr.lfs = r.starts[:0], r.ends[:0], rr.lfs[:0]
	off := 0
	for range rr.lim.MaxLines {
		i := bytes.IndexByte(buf[off:], '\n')
		if i < 0 || i+1 > rr.lim.MaxLineLength {
			return false
		}
		end, bare := off+i, true
		if i > 0 && buf[end-1] == '\r' {
			end, bare = end-1, false
		}
		r.starts = append(r.starts, off)
		r.ends = append(r.ends, end)
		rr.lfs = append(rr.lfs, bare)
		line := buf[off:end]
		off += i + 1
		if len(line) < 4 || line[3] != '-' {
			// The cached copy is used only if it holds these very bytes,
			// so a caller reading the shared bufio.Reader in between
			// cannot make it stale.
			if rest := rr.text[rr.textOff:]; len(rest) >= off && rest[:off] == string(buf[:off]) {
				r.wire = rest[:off]
				rr.textOff += off
			} else {
				// Copy what is buffered, within reason: a shared reader
				// may hold a large message after the reply.
				n := min(len(buf), max(off, maxReplyText))
				rr.text, rr.textOff = string(buf[:n]), off
				r.wire = rr.text[:off]
			}
			// Offsets are relative to buf; r.wire starts at buf[0].
			rr.br.Discard(off)
			return true
		}
	}
	return false
}

// finish parses the lines gathered in r.wire and returns the first error
// found in them.
func (rr *ReplyReader) finish(r *Reply) error {
	s := r.wire
	var first error
	for i := range r.ends {
		raw := s[r.starts[i]:r.ends[i]]
		plain := !hasNonText(raw)
		n := i + 1
		var rl ReplyLine
		if err := parseReplyLine(&rl, raw, plain); err != nil {
			if first == nil {
				first = &ReplyError{Line: n, Err: err}
			}
			continue
		}
		if i == 0 {
			r.Code, r.Enhanced = rl.Code, rl.Enhanced
		} else if rl.Code != r.Code && first == nil {
			first = &ReplyError{Line: n, Err: &CodeMismatchError{First: r.Code, Got: rl.Code}}
		}
		text := rl.Text
		switch {
		case i == 0:
		case rl.Enhanced == r.Enhanced:
		case r.Enhanced.IsZero():
			// The first line decides (see Reply): keep the code as text.
			text = raw[4:]
			r.Warnings = append(r.Warnings, Warning{n, 5, fmt.Sprintf("enhanced code %s on a later line but not on the first (RFC 2034 §4: every line carries it)", rl.Enhanced)})
		case rl.Enhanced.IsZero():
			r.Warnings = append(r.Warnings, Warning{n, 5, fmt.Sprintf("line lacks the enhanced code %s of the first line (RFC 2034 §4: every line carries it)", r.Enhanced)})
		default:
			text = raw[4:]
			r.Warnings = append(r.Warnings, Warning{n, 5, fmt.Sprintf("enhanced code %s differs from the first line's %s", rl.Enhanced, r.Enhanced)})
		}
		r.Lines = append(r.Lines, text)
		if len(raw) == 3 {
			// RFC 5321 §4.2: servers SHOULD send the SP even with no text.
			r.Warnings = append(r.Warnings, Warning{n, 4, "no space after the reply code (RFC 5321 §4.2: servers SHOULD send it even without text)"})
		}
		if plain {
			continue
		}
		if j := indexNonASCII(raw); j >= 0 {
			r.Warnings = append(r.Warnings, Warning{n, j + 1, "non-ASCII byte in reply text (RFC 5321 §4.2 textstring is ASCII)"})
		}
	}
	for i, bare := range rr.lfs {
		if bare {
			r.Warnings = append(r.Warnings, Warning{i + 1, len(r.rawLine(i)) + 1, "line ends in a bare LF instead of CRLF (RFC 5321 §2.3.8)"})
		}
		if l := len(r.rawLine(i)) + 2; l > rfcReplyLineLength {
			r.Warnings = append(r.Warnings, Warning{i + 1, rfcReplyLineLength - 1, fmt.Sprintf("reply line is %d octets with CRLF, over the %d RFC 5321 §4.5.3.1.5 allows", l, rfcReplyLineLength)})
		}
	}
	if len(r.Warnings) == 0 {
		r.Warnings = nil
	}
	return first
}

// skipLine discards the rest of an over-long line, at most maxResync bytes,
// and reports whether it reached the line's end and the line's total length.
func (rr *ReplyReader) skipLine(seen int64) (bool, int64, error) {
	for seen < maxResync {
		chunk, err := rr.br.ReadSlice('\n')
		seen += int64(len(chunk))
		if err == nil {
			return true, seen, nil
		}
		if err != bufio.ErrBufferFull {
			return false, seen, err
		}
	}
	return false, seen, nil
}

// skipReply discards lines up to and including the last line of the reply
// being read (the first without "-" after its code), at most maxResync bytes.
func (rr *ReplyReader) skipReply() (bool, error) {
	var seen int64
	for seen < maxResync {
		chunk, err := rr.br.ReadSlice('\n')
		seen += int64(len(chunk))
		if err == bufio.ErrBufferFull {
			var ok bool
			more := len(chunk) >= 4 && chunk[3] == '-'
			ok, seen, err = rr.skipLine(seen)
			if !ok || !more {
				return ok, err
			}
			continue
		}
		if err != nil {
			return false, err
		}
		if len(chunk) < 4 || chunk[3] != '-' {
			return true, nil
		}
	}
	return false, nil
}

// ReplyError locates an error within a reply.
type ReplyError struct {
	Line int   // 1-based line number within the reply
	Err  error // what went wrong
}

// Error gives the line number and the underlying error.
func (e *ReplyError) Error() string { return fmt.Sprintf("reply line %d: %v", e.Line, e.Err) }

// Unwrap returns the underlying error.
func (e *ReplyError) Unwrap() error { return e.Err }

// LineTooLongError reports a line longer than the reader's limit. A
// ReplyReader discards the rest of the line and of the reply so the
// conversation can go on; Resynced says whether it managed to within its
// bound. A DotReader leaves that to its Discard method and sets Resynced.
type LineTooLongError struct {
	Limit    int   // the limit, in octets including the line ending
	Line     int   // 1-based line number within the reply or message
	Length   int64 // octets seen on the line (at least Limit+1)
	Resynced bool  // the reader is at the start of the next line or reply
}

// Error says which line, the limit and whether the reader is still in step.
func (e *LineTooLongError) Error() string {
	s := fmt.Sprintf("line %d is longer than the %d-octet limit (%d octets seen)", e.Line, e.Limit, e.Length)
	if !e.Resynced {
		s += "; could not find its end, the connection is out of step"
	}
	return s
}

// TooManyLinesError reports a reply with more lines than the reader's limit.
type TooManyLinesError struct {
	Limit    int  // the limit
	Resynced bool // the rest of the reply was discarded
}

// Error gives the limit and whether the reader is still in step.
func (e *TooManyLinesError) Error() string {
	s := fmt.Sprintf("reply has more than %d lines", e.Limit)
	if !e.Resynced {
		s += "; could not find its end, the connection is out of step"
	}
	return s
}

// CodeMismatchError reports a reply line whose code differs from the first
// line's: RFC 5321 §4.2.1 requires all lines of a reply to share the code.
type CodeMismatchError struct {
	First, Got int
}

// Error names both codes and the rule broken.
func (e *CodeMismatchError) Error() string {
	return fmt.Sprintf("code %d differs from the reply's first code %d (RFC 5321 §4.2.1: every line of a reply has the same code)", e.Got, e.First)
}
