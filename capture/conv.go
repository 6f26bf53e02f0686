package capture

import (
	"fmt"
	"strconv"
	"time"

	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// Default bounds of a Decoder; see DecoderOptions.
const (
	// DefaultMaxLine is the longest client or server line kept whole:
	// the longest text a transcript event may hold. RFC 5321
	// §4.5.3.1.4-6 allows 512 octets for a command, 1000 for a text line;
	// a longer line is recorded truncated, with a warning.
	DefaultMaxLine = transcripts.MaxTextBytes
	// DefaultMaxMessage is how many bytes of one message are kept when
	// messages are kept; the size is still counted past it.
	DefaultMaxMessage = 64 << 20
	// DefaultMaxHold is how many client bytes sent after DATA or STARTTLS
	// are held while the reply that decides what they are is not yet seen.
	DefaultMaxHold = 1 << 20
	// DefaultMaxEvents bounds a conversation's transcript.
	DefaultMaxEvents = 1 << 20
	// maxWarnings bounds Conversation.Warnings and Message.Warnings; later
	// ones are only counted.
	maxWarnings = 64
	// maxRcpts bounds the recipients kept per transaction, maxExchanges the
	// command/reply pairs kept per conversation; later ones are counted.
	maxRcpts     = 10000
	maxExchanges = 100000
	// maxSASL bounds the lines kept of one AUTH exchange.
	maxSASL = 16
)

// DecoderOptions say what a Decoder keeps. The zero value keeps only the
// summary (the --summary path): memory stays flat however large the
// messages are.
type DecoderOptions struct {
	// KeepTranscript records the conversation as a transcript.
	KeepTranscript bool
	// KeepData records each line of message content as a Data event ("D:")
	// in the transcript; without it a message is one note giving its size.
	KeepData bool
	// KeepMessages keeps each message's bytes (Message.Data), at most
	// MaxMessage of each.
	KeepMessages bool
	// MaxMessage bounds the bytes kept of one message; 0 means
	// DefaultMaxMessage.
	MaxMessage int64
	// MaxLine bounds a line; 0 means DefaultMaxLine, which is also the
	// most allowed.
	MaxLine int
	// MaxHold bounds the client bytes held while the reply to DATA or
	// STARTTLS is not yet seen; 0 means DefaultMaxHold. Past it the
	// decoder guesses, with a warning.
	MaxHold int
	// MaxEvents bounds the transcript's events; 0 means DefaultMaxEvents.
	MaxEvents int
	// ImplicitTLSPorts are the server ports whose connections are TLS from
	// the first byte; nil means 465 (RFC 8314 §3.3).
	ImplicitTLSPorts []uint16
	// Source is the transcript's Source; "" means "capture".
	Source string
}

func (o *DecoderOptions) fill() {
	if o.MaxMessage <= 0 {
		o.MaxMessage = DefaultMaxMessage
	}
	if o.MaxLine <= 0 || o.MaxLine > DefaultMaxLine {
		o.MaxLine = DefaultMaxLine
	}
	if o.MaxHold <= 0 {
		o.MaxHold = DefaultMaxHold
	}
	if o.MaxEvents <= 0 || o.MaxEvents > transcripts.MaxEvents-8 {
		o.MaxEvents = min(DefaultMaxEvents, transcripts.MaxEvents-8)
	}
	if o.ImplicitTLSPorts == nil {
		o.ImplicitTLSPorts = []uint16{465}
	}
	if o.Source == "" {
		o.Source = "capture"
	}
}

// Conversation is what a Decoder learnt of one SMTP (or LMTP) connection.
type Conversation struct {
	Info ConnInfo
	// Start is Info.Start; End is the time of the last call (End).
	Start, End time.Time
	// EndReason is why the connection ended, as Conn.End gave it.
	EndReason string
	// Transcript is the conversation as events; nil unless
	// DecoderOptions.KeepTranscript.
	Transcript *transcripts.Transcript
	// Greeting is the first line of the server's greeting ("220 mx ESMTP").
	Greeting string
	// Helo is the argument of the last HELO, EHLO or LHLO; HeloVerb which.
	Helo     string
	HeloVerb smtp.Verb
	// LMTP is true when the client said LHLO (RFC 2033).
	LMTP bool
	// Pipelining is true when the server's EHLO reply listed PIPELINING.
	Pipelining bool
	// Transactions are the MAIL transactions, in order.
	Transactions []*Transaction
	// Messages are the message bodies sent, accepted or not, in order; each
	// is also its transaction's Message.
	Messages []*Message
	// Creds are the AUTH exchanges, decoded.
	Creds []*Credential
	// Exchanges pair each command with its reply codes, in order (at most
	// 100000; ExchangesDropped counts the rest).
	Exchanges        []Exchange
	ExchangesDropped int
	// TLS is "" (none), "starttls" or "implicit"; TLSClientBytes and
	// TLSServerBytes count the encrypted bytes, which are not decoded.
	TLS                            string
	TLSClientBytes, TLSServerBytes int64
	// ClientBytes and ServerBytes count every byte each way, including
	// encrypted ones.
	ClientBytes, ServerBytes int64
	// Gaps counts the holes in the capture; GapClientBytes and
	// GapServerBytes the bytes lost each way.
	Gaps                           int
	GapClientBytes, GapServerBytes int64
	// Result is the reply to the last message's end of data if a message
	// was sent, else the last reply to a command other than QUIT, else the
	// greeting; "no reply" when the server sent nothing decodable.
	// ResultCode is its code (0 for "no reply").
	Result     string
	ResultCode int
	// Warnings are what looked wrong: unparsable lines, pipelining errors,
	// smuggling-like end-of-data forms, guesses (at most 64;
	// WarningsDropped counts the rest).
	Warnings        []string
	WarningsDropped int
}

// AuthUser returns the user of the first successful AUTH exchange, else of
// the first one, else "".
func (c *Conversation) AuthUser() string {
	for _, cr := range c.Creds {
		if cr.Result == 235 {
			return cr.User
		}
	}
	if len(c.Creds) > 0 {
		return c.Creds[0].User
	}
	return ""
}

// Exchange is one command and the replies to it.
type Exchange struct {
	// Line is the client's line; a SASL response or an AUTH initial
	// response is "<redacted>" (see Credential for what it said).
	Line string
	Verb smtp.Verb // "" for a SASL response or an unknown command
	At   time.Time
	// Codes are the codes of the replies to it: one, or one per accepted
	// recipient for LMTP's end of data (RFC 2033 §4.2); none if unseen.
	Codes []int
}

// Recipient is one RCPT TO and the reply to it.
type Recipient struct {
	Addr string // the forward-path without its angle brackets
	Code int    // the reply code; 0 if unseen
}

// Transaction is one mail transaction: MAIL, RCPTs, and the message.
type Transaction struct {
	MailFrom string // the reverse-path without angle brackets ("" for <>)
	MailCode int
	Rcpts    []Recipient
	// RcptsDropped counts recipients past the 10000 kept.
	RcptsDropped int
	// Method is "DATA" or "BDAT"; DataCode is the reply to DATA (354 when
	// the server accepted the data), 0 for BDAT.
	Method   string
	DataCode int
	// Result is the reply to the end of the data ("." or BDAT LAST), code
	// and text; ResultCode is 0 when it was not seen. For LMTP, Results
	// holds one code per accepted recipient (RFC 2033 §4.2).
	Result     string
	ResultCode int
	Results    []int
	// Message is the message sent, nil if none.
	Message *Message
}

// Message is one message body as the client sent it.
type Message struct {
	// ConvID and Index (1-based in the conversation) name it.
	ConvID, Index int
	Method        string // "DATA" or "BDAT"
	// Data is the message, dot-stuffing undone (RFC 5321 §4.5.2) or BDAT
	// chunks joined (RFC 3030 §2); nil unless DecoderOptions.KeepMessages.
	Data []byte
	// Size counts every byte of the message, kept or not.
	Size int64
	// Truncated says Data holds only the first MaxMessage bytes.
	Truncated bool
	// Complete says the end of data was seen; a message cut by the end of
	// the capture or by a gap is not complete.
	Complete bool
	// GapBytes counts bytes of it the capture lost.
	GapBytes int64
	// Lines counts its lines.
	Lines int64
	// Warnings are bare CR/LF, smuggling-like terminators and long lines.
	Warnings        []string
	WarningsDropped int
	// Transaction is the transaction it belongs to.
	Transaction *Transaction
}

// FileName names the message as smtpsh capture --extract writes it:
// "conv0003-msg01.eml".
func (m *Message) FileName() string {
	return fmt.Sprintf("conv%04d-msg%02d.eml", m.ConvID, m.Index)
}

func (m *Message) warn(format string, args ...any) {
	if len(m.Warnings) >= maxWarnings {
		m.WarningsDropped++
		return
	}
	m.Warnings = append(m.Warnings, fmt.Sprintf(format, args...))
}

// ConversationHandler is a Handler that decodes every connection with a
// Decoder and calls done for each conversation as it ends. done is called
// from the goroutines that deliver the connections, possibly at once.
type ConversationHandler struct {
	Options DecoderOptions
	Done    func(*Conversation)
}

// Open returns a Decoder for the connection.
func (h *ConversationHandler) Open(info ConnInfo) Conn {
	return NewDecoder(info, h.Options, h.Done)
}

func (c *Conversation) warn(format string, args ...any) {
	if len(c.Warnings) >= maxWarnings {
		c.WarningsDropped++
		return
	}
	c.Warnings = append(c.Warnings, fmt.Sprintf(format, args...))
}

// replyString writes a reply's code and first line as Result does.
func replyString(code int, text string) string {
	s := strconv.Itoa(code)
	if text != "" {
		s += " " + text
	}
	return s
}
