package capture

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/smtpsh/smtpsh/transcripts"
)

// clientMode says what the client's next bytes are.
type clientMode uint8

const (
	clientCommands clientMode = iota // command lines (and SASL responses)
	clientData                       // a DATA message up to CRLF.CRLF
	clientChunk                      // the bytes of a BDAT chunk
	clientHold                       // after DATA or STARTTLS, until the reply decides
	clientTLS                        // encrypted: counted, not decoded
)

// Decoder decodes one SMTP or LMTP connection's bytes, both directions in
// capture order, into a Conversation. It implements Conn: give it the
// connection's bytes (Data), its holes (Gap) and its end (End), which
// calls done with the result. A Decoder is not safe for concurrent use, and
// never panics on any input; every buffer it holds has a bound (see
// DecoderOptions).
//
// Replies are paired with commands through a FIFO of the commands sent
// (RFC 2920 §3: a server replies in order), the greeting first (RFC 5321
// §3.1). What the client sends after DATA or STARTTLS depends on the reply
// to it, which a capture may show after those bytes; the decoder holds them
// until the reply is known (at most MaxHold bytes, then it guesses and
// says so).
type Decoder struct {
	opts DecoderOptions
	conv *Conversation
	tr   *transcripts.Transcript // nil when not kept
	done func(*Conversation)

	ended     bool
	evFull    bool // the transcript reached MaxEvents
	sawServer bool // the server sent a decodable reply

	// client side
	cmode    clientMode
	cline    lineBuf
	cresync  bool // after a gap: skip lines until a known verb
	body     bodyState
	chunk    int64 // bytes left of the current BDAT chunk
	chunkEnd bool  // the chunk is BDAT … LAST
	hold     []heldBytes
	holdN    int
	holdCmd  *command
	guess    bool // the hold overflowed: guess at top level
	auth     *authExchange
	tx       *Transaction
	msg      *Message
	dataLine lineBuf // D: lines of a BDAT chunk

	// server side
	stls    bool // the server's bytes are encrypted
	sline   lineBuf
	sresync bool // after a gap: skip lines until a reply line
	reply   replyAcc
	fifo    []*command
	greeted bool

	tlsEvent  int // index of the TLS event in the transcript, -1 if none
	lastReply string
	lastCode  int
	// warnings given once
	bareLFCmd, pipeNoExt, gapServer bool
}

// heldBytes is client data (or a gap, when gap > 0) held until a reply.
type heldBytes struct {
	at  time.Time
	p   []byte
	gap int64
}

// NewDecoder returns a Decoder for the connection info; done, if not nil, is
// called once, from End, with the conversation.
func NewDecoder(info ConnInfo, opts DecoderOptions, done func(*Conversation)) *Decoder {
	opts.fill()
	d := &Decoder{opts: opts, done: done, tlsEvent: -1}
	d.conv = &Conversation{Info: info, Start: info.Start}
	if opts.KeepTranscript {
		d.tr = &transcripts.Transcript{
			Server:  info.ServerName(),
			Client:  addrString(info.Client),
			Started: info.Start,
			Source:  opts.Source,
			Meta:    map[string]string{"conversation": strconv.Itoa(info.ID)},
		}
		d.conv.Transcript = d.tr
		d.tr.AddConnect(info.Start, info.ServerName(), info.Via())
	}
	if info.Target != "" {
		d.note(info.Start, fmt.Sprintf("tunnel: HTTP proxy %s answered CONNECT %s with 2xx (RFC 9110 §9.3.6); its preamble is not part of the conversation",
			addrString(info.Server), info.Target))
	}
	d.cline.max = opts.MaxLine
	d.sline.max = opts.MaxLine
	d.dataLine.max = opts.MaxLine
	d.body.max = opts.MaxLine
	if info.SawSYN {
		// RFC 5321 §3.1: the server speaks first; its greeting is the
		// first reply. Without the handshake the capture may start later.
		d.fifo = append(d.fifo, &command{kind: cmdGreeting, ex: -1, rcpt: -1})
	}
	if slices.Contains(opts.ImplicitTLSPorts, info.ServerPort()) {
		d.startTLS(info.Start, "implicit", fmt.Sprintf("implicit TLS: server port %d (RFC 8314 §3.3)", info.ServerPort()))
	}
	return d
}

// Conversation returns what was decoded so far; after End it is final.
func (d *Decoder) Conversation() *Conversation { return d.conv }

