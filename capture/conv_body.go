package capture

import (
	"bytes"
	"fmt"
	"time"

	"github.com/smtpsh/smtpsh/transcripts"
)

// bodyState is the scanner of a DATA message. It applies internal/smtp's
// DotReader rules (RFC 5321 §4.5.2) a line at a time with bytes.IndexByte,
// with no allocation per line: only "\r\n.\r\n" (or ".\r\n" first) ends the
// data; a '.' starting a line that follows CRLF, or the data's start, is
// removed; bare CR and LF pass through and are counted; a "." line with a
// bare CR or LF around it is the terminator of a lenient server, the trick
// of SMTP smuggling, and is reported.
type bodyState struct {
	max       int
	part      []byte // the current line so far, at most max bytes
	lineStart bool   // the next line follows CRLF or starts the data
	long      bool   // inside a line longer than max: bytes go straight through
	lastCR    bool   // the last byte of a long line so far was CR
	bareLF    int64
	bareCR    int64
}

// startMessage begins a message of tx sent with method.
func (d *Decoder) startMessage(tx *Transaction, method string) {
	m := &Message{ConvID: d.conv.Info.ID, Index: len(d.conv.Messages) + 1, Method: method, Transaction: tx}
	if d.opts.KeepMessages {
		m.Data = []byte{}
	}
	if tx != nil {
		tx.Method = method
		tx.Message = m
	}
	d.conv.Messages = append(d.conv.Messages, m)
	d.msg = m
	d.body = bodyState{max: d.opts.MaxLine, part: d.body.part[:0], lineStart: true}
}

// msgBytes adds message bytes, keeping at most MaxMessage of them.
func (d *Decoder) msgBytes(p []byte) {
	m := d.msg
	m.Size += int64(len(p))
	if m.Data == nil || m.Truncated {
		return
	}
	room := d.opts.MaxMessage - int64(len(m.Data))
	if int64(len(p)) > room {
		p = p[:room]
		m.Truncated = true
	}
	m.Data = append(m.Data, p...)
}

// bodyData scans DATA text and returns how many bytes of p it used: all of
// them, or up to and including the end-of-data line.
func (d *Decoder) bodyData(at time.Time, p []byte) int {
	b := &d.body
	off := 0
	for off < len(p) {
		q := p[off:]
		i := bytes.IndexByte(q, '\n')
		if b.long {
			if i < 0 {
				d.msgBytes(q)
				b.lastCR = q[len(q)-1] == '\r'
				return len(p)
			}
			d.msgBytes(q[:i+1])
			crlf := i > 0 && q[i-1] == '\r' || i == 0 && b.lastCR
			if !crlf {
				b.bareLF++
			}
			b.long, b.lineStart = false, crlf
			off += i + 1
			continue
		}
		if i < 0 {
			if len(b.part)+len(q) > b.max {
				off += d.bodyLong(at, q)
				continue
			}
			b.part = append(b.part, q...)
			return len(p)
		}
		n := i + 1
		if len(b.part)+n > b.max+2 { // +2: the CRLF is not text
			off += d.bodyLong(at, q)
			continue
		}
		line := q[:n]
		if len(b.part) > 0 {
			b.part = append(b.part, line...)
			line = b.part
		}
		off += n
		end := d.bodyLine(at, line)
		b.part = b.part[:0]
		if end {
			return off
		}
	}
	return off
}

// bodyLong starts a line too long to carry: its first max bytes are
// recorded, the rest passes straight into the message. It returns how many
// bytes of q it used.
func (d *Decoder) bodyLong(at time.Time, q []byte) int {
	b := &d.body
	used := max(0, b.max-len(b.part))
	b.part = append(b.part, q[:used]...)
	head := b.part
	out := head
	if b.lineStart && len(head) > 0 && head[0] == '.' {
		out = head[1:] // RFC 5321 §4.5.2
	}
	d.msgBytes(out)
	d.msg.Lines++
	if d.opts.KeepData {
		d.event(transcripts.Event{Kind: transcripts.Data, Time: at, Text: string(head)})
	}
	d.msgWarn(at, false, "a line longer than %d bytes (RFC 5321 §4.5.3.1.6 allows 1000); its first %d bytes are recorded", b.max, b.max)
	b.lastCR = len(head) > 0 && head[len(head)-1] == '\r'
	b.part = b.part[:0]
	b.long = true
	return used
}

// bodyLine takes one line of DATA text, with its LF, and reports whether
// it ended the data.
func (d *Decoder) bodyLine(at time.Time, line []byte) bool {
	b := &d.body
	n := len(line)
	crlf := n >= 2 && line[n-2] == '\r'
	content := line[:n-1]
	if crlf {
		content = line[:n-2]
	}
	dot := len(content) == 1 && content[0] == '.'
	if dot && crlf && b.lineStart {
		d.endData(at)
		return true
	}
	d.msg.Lines++
	if !crlf {
		b.bareLF++
	}
	switch {
	case dot:
		d.msgWarn(at, true, "%s line: a lenient server ends the data here, a strict one does not (SMTP smuggling; only CRLF.CRLF ends data, RFC 5321 §4.5.2)", dotForm(b.lineStart, crlf))
	case bytes.IndexByte(content, '\r') >= 0:
		b.bareCR += int64(bytes.Count(content, []byte{'\r'}))
		if bytes.Contains(content, []byte("\r.\r")) || bytes.HasSuffix(content, []byte("\r.")) ||
			b.lineStart && bytes.HasPrefix(content, []byte(".\r")) {
			d.msgWarn(at, true, "a \".\" between bare CRs: a lenient server ends the data here, a strict one does not (SMTP smuggling; only CRLF.CRLF ends data, RFC 5321 §4.5.2)")
		}
	}
	out := line
	if b.lineStart && len(content) > 0 && content[0] == '.' {
		out = line[1:] // RFC 5321 §4.5.2: undo the dot-stuffing
	}
	d.msgBytes(out)
	if d.opts.KeepData {
		d.event(transcripts.Event{Kind: transcripts.Data, Time: at, Text: string(content)})
	}
	b.lineStart = crlf
	return false
}

