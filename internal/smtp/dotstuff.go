package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// dotWriter is the io.WriteCloser NewDotWriter returns.
type dotWriter struct {
	w         io.Writer
	buf       []byte
	lineStart bool // the next byte begins a line
	cr        bool // a CR was written by the caller and not yet emitted
	closed    bool
	err       error
}

// dotWriterBuffer is the size of the writer's output buffer.
const dotWriterBuffer = 4096

// NewDotWriter returns a writer that sends a message body as the text of an
// SMTP DATA command (RFC 5321 §4.5.2, §3.3):
//   - a '.' that begins a line is doubled;
//   - line endings are normalised to CRLF: a bare LF and a bare CR each
//     become CRLF, so the output never holds the bare line breaks that
//     SMTP smuggling relies on (CVE-2023-51764 and siblings);
//   - Close ends the data with ".\r\n", preceded by "\r\n" if the body did
//     not end with a line break. Close does not close w.
//
// Output is buffered; it reaches w when the buffer fills and on Close. The
// result does not depend on how the body is split across Write calls.
func NewDotWriter(w io.Writer) io.WriteCloser {
	return &dotWriter{w: w, buf: make([]byte, 0, dotWriterBuffer), lineStart: true}
}

// Write stuffs p; see NewDotWriter.
func (d *dotWriter) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.closed {
		return 0, errors.New("smtp: write to a closed DATA writer")
	}
	for i := 0; i < len(p); {
		if len(d.buf)+4 > cap(d.buf) {
			if err := d.flush(); err != nil {
				return i, err
			}
		}
		c := p[i]
		if d.cr {
			// The pending CR ends a line whatever follows: a CRLF as sent,
			// or a bare CR that becomes one.
			d.cr = false
			d.buf = append(d.buf, '\r', '\n')
			d.lineStart = true
			if c == '\n' {
				i++
				continue
			}
		}
		switch {
		case c == '\r':
			d.cr = true
			i++
			continue
		case c == '\n':
			d.buf = append(d.buf, '\r', '\n')
			d.lineStart = true
			i++
			continue
		case c == '.' && d.lineStart:
			d.buf = append(d.buf, '.')
		}
		// Copy the run of ordinary bytes up to the next line break in one
		// go; p[i] is not one, and the buffer has room for it.
		rest := p[i:]
		k := bytes.IndexByte(rest, '\n')
		if k < 0 {
			k = len(rest)
		}
		if c := bytes.IndexByte(rest[:k], '\r'); c >= 0 {
			k = c
		}
		k = min(k, cap(d.buf)-len(d.buf))
		d.buf = append(d.buf, rest[:k]...)
		d.lineStart = false
		i += k
	}
	return len(p), nil
}

func (d *dotWriter) flush() error {
	if len(d.buf) == 0 {
		return nil
	}
	_, err := d.w.Write(d.buf)
	d.buf = d.buf[:0]
	if err != nil {
		d.err = fmt.Errorf("smtp: writing DATA: %w", err)
	}
	return d.err
}

// Close writes the end-of-data line and flushes. Closing twice is a no-op.
func (d *dotWriter) Close() error {
	if d.err != nil || d.closed {
		return d.err
	}
	d.closed = true
	if d.cr {
		d.cr = false
		d.buf = append(d.buf, '\r', '\n')
		d.lineStart = true
	}
	if !d.lineStart {
		d.buf = append(d.buf, '\r', '\n')
	}
	d.buf = append(d.buf, '.', '\r', '\n')
	return d.flush()
}

// DataWarningKind names a deviation found in DATA text.
type DataWarningKind int

// The deviations a DotReader records.
const (
	// BareLF is a LF not preceded by CR (RFC 5321 §2.3.8 forbids it).
	BareLF DataWarningKind = iota + 1
	// BareCR is a CR not followed by LF (RFC 5321 §2.3.8 forbids it).
	BareCR
	// AmbiguousEnd is a line holding just "." where a bare CR or LF is
	// one of the line breaks around it: a server that accepts bare line
	// breaks would take it as the end of the data, a strict one would
	// not. This difference is what SMTP smuggling exploits (SEC Consult,
	// December 2023; CVE-2023-51764 Postfix, CVE-2023-51765 Sendmail,
	// CVE-2023-51766 Exim).
	AmbiguousEnd
	// LongLine is a line over the reader's MaxLineLength (by default RFC
	// 5321 §4.5.3.1.6's 1000 octets including CRLF).
	LongLine
)

