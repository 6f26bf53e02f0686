package capture

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// cmdKind says what an entry of the reply FIFO is.
type cmdKind uint8

const (
	cmdGreeting cmdKind = iota // the server's greeting (RFC 5321 §3.1)
	cmdCommand                 // a command line
	cmdSASL                    // a line answering a 334 challenge (RFC 4954 §4)
	cmdDot                     // the "." that ends DATA (RFC 5321 §4.1.1.4)
)

// command is one thing the client sent that the server answers.
type command struct {
	kind     cmdKind
	verb     smtp.Verb
	at       time.Time
	tx       *Transaction
	rcpt     int  // index in tx.Rcpts of a RCPT, -1 if none
	last     bool // BDAT … LAST
	auth     *authExchange
	authStep int // 0 for AUTH, n for the n-th response
	ex       int // index in Conversation.Exchanges, -1 if not kept
	want     int // replies expected; 0 until known (LMTP's end of data)
	got      int
	guessed  bool // a hold on it was decided without its reply
	guessYes bool // … and the guess was "354" / "220"
}

func (c *command) verbName() string {
	if c.verb == "" {
		return "the command"
	}
	return string(c.verb)
}

// mustBeLast are the commands RFC 2920 §3.1 (and RFC 4954 §4 for AUTH, RFC
// 3207 §4 for STARTTLS) say end a pipelined group: the client waits for
// their reply before sending more.
func mustBeLast(v smtp.Verb) bool {
	switch v {
	case smtp.EHLO, smtp.HELO, smtp.LHLO, smtp.DATA, smtp.VRFY, smtp.EXPN, smtp.TURN,
		smtp.QUIT, smtp.NOOP, smtp.AUTH, smtp.STARTTLS:
		return true
	}
	return false
}

// clientData takes client bytes in whatever mode the client is in.
func (d *Decoder) clientData(at time.Time, p []byte) {
	for len(p) > 0 {
		switch d.cmode {
		case clientTLS:
			d.conv.TLSClientBytes += int64(len(p))
			return
		case clientHold:
			d.holdBytes(at, p, 0)
			return
		case clientChunk:
			n := int(min(d.chunk, int64(len(p))))
			d.chunkBytes(at, p[:n])
			p = p[n:]
			d.chunk -= int64(n)
			if d.chunk == 0 {
				d.endChunk(at, true)
			}
		case clientData:
			p = p[d.bodyData(at, p):]
		default:
			line, rest, full, ok := d.cline.next(p)
			if !ok {
				return
			}
			p = rest
			d.clientLine(at, line, full)
		}
	}
}

// holdBytes keeps client bytes (or a gap) until the reply that decides what
// they are.
func (d *Decoder) holdBytes(at time.Time, p []byte, gap int64) {
	d.hold = append(d.hold, heldBytes{at: at, p: bytes.Clone(p), gap: gap})
	d.holdN += len(p)
	if d.holdN > d.opts.MaxHold {
		d.guess = true
	}
}

// resolveHold sets the client's mode now that the reply to the held
// command is known (or guessed), and decodes the held bytes in it.
func (d *Decoder) resolveHold(mode clientMode) {
	d.holdCmd = nil
	if d.cmode == clientHold {
		d.cmode = mode
	}
	held := d.hold
	d.hold, d.holdN = nil, 0
	for _, h := range held {
		if h.gap > 0 {
			d.clientGapAll(h.at, h.gap)
		} else {
			d.clientData(h.at, h.p)
		}
	}
}

// guessHold decides a hold without the reply: after DATA, the held bytes
// are the message unless their first line is a command; after STARTTLS
// they are TLS if they start with a handshake record.
func (d *Decoder) guessHold(at time.Time, why string) {
	c := d.holdCmd
	if c == nil {
		d.resolveHold(clientCommands)
		return
	}
	c.guessed = true
	var first []byte
	for _, h := range d.hold {
		first = append(first, h.p[:min(len(h.p), 512-len(first))]...)
		if len(first) >= 512 || bytes.IndexByte(first, '\n') >= 0 {
			break
		}
	}
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	switch c.verb {
	case smtp.DATA:
		verb, _ := smtp.SplitVerb(string(bytes.TrimSuffix(first, []byte("\r"))))
		if len(d.hold) > 0 && d.holdN > 0 && !verb.Known() {
			c.guessYes = true
			d.warn(at, "%s; took the bytes after DATA as the message", why)
			d.startMessage(c.tx, "DATA")
			d.resolveHold(clientData)
			return
		}
		d.warn(at, "%s; took the bytes after DATA as commands", why)
	case smtp.STARTTLS:
		if len(first) > 0 && first[0] == tlsHandshake {
			c.guessYes = true
			d.warn(at, "%s; the client's next bytes are a TLS handshake", why)
			d.startTLS(at, "starttls", "")
			d.resolveHold(clientTLS)
			return
		}
		d.warn(at, "%s; took the bytes after STARTTLS as commands", why)
	}
	d.resolveHold(clientCommands)
}