// Data takes the next bytes sent in dir.
func (d *Decoder) Data(dir Direction, at time.Time, p []byte) {
	if d.ended || len(p) == 0 {
		return
	}
	if dir == ClientToServer {
		first := d.conv.ClientBytes == 0
		d.conv.ClientBytes += int64(len(p))
		if first && d.conv.TLS == "" && p[0] == tlsHandshake && !d.sawServer {
			d.startTLS(at, "implicit", "implicit TLS: the client's first byte is a TLS handshake record (0x16)")
		}
		d.clientData(at, p)
		for d.guess {
			d.guess = false
			d.guessHold(at, "the reply to "+d.holdCmd.verbName()+" is not in the capture after "+strconv.Itoa(d.holdN)+" bytes")
		}
		return
	}
	first := d.conv.ServerBytes == 0
	d.conv.ServerBytes += int64(len(p))
	if first && d.conv.TLS == "" && p[0] == tlsHandshake {
		d.startTLS(at, "implicit", "implicit TLS: the server's first byte is a TLS handshake record (0x16)")
	}
	d.serverData(at, p)
	for d.guess {
		d.guess = false
		d.guessHold(at, "the reply to "+d.holdCmd.verbName()+" is not in the capture after "+strconv.Itoa(d.holdN)+" bytes")
	}
}

// tlsHandshake is the content type of a TLS handshake record (RFC 8446
// §5.1), the first byte a TLS client sends.
const tlsHandshake = 0x16

// Gap takes n bytes the capture lost in dir.
func (d *Decoder) Gap(dir Direction, at time.Time, n int64) {
	if d.ended || n <= 0 {
		return
	}
	d.conv.Gaps++
	side := transcripts.SideClient
	if dir == ServerToClient {
		side = transcripts.SideServer
		d.conv.GapServerBytes += n
	} else {
		d.conv.GapClientBytes += n
	}
	if dir == ClientToServer {
		d.clientGapAll(at, n)
		return
	}
	d.event(transcripts.Event{Kind: transcripts.Gap, Time: at, Side: side, Bytes: n})
	d.serverGap(at, n)
}

// End ends the conversation and calls done.
func (d *Decoder) End(at time.Time, reason string) {
	if d.ended {
		return
	}
	for d.cmode == clientHold {
		d.guessHold(at, "the capture ended before the reply to "+d.holdCmd.verbName())
	}
	d.clientEnd(at)
	d.serverEnd(at)
	d.ended = true
	c := d.conv
	c.End, c.EndReason = at, reason
	if c.TLS != "" {
		d.note(at, fmt.Sprintf("encrypted, %d bytes client→server, %d bytes server→client, not decoded", c.TLSClientBytes, c.TLSServerBytes))
	}
	if d.auth != nil {
		d.finishAuth(d.auth)
	}
	switch {
	case c.ResultCode != 0:
	case d.lastCode != 0:
		c.Result, c.ResultCode = d.lastReply, d.lastCode
	default:
		c.Result = "no reply"
	}
	if d.tr != nil {
		d.evFull = false // the close always fits: MaxEvents keeps room
		d.tr.AddClose(at, transcripts.SideUnknown, reason)
	}
	if d.done != nil {
		d.done(c)
	}
}

// startTLS marks the rest of the connection, both ways, as encrypted.
func (d *Decoder) startTLS(at time.Time, how, why string) {
	d.conv.TLS = how
	d.cmode = clientTLS
	d.stls = true
	if d.tr != nil && !d.evFull {
		d.tlsEvent = len(d.tr.Events)
	}
	d.event(transcripts.Event{Kind: transcripts.TLS, Time: at, TLS: &transcripts.TLSInfo{Version: "unknown", CipherSuite: "unknown"}})
	if how == "implicit" {
		d.note(at, why)
	}
}

// event appends e to the transcript, if one is kept and there is room.
func (d *Decoder) event(e transcripts.Event) {
	if d.tr == nil || d.evFull {
		return
	}
	if len(d.tr.Events) >= d.opts.MaxEvents {
		d.evFull = true
		d.tr.Events = append(d.tr.Events, transcripts.Event{Kind: transcripts.Note, Time: e.Time,
			Text: fmt.Sprintf("transcript truncated at %d events; the summary counts on", d.opts.MaxEvents)})
		return
	}
	d.tr.Events = append(d.tr.Events, e)
}

func (d *Decoder) note(at time.Time, text string) {
	d.event(transcripts.Event{Kind: transcripts.Note, Time: at, Text: truncText(text, transcripts.MaxTextBytes)})
}

// warn records a warning in the conversation and as a note.
func (d *Decoder) warn(at time.Time, format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	d.conv.warn("%s", s)
	d.note(at, "warning: "+s)
}

func truncText(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func addrString(a interface {
	IsValid() bool
	String() string
}) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