// String names the kind.
func (k DataWarningKind) String() string {
	switch k {
	case BareLF:
		return "bare LF"
	case BareCR:
		return "bare CR"
	case AmbiguousEnd:
		return "ambiguous end of data"
	case LongLine:
		return "line too long"
	}
	return "DataWarningKind(" + strconv.Itoa(int(k)) + ")"
}

// DataWarning records one deviation found in DATA text.
type DataWarning struct {
	Kind DataWarningKind
	// Offset is the 0-based offset, in the data as received (still
	// dot-stuffed), of the first byte of the deviation: the bare CR or LF,
	// the line break before an ambiguous "." (or the "." itself at the
	// very start), or the first octet past the limit of a long line.
	Offset int64
	// Line is the 1-based line number, counting every LF as a line
	// break, of the bare CR or LF, of the '.' of an AmbiguousEnd, or of
	// the long line.
	Line int
	// Form is, for AmbiguousEnd, the exact bytes of the terminator-like
	// sequence, e.g. "\n.\r\n"; empty otherwise.
	Form string
}

// String describes the warning, with Form quoted.
func (w DataWarning) String() string {
	s := fmt.Sprintf("line %d, offset %d: %s", w.Line, w.Offset, w.Kind)
	if w.Form != "" {
		s += " " + strconv.Quote(w.Form)
	}
	return s
}

// SmugglingError is returned when DotOptions.RejectAmbiguousEnd is set and
// the data holds an AmbiguousEnd.
type SmugglingError struct {
	Warning DataWarning
}

// Error locates the ambiguous terminator and says why it matters.
func (e *SmugglingError) Error() string {
	return fmt.Sprintf("DATA: line %d, offset %d: %q looks like an end of data but only \"\\r\\n.\\r\\n\" is one (RFC 5321 §4.5.2); a lenient server would split the message here (SMTP smuggling)", e.Warning.Line, e.Warning.Offset, e.Warning.Form)
}

// DotOptions configures a DotReader. The zero value gives the defaults.
type DotOptions struct {
	// MaxLineLength is the longest line, in octets including CRLF and not
	// counting a stuffed leading '.', before a LongLine is recorded.
	// Default 1000 (RFC 5321 §4.5.3.1.6).
	MaxLineLength int
	// RejectLongLines makes the first long line an error
	// (*LineTooLongError) instead of a warning; a server answers it with
	// 500 5.5.0 or 552 after Discard.
	RejectLongLines bool
	// RejectAmbiguousEnd makes the first AmbiguousEnd an error
	// (*SmugglingError) instead of a warning.
	RejectAmbiguousEnd bool
	// EndOnAmbiguous makes the first AmbiguousEnd end the data, as a
	// server vulnerable to SMTP smuggling does: Read returns io.EOF and
	// the input after the ambiguous terminator is left unread in the
	// bufio.Reader, where the server reads its next command. The warning
	// is still recorded. For practice servers only (smtpsh's smuggling
	// lab profile); it takes precedence over RejectAmbiguousEnd and holds
	// during Discard too.
	EndOnAmbiguous bool
	// MaxWarnings bounds how many warnings are kept; later ones are only
	// counted (DroppedWarnings). Default 64.
	MaxWarnings int
}

// Default DotReader options; see DotOptions.
const (
	DefaultMaxDataLineLength = 1000
	DefaultMaxDataWarnings   = 64
)

// Line-start states of a DotReader.
const (
	dotMid   = iota // inside a line
	dotBegin        // at the very start of the data
	dotCRLF         // just after CRLF
	dotLF           // just after a bare LF
	dotCR           // just after a bare CR
)

// DotReader reads the text of a DATA command up to its end and undoes the
// dot-stuffing (RFC 5321 §4.5.2).
//
// Policy: only "\r\n.\r\n" ends the data ("\r\n" being the end of the DATA
// command line when the message is empty), which is what Postfix's
// smtpd_forbid_bare_newline aims at. A '.' is removed from the start of a
// line, a line being what follows CRLF or the start of the data. Every bare
// CR, bare LF and AmbiguousEnd ("\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r",
// "\r.\r\n", "\r\n.\r", …) is recorded as a DataWarning and passed through
// unchanged, so the caller sees exactly what a strict server would store.
// DotOptions can make the first AmbiguousEnd or long line an error instead.
//
// Read returns io.EOF after the end-of-data line, and io.ErrUnexpectedEOF
// (wrapped) if the stream ends before it. Errors are sticky; after one,
// Discard skips to the end of the data. Memory use is bounded by the
// bufio.Reader's buffer: lines are never held whole.
type DotReader struct {
	r   *bufio.Reader
	opt DotOptions

	state   int   // dotMid … dotCR
	brkOff  int64 // offset of the line break that set state
	cr      bool  // a CR was read and not yet emitted
	crOff   int64
	dot     bool  // a line-initial '.' was read and not yet emitted
	dotFrom int   // the state the '.' was read in
	dotOff  int64 // offset of the line break (or '.') before the '.'

	off      int64 // offset of the next byte to read
	line     int   // current line, 1-based
	lineLen  int   // octets of the current line so far
	longDone bool  // a LongLine was recorded for this line

	out    [4]byte // output produced by one input byte, not yet returned
	outN   int
	outOff int

	warnings []DataWarning
	dropped  int
	done     bool
	err      error
	lenient  bool // Discard: record, never fail on policy
}