// clientLine takes one line in command mode.
func (d *Decoder) clientLine(at time.Time, raw []byte, full int64) {
	line, crlf := trimCR(raw)
	if d.cresync {
		if v, _ := smtp.SplitVerb(string(line[:min(len(line), 16)])); !v.Known() {
			return
		}
		d.cresync = false
		d.note(at, "client stream resynchronised at a command")
	}
	s := string(line)
	if full > 0 {
		d.warn(at, "client line of %d bytes recorded truncated to %d", full, len(s))
	} else if !crlf && !d.auth.open() {
		d.warnOnce(at, &d.bareLFCmd, "client line ended with a bare LF, not CRLF (RFC 5321 §2.3.8)")
	}
	if a := d.auth; a.open() && a.seen334 <= len(a.responses) {
		if v, _ := smtp.SplitVerb(s); !v.Known() && s != "*" {
			// A SASL response whose 334 is not in the capture (one-sided,
			// or lost): transcripts.Redact finds responses by the 334
			// before them, so this one is hidden here. The Credential
			// keeps what it said.
			d.event(transcripts.Event{Kind: transcripts.Client, Time: at, Text: "<redacted>", Redacted: true})
			d.command(at, s)
			return
		}
	}
	d.event(transcripts.Event{Kind: transcripts.Client, Time: at, Text: s})
	d.command(at, s)
}

// command interprets one client line.
func (d *Decoder) command(at time.Time, s string) {
	verb, rest := smtp.SplitVerb(s)
	c := &command{kind: cmdCommand, verb: verb, at: at, rcpt: -1, ex: -1}
	if a := d.auth; a.open() {
		// RFC 4954 §4: after AUTH the client answers each 334 with one
		// line of base64 (or "*"); a known verb means the exchange is over
		// (a pipelined command after an initial response, RFC 2920).
		if !verb.Known() {
			c.kind, c.verb = cmdSASL, ""
			c.auth = a
			a.responses = append(a.responses, s)
			c.authStep = len(a.responses)
			if len(a.responses) >= maxSASL {
				a.clientOpen = false
			}
			exLine := "<redacted>"
			if s == "*" {
				exLine = "*"
				a.cancelled = true
				a.clientOpen = false
			}
			d.push(at, c, exLine)
			return
		}
		a.clientOpen = false
	}
	exLine := s
	switch verb {
	case smtp.HELO, smtp.EHLO, smtp.LHLO:
		d.conv.Helo, d.conv.HeloVerb = strings.TrimSpace(rest), verb
		d.conv.LMTP = verb == smtp.LHLO
		d.tx, d.msg = nil, nil // RFC 5321 §4.1.4: EHLO resets the transaction
	case smtp.MAIL:
		tx := &Transaction{MailFrom: pathArg(rest, "FROM:")}
		d.conv.Transactions = append(d.conv.Transactions, tx)
		d.tx, d.msg = tx, nil
		c.tx = tx
	case smtp.RCPT:
		if d.tx != nil {
			c.tx = d.tx
			if len(d.tx.Rcpts) < maxRcpts {
				c.rcpt = len(d.tx.Rcpts)
				d.tx.Rcpts = append(d.tx.Rcpts, Recipient{Addr: pathArg(rest, "TO:")})
			} else {
				d.tx.RcptsDropped++
			}
		}
	case smtp.DATA:
		c.tx = d.tx
		if d.tx != nil {
			d.tx.Method = "DATA"
		}
		d.push(at, c, exLine)
		// RFC 5321 §4.1.1.4: the message follows only a 354.
		d.cmode, d.holdCmd = clientHold, c
		return
	case smtp.BDAT:
		n, last, err := parseBDAT(rest)
		c.tx, c.last = d.tx, last
		d.push(at, c, exLine)
		if err != nil {
			// The server cannot know where such a chunk ends either; it
			// answers 501 and reads commands again.
			d.warn(at, "%s: %v", s, err)
			return
		}
		if d.msg == nil {
			d.startMessage(d.tx, "BDAT")
		}
		// RFC 3030 §2: exactly n octets follow the command line, whatever
		// the reply; no dot-stuffing.
		d.chunk, d.chunkEnd = n, last
		d.cmode = clientChunk
		if n == 0 {
			d.endChunk(at, true)
		}
		return
	case smtp.STARTTLS:
		d.push(at, c, exLine)
		// RFC 3207 §4: after 220 both sides start TLS at once.
		d.cmode, d.holdCmd = clientHold, c
		return
	case smtp.AUTH:
		if d.auth != nil {
			d.finishAuth(d.auth)
		}
		mech, ir, hasIR := strings.Cut(rest, " ")
		a := &authExchange{mech: strings.ToUpper(mech), ir: ir, hasIR: hasIR, at: at, clientOpen: true}
		d.auth = a
		c.auth = a
		if hasIR && ir != "=" {
			exLine = s[:len(s)-len(ir)] + "<redacted>"
		}
	case smtp.RSET:
		d.tx, d.msg = nil, nil
	}
	d.push(at, c, exLine)
}