// dotForm names the line breaks around a "." line.
func dotForm(afterCRLF, crlf bool) string {
	before, after := `\r\n`, `\r\n`
	if !afterCRLF {
		before = `\n`
	}
	if !crlf {
		after = `\n`
	}
	return fmt.Sprintf(`a "%s.%s"`, before, after)
}

// msgWarn records a warning on the message, and on the conversation too
// when it matters beyond the message (smuggling).
func (d *Decoder) msgWarn(at time.Time, conv bool, format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	d.msg.warn("%s", s)
	if conv {
		d.warn(at, "message %d: %s", d.msg.Index, s)
	}
}

// endData takes the end-of-data line.
func (d *Decoder) endData(at time.Time) {
	c := &command{kind: cmdDot, verb: "DATA", at: at, rcpt: -1, ex: -1, tx: d.msg.Transaction}
	d.finishMessage(at, true)
	d.event(transcripts.Event{Kind: transcripts.Client, Time: at, Text: "."})
	d.push(at, c, ".")
	d.cmode = clientCommands
}

// finishMessage closes the current message.
func (d *Decoder) finishMessage(at time.Time, complete bool) {
	m := d.msg
	if m == nil {
		return
	}
	d.msg = nil
	m.Complete = complete && m.GapBytes == 0
	if m.Method == "DATA" {
		if d.body.bareLF > 0 {
			m.warn("%d bare LF line ending(s) (RFC 5321 §2.3.8 requires CRLF)", d.body.bareLF)
		}
		if d.body.bareCR > 0 {
			m.warn("%d bare CR(s) (RFC 5321 §2.3.8)", d.body.bareCR)
		}
	}
	if d.tr != nil && !d.opts.KeepData {
		d.note(at, fmt.Sprintf("message %d: %d bytes in %d lines (data lines not kept)", m.Index, m.Size, m.Lines))
	}
	if !complete {
		d.warn(at, "message %d is incomplete: the capture ended before its end of data", m.Index)
	} else if m.GapBytes > 0 {
		d.warn(at, "message %d is incomplete: the capture lost %d bytes of it", m.Index, m.GapBytes)
	}
}

// bodyGap takes bytes lost inside DATA text: the message is incomplete,
// and the scan goes on at the next line.
func (d *Decoder) bodyGap(at time.Time, n int64) {
	d.msg.GapBytes += n
	d.bodyFlushPart(at)
	d.body.long = true // the rest of the current line, of unknown start
	d.body.lastCR = false
}

// bodyFlushPart puts the partial line carried into the message: before a
// gap, its start was received.
func (d *Decoder) bodyFlushPart(at time.Time) {
	b := &d.body
	if len(b.part) > 0 {
		out := b.part
		if b.lineStart && out[0] == '.' {
			out = out[1:] // RFC 5321 §4.5.2
		}
		d.msgBytes(out)
		if d.opts.KeepData {
			d.event(transcripts.Event{Kind: transcripts.Data, Time: at, Text: string(b.part)})
		}
		b.part = b.part[:0]
	}
}

// bodyEnd takes the end of the capture inside DATA text.
func (d *Decoder) bodyEnd(at time.Time) {
	b := &d.body
	if len(b.part) > 0 {
		out := b.part
		if b.lineStart && out[0] == '.' {
			out = out[1:]
		}
		d.msgBytes(out)
		d.msg.Lines++
		if d.opts.KeepData {
			d.event(transcripts.Event{Kind: transcripts.Data, Time: at, Text: string(b.part)})
		}
		b.part = b.part[:0]
	}
	d.finishMessage(at, false)
	d.cmode = clientCommands
}

// chunkBytes takes bytes of a BDAT chunk: they are the message as they are
// (RFC 3030 §2).
func (d *Decoder) chunkBytes(at time.Time, p []byte) {
	if d.msg == nil {
		return
	}
	d.msgBytes(p)
	d.msg.Lines += int64(bytes.Count(p, []byte{'\n'}))
	if !d.opts.KeepData || d.tr == nil {
		return
	}
	// Recorded as the shell records a chunk it sends: one D: line per line.
	for len(p) > 0 {
		line, rest, _, ok := d.dataLine.next(p)
		if !ok {
			return
		}
		p = rest
		line, _ = trimCR(line)
		d.event(transcripts.Event{Kind: transcripts.Data, Time: at, Text: string(line)})
	}
}

// endChunk ends a BDAT chunk; complete is false when the capture ended
// inside it.
func (d *Decoder) endChunk(at time.Time, complete bool) {
	if d.dataLine.pending() {
		line, _ := d.dataLine.flush()
		d.event(transcripts.Event{Kind: transcripts.Data, Time: at, Text: string(line)})
	}
	d.cmode = clientCommands
	d.chunk = 0
	if d.chunkEnd || !complete {
		d.finishMessage(at, complete)
	}
}