// NewDotReader returns a reader of the DATA text that follows a 354 reply,
// read from r. opt may be nil for the defaults.
func NewDotReader(r *bufio.Reader, opt *DotOptions) *DotReader {
	var o DotOptions
	if opt != nil {
		o = *opt
	}
	if o.MaxLineLength <= 0 {
		o.MaxLineLength = DefaultMaxDataLineLength
	}
	if o.MaxWarnings <= 0 {
		o.MaxWarnings = DefaultMaxDataWarnings
	}
	return &DotReader{r: r, opt: o, state: dotBegin, line: 1}
}

// Warnings returns the deviations recorded so far, in input order.
func (d *DotReader) Warnings() []DataWarning { return d.warnings }

// DroppedWarnings returns how many warnings were not kept because
// MaxWarnings was reached.
func (d *DotReader) DroppedWarnings() int { return d.dropped }

// Discard reads and drops the rest of the data, ignoring the Reject
// options, so a server can answer an error and go on with the session. It
// returns nil once the end-of-data line is read.
func (d *DotReader) Discard() error {
	var pe *SmugglingError
	var le *LineTooLongError
	if errors.As(d.err, &pe) || errors.As(d.err, &le) {
		d.err = nil
	}
	d.lenient = true
	d.outN, d.outOff = 0, 0
	var buf [512]byte
	for {
		_, err := d.Read(buf[:])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (d *DotReader) warn(w DataWarning) {
	if len(d.warnings) >= d.opt.MaxWarnings {
		d.dropped++
		return
	}
	d.warnings = append(d.warnings, w)
}

// emit queues output bytes produced by the input byte just consumed.
func (d *DotReader) emit(b ...byte) {
	d.outN += copy(d.out[d.outN:], b)
}

// Read reads unstuffed data into p.
func (d *DotReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if d.outOff < d.outN {
			c := copy(p[n:], d.out[d.outOff:d.outN])
			n += c
			d.outOff += c
			if d.outOff == d.outN {
				d.outOff, d.outN = 0, 0
			}
			continue
		}
		if d.err != nil {
			break
		}
		if d.done {
			d.err = io.EOF
			break
		}
		// Fast path: copy the middle of a line in bulk.
		if d.state == dotMid && !d.cr && !d.dot {
			if w, _ := d.r.Peek(d.r.Buffered()); len(w) > 0 {
				if i := bytes.IndexByte(w, '\n'); i >= 0 {
					w = w[:i]
				}
				if i := bytes.IndexByte(w, '\r'); i >= 0 {
					w = w[:i]
				}
				if len(w) > len(p)-n {
					w = w[:len(p)-n]
				}
				if len(w) > 0 {
					if room := d.opt.MaxLineLength - d.lineLen; len(w) > room && !d.longDone {
						if room > 0 {
							w = w[:room]
						} else {
							w = nil
						}
					}
				}
				if len(w) > 0 {
					n += copy(p[n:], w)
					d.r.Discard(len(w))
					d.off += int64(len(w))
					d.lineLen += len(w)
					continue
				}
			}
		}
		if n > 0 && d.r.Buffered() == 0 {
			// Do not block with data in hand.
			break
		}
		c, err := d.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			d.err = fmt.Errorf("DATA: line %d: input ended before the end-of-data line \"\\r\\n.\\r\\n\": %w", d.line, err)
			break
		}
		if d.step(c); d.err != nil {
			// A policy error: withhold the output of the byte that caused
			// it, so nothing past the limit or the ambiguous "." is given.
			d.outN, d.outOff = 0, 0
		}
	}
	if n > 0 {
		return n, nil
	}
	return 0, d.err
}