// push queues c for its reply and records the exchange.
func (d *Decoder) push(at time.Time, c *command, line string) {
	if d.sawServer && c.kind != cmdSASL {
		// Outstanding commands other than the greeting.
		var prev *command
		for _, q := range d.fifo {
			if q.kind != cmdGreeting {
				prev = q
			}
		}
		if prev != nil {
			switch {
			case prev.kind == cmdCommand && mustBeLast(prev.verb):
				d.warn(at, "pipelining error: %s sent before the reply to %s, which must end a group (RFC 2920 §3.1)", c.verbName(), prev.verb)
			case !d.conv.Pipelining && d.conv.HeloVerb != "":
				d.warnOnce(at, &d.pipeNoExt, "the client pipelined commands though the server did not advertise PIPELINING (RFC 2920 §3)")
			}
		}
	}
	if len(d.conv.Exchanges) < maxExchanges {
		c.ex = len(d.conv.Exchanges)
		d.conv.Exchanges = append(d.conv.Exchanges, Exchange{Line: line, Verb: c.verb, At: at})
	} else {
		d.conv.ExchangesDropped++
	}
	d.fifo = append(d.fifo, c)
}

// parseBDAT reads "chunk-size [ SP end-marker ]" (RFC 3030 §2):
// chunk-size = 1*DIGIT, end-marker = "LAST".
func parseBDAT(rest string) (n int64, last bool, err error) {
	size, marker, hasMarker := strings.Cut(rest, " ")
	if size == "" {
		return 0, false, &smtp.SyntaxError{What: "BDAT", Column: 6, Msg: "missing chunk size (RFC 3030 §2)"}
	}
	for i := 0; i < len(size); i++ {
		if size[i] < '0' || size[i] > '9' {
			return 0, false, &smtp.SyntaxError{What: "BDAT", Column: 6 + i, Msg: "chunk size must be decimal digits (RFC 3030 §2)"}
		}
	}
	if hasMarker {
		if !strings.EqualFold(marker, "LAST") {
			return 0, false, &smtp.SyntaxError{What: "BDAT", Column: 6 + len(size) + 1, Msg: "expected LAST after the chunk size (RFC 3030 §2)"}
		}
		last = true
	}
	n, perr := strconv.ParseInt(size, 10, 64)
	if perr != nil {
		return 0, last, &smtp.SyntaxError{What: "BDAT", Column: 6, Msg: "chunk size " + size + " is too large"}
	}
	return n, last, nil
}

// pathArg returns the path of "FROM:<a@b> params" or "TO:<a@b>" without
// its brackets; leniently, the first word when there are none.
func pathArg(rest, prefix string) string {
	if len(rest) >= len(prefix) && strings.EqualFold(rest[:len(prefix)], prefix) {
		rest = rest[len(prefix):]
	}
	rest = strings.TrimLeft(rest, " ")
	if strings.HasPrefix(rest, "<") {
		if i := strings.IndexByte(rest, '>'); i > 0 {
			return rest[1:i]
		}
		return rest[1:]
	}
	path, _, _ := strings.Cut(rest, " ")
	return path
}

// clientGapAll takes n bytes lost from the client, whatever the mode.
func (d *Decoder) clientGapAll(at time.Time, n int64) {
	if d.cmode == clientHold {
		d.holdBytes(at, nil, n)
		return
	}
	if d.cmode == clientData {
		d.bodyFlushPart(at) // its lines come before the hole
	}
	d.event(transcripts.Event{Kind: transcripts.Gap, Time: at, Side: transcripts.SideClient, Bytes: n})
	d.clientGap(at, n)
}

// clientGap takes n bytes lost from the client, outside a hold.
func (d *Decoder) clientGap(at time.Time, n int64) {
	switch d.cmode {
	case clientTLS:
		d.conv.TLSClientBytes += n
	case clientData:
		d.bodyGap(at, n)
	case clientChunk:
		k := min(n, d.chunk)
		if d.msg != nil {
			d.msg.GapBytes += k
		}
		d.chunk -= k
		if d.chunk == 0 {
			d.endChunk(at, true)
		}
		if n > k {
			d.cline.reset()
			d.cresync = true
		}
	default:
		d.cline.reset()
		d.cresync = true
	}
}

// clientEnd finishes what the client was sending when the capture ended.
func (d *Decoder) clientEnd(at time.Time) {
	switch d.cmode {
	case clientCommands:
		if d.cline.pending() {
			line, full := d.cline.flush()
			d.warn(at, "the client's last line has no line ending")
			d.clientLine(at, append(line, '\r'), full)
		}
	case clientData:
		d.bodyEnd(at)
	case clientChunk:
		d.warn(at, "the capture ended %d bytes before the end of a BDAT chunk", d.chunk)
		d.endChunk(at, false)
	}
	if d.msg != nil {
		d.finishMessage(at, false)
	}
}

func (d *Decoder) warnOnce(at time.Time, done *bool, msg string) {
	if *done {
		return
	}
	*done = true
	d.warn(at, "%s", msg)
}
