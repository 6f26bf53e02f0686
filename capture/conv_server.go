package capture

import (
	"strings"
	"time"

	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// replyAcc gathers the lines of one reply.
type replyAcc struct {
	active bool
	code   int
	lines  int
	first  string // text of the first line
	last   string // everything after "NNN " on the last line (a 334 challenge)
	ehlo   bool   // it answers EHLO or LHLO: look for PIPELINING
}

// serverData takes server bytes.
func (d *Decoder) serverData(at time.Time, p []byte) {
	for len(p) > 0 {
		if d.stls {
			d.conv.TLSServerBytes += int64(len(p))
			return
		}
		line, rest, full, ok := d.sline.next(p)
		if !ok {
			return
		}
		p = rest
		d.serverLine(at, line, full)
	}
}

// replyCode reads a reply line leniently: three digits, then '-' for a
// line that more follow, anything else (or nothing) for the last line. The
// strict reading (smtp.ParseReplyLine, RFC 5321 §4.2) decides the warnings.
func replyCode(line []byte) (code int, more, ok bool) {
	if len(line) < 3 || line[0] < '1' || line[0] > '5' ||
		line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9' {
		return 0, false, false
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	return code, len(line) > 3 && line[3] == '-', true
}

// serverLine takes one line the server sent.
func (d *Decoder) serverLine(at time.Time, raw []byte, full int64) {
	line, _ := trimCR(raw)
	code, more, ok := replyCode(line)
	if d.sresync {
		if !ok {
			return
		}
		d.sresync = false
		d.note(at, "server stream resynchronised at a reply line")
	}
	s := string(line)
	d.event(transcripts.Event{Kind: transcripts.Server, Time: at, Text: s})
	if full > 0 {
		d.warn(at, "server line of %d bytes recorded truncated to %d", full, len(s))
	}
	if !ok {
		d.warnN(at, "server line that is not a reply: %q", truncText(s, 80))
		return
	}
	if _, err := smtp.ParseReplyLine(s); err != nil && full == 0 {
		d.warnN(at, "reply line %q: %v", truncText(s, 80), err)
	}
	text := ""
	if len(s) > 4 {
		text = s[4:]
	}
	r := &d.reply
	if !r.active {
		*r = replyAcc{active: true, code: code, first: text}
		if len(d.fifo) > 0 && d.fifo[0].kind == cmdCommand {
			r.ehlo = d.fifo[0].verb == smtp.EHLO || d.fifo[0].verb == smtp.LHLO
		}
	} else if code != r.code {
		d.warnN(at, "reply line %q: code %d in a reply that began with %d (RFC 5321 §4.2.1)", truncText(s, 80), code, r.code)
	}
	r.lines++
	r.last = text
	if r.ehlo && r.lines > 1 {
		kw, _, _ := strings.Cut(text, " ")
		if strings.EqualFold(kw, "PIPELINING") {
			d.conv.Pipelining = true
		}
	}
	if !more {
		d.onReply(at)
		d.reply = replyAcc{}
	}
}

// warnN is warn for warnings that can repeat without end (one per line):
// past the conversation's bound they are only counted.
func (d *Decoder) warnN(at time.Time, format string, args ...any) {
	if len(d.conv.Warnings) >= maxWarnings {
		d.conv.WarningsDropped++
		return
	}
	d.warn(at, format, args...)
}

// onReply pairs the reply just read with the command it answers.
func (d *Decoder) onReply(at time.Time) {
	r := d.reply
	d.sawServer = true
	var c *command
	switch {
	case len(d.fifo) > 0 && (d.fifo[0].kind != cmdCommand || !d.unseenGreeting(r.code)):
		c = d.fifo[0]
	case d.unseenGreeting(r.code):
		// Without the handshake the capture may or may not hold the
		// greeting: a 220 before any command is answered is it.
		c = &command{kind: cmdGreeting, ex: -1}
		d.fifo = append([]*command{c}, d.fifo...)
	default:
		d.warnN(at, "reply %d with no command waiting for it", r.code)
		return
	}
	c.got++
	if c.ex >= 0 {
		ex := &d.conv.Exchanges[c.ex]
		if len(ex.Codes) < 1024 {
			ex.Codes = append(ex.Codes, r.code)
		}
	}
	if c.want == 0 {
		c.want = 1
		if d.conv.LMTP && (c.kind == cmdDot || c.kind == cmdCommand && c.verb == smtp.BDAT && c.last) {
			// RFC 2033 §4.2: after the end of data, one reply per
			// recipient that got a 2xx to its RCPT, in RCPT order.
			c.want = max(1, acceptedRcpts(c.tx))
		}
	}
	if c.got >= c.want {
		d.fifo = d.fifo[1:]
	}
	if c.kind != cmdCommand || c.verb != smtp.QUIT {
		d.lastReply, d.lastCode = replyString(r.code, r.first), r.code
	}
	switch c.kind {
	case cmdGreeting:
		d.greeted = true
		d.conv.Greeting = replyString(r.code, r.first)
	case cmdSASL:
		d.authReply(at, c)
	case cmdDot:
		d.dataResult(c)
	default:
		d.commandReply(at, c)
	}
}

// unseenGreeting reports whether a reply with code may be the greeting
// of a capture that began without the handshake.
func (d *Decoder) unseenGreeting(code int) bool {
	if d.greeted || d.conv.Info.SawSYN || code != 220 && code != 554 {
		return false
	}
	if len(d.fifo) == 0 {
		return true
	}
	switch d.fifo[0].verb { // these are never answered 220 or 554 first
	case smtp.EHLO, smtp.HELO, smtp.LHLO:
		return true
	}
	return false
}

func acceptedRcpts(tx *Transaction) int {
	if tx == nil {
		return 0
	}
	n := 0
	for _, r := range tx.Rcpts {
		if r.Code >= 200 && r.Code < 300 {
			n++
		}
	}
	return n
}

// commandReply applies a reply to the command line it answers.
func (d *Decoder) commandReply(at time.Time, c *command) {
	r := &d.reply
	switch c.verb {
	case smtp.MAIL:
		c.tx.MailCode = r.code
	case smtp.RCPT:
		if c.tx != nil && c.rcpt >= 0 {
			c.tx.Rcpts[c.rcpt].Code = r.code
		}
	case smtp.DATA:
		if c.tx != nil {
			c.tx.DataCode = r.code
		}
		ok := r.code == 354 // RFC 5321 §4.1.1.4
		switch {
		case d.holdCmd == c:
			if ok {
				d.startMessage(c.tx, "DATA")
				d.resolveHold(clientData)
			} else {
				// RFC 5321 §4.1.1.4: no 354, no data: what the client
				// sends next are commands (tshark 4.0 reads them as body).
				if d.holdN > 0 {
					d.warn(at, "pipelining error: the client sent %d bytes after DATA before its reply, which must end a group (RFC 2920 §3.1)", d.holdN)
				}
				d.resolveHold(clientCommands)
			}
		case c.guessed && ok != c.guessYes:
			d.warn(at, "the reply to DATA came late, %d: the bytes after DATA were decoded as %s, wrongly", r.code, map[bool]string{true: "the message", false: "commands"}[c.guessYes])
		}
	case smtp.BDAT:
		if c.last {
			d.dataResult(c)
		}
	case smtp.STARTTLS:
		ok := r.code == 220 // RFC 3207 §4
		switch {
		case d.holdCmd == c:
			if ok {
				d.startTLS(at, "starttls", "")
				d.resolveHold(clientTLS)
			} else {
				d.resolveHold(clientCommands)
			}
		case c.guessed && ok != c.guessYes:
			d.warn(at, "the reply to STARTTLS came late, %d: the bytes after it were decoded wrongly", r.code)
		case ok && !c.guessed:
			d.startTLS(at, "starttls", "")
		}
	case smtp.AUTH:
		if c.auth != nil {
			d.authReply(at, c)
		}
	}
}

// dataResult applies the reply to the end of a message's data.
func (d *Decoder) dataResult(c *command) {
	r := &d.reply
	res := replyString(r.code, r.first)
	if tx := c.tx; tx != nil {
		tx.Result, tx.ResultCode = res, r.code
		if d.conv.LMTP {
			tx.Results = append(tx.Results, r.code)
		}
	}
	d.conv.Result, d.conv.ResultCode = res, r.code
}

// serverGap takes n bytes lost from the server.
func (d *Decoder) serverGap(at time.Time, n int64) {
	if d.stls {
		d.conv.TLSServerBytes += n
		return
	}
	d.sline.reset()
	d.sresync = true
	if d.reply.active {
		d.reply = replyAcc{}
	}
	d.warnOnce(at, &d.gapServer, "the capture lost server bytes: replies after the gap may be paired with the wrong commands")
}

// serverEnd finishes what the server was sending when the capture ended.
func (d *Decoder) serverEnd(at time.Time) {
	if d.stls {
		return
	}
	if d.sline.pending() {
		line, full := d.sline.flush()
		d.warn(at, "the server's last line has no line ending")
		d.serverLine(at, line, full)
	}
	if d.reply.active {
		d.warn(at, "the capture ended inside a multi-line reply")
		d.onReply(at)
		d.reply = replyAcc{}
	}
}