// step consumes one input byte, updating the state and queuing output.
func (d *DotReader) step(c byte) {
	off := d.off
	d.off++
	d.lineLen++
	if d.lineLen > d.opt.MaxLineLength && !d.longDone {
		d.longDone = true
		w := DataWarning{Kind: LongLine, Offset: off, Line: d.line}
		d.warn(w)
		if d.opt.RejectLongLines && !d.lenient && d.err == nil {
			d.err = &LineTooLongError{Limit: d.opt.MaxLineLength, Line: d.line, Length: int64(d.lineLen), Resynced: true}
		}
	}
	if d.dot {
		from := d.dotFrom
		if d.cr {
			d.cr = false
			d.dot = false
			if c == '\n' {
				if from == dotBegin || from == dotCRLF {
					d.done = true
					return
				}
				if d.ambiguous(from, ".\r\n") {
					d.done = true
					return
				}
				d.emit('.', '\r', '\n')
				d.newLine(dotCRLF, d.crOff)
				return
			}
			if d.ambiguous(from, ".\r") {
				// c, read just now, is the first byte after the
				// terminator: give it back for the next command.
				d.r.UnreadByte()
				d.off--
				d.done = true
				return
			}
			d.bare(BareCR, d.crOff)
			if from == dotBegin || from == dotCRLF {
				d.emit('\r') // ".\rX…" has other characters: unstuff
				d.lineLen--
			} else {
				d.emit('.', '\r')
			}
			d.state, d.brkOff = dotCR, d.crOff
			d.stepAgain(c)
			return
		}
		switch c {
		case '\r':
			d.cr, d.crOff = true, off
			return
		case '\n':
			d.dot = false
			if d.ambiguous(from, ".\n") {
				d.done = true
				return
			}
			d.bare(BareLF, off)
			if from == dotBegin || from == dotCRLF {
				d.emit('\n')
			} else {
				d.emit('.', '\n')
			}
			d.newLine(dotLF, off)
			return
		}
		d.dot = false
		if from == dotBegin || from == dotCRLF {
			// RFC 5321 §4.5.2: a line-initial '.' followed by other
			// characters is deleted; it was not counted in the line's
			// length (§4.5.3.1.6).
			d.lineLen--
		} else {
			d.emit('.')
		}
		d.state = dotMid
		d.stepAgain(c)
		return
	}
	if d.cr {
		d.cr = false
		if c == '\n' {
			d.emit('\r', '\n')
			d.newLine(dotCRLF, d.crOff)
			return
		}
		d.bare(BareCR, d.crOff)
		d.emit('\r')
		d.state, d.brkOff = dotCR, d.crOff
		d.stepAgain(c)
		return
	}
	switch {
	case c == '\r':
		d.cr, d.crOff = true, off
	case c == '\n':
		d.bare(BareLF, off)
		d.emit('\n')
		d.newLine(dotLF, off)
	case c == '.' && d.state != dotMid:
		d.dot, d.dotFrom = true, d.state
		d.dotOff = d.brkOff
		if d.state == dotBegin {
			d.dotOff = off
		}
	default:
		d.emit(c)
		d.state = dotMid
	}
}

// stepAgain processes c once more after the state it ended was resolved;
// it was already counted.
func (d *DotReader) stepAgain(c byte) {
	d.off--
	d.lineLen--
	d.step(c)
}

func (d *DotReader) newLine(state int, brkOff int64) {
	d.state, d.brkOff = state, brkOff
	d.line++
	d.lineLen = 0
	d.longDone = false
}

func (d *DotReader) bare(k DataWarningKind, off int64) {
	d.warn(DataWarning{Kind: k, Offset: off, Line: d.line})
}

// ambiguous records a "."-line whose surrounding line breaks are not both
// CRLF; tail is "." and the line break after it. It reports whether the
// data ends here (DotOptions.EndOnAmbiguous).
func (d *DotReader) ambiguous(from int, tail string) bool {
	head := ""
	switch from {
	case dotCRLF:
		head = "\r\n"
	case dotLF:
		head = "\n"
	case dotCR:
		head = "\r"
	}
	w := DataWarning{Kind: AmbiguousEnd, Offset: d.dotOff, Line: d.line, Form: head + tail}
	d.warn(w)
	if d.opt.EndOnAmbiguous {
		return true
	}
	if d.opt.RejectAmbiguousEnd && !d.lenient && d.err == nil {
		d.err = &SmugglingError{Warning: w}
	}
	return false
}
