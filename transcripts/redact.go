package transcripts

import (
	"strings"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

// Redact returns a copy of t with its secrets replaced by "<redacted>" and
// those events marked Redacted. Write and WriteJSONL call it unless told to
// keep secrets. It works on events alone, so it treats a live session, a
// decoded capture and a lesson the same way:
//
//   - The initial response of "AUTH mechanism initial-response" (RFC 4954 §4)
//     becomes "AUTH PLAIN <redacted>": the mechanism stays, because it is
//     what a reader needs to follow the exchange. An initial response of
//     "=" (empty, RFC 4954 §4) is kept: it hides nothing.
//   - The one client line after each 334 reply is a SASL response (RFC 4954
//     §4: the client answers every challenge with one line) and becomes
//     "<redacted>", unless it is "*", which cancels the exchange and is kept.
//     A server reply other than 334 before the client answers ends the
//     exchange, so nothing more is redacted.
//
// Server lines are never redacted: a 334 challenge is the server's ("Username:"
// for LOGIN, a nonce for CRAM-MD5) and teaches how the mechanism works. Lines
// pipelined after an AUTH with an initial response (RFC 2920) are sent before
// any 334 and are not redacted. Redact is idempotent.
func Redact(t *Transcript) *Transcript {
	c := t.Clone()
	answering := false // the next client line answers a 334 challenge
	for i := range c.Events {
		e := &c.Events[i]
		switch e.Kind {
		case Server:
			rl, err := smtp.ParseReplyLine(e.Text)
			if err != nil || rl.More {
				continue // only a reply's last line decides (RFC 5321 §4.2.1)
			}
			answering = rl.Code == 334
		case Client:
			if answering {
				answering = false
				if e.Text != "*" {
					e.Text, e.Redacted = redactedMark, true
				}
				continue
			}
			e.Text, e.Redacted = redactAuth(e.Text, e.Redacted)
		}
	}
	return c
}

// redactAuth hides the initial response of an AUTH command, keeping the
// verb and mechanism as they were typed.
func redactAuth(line string, redacted bool) (string, bool) {
	verb, rest := smtp.SplitVerb(line)
	if verb != smtp.AUTH {
		return line, redacted
	}
	_, ir, ok := strings.Cut(rest, " ")
	if !ok || ir == "" || ir == "=" {
		return line, redacted
	}
	out := line[:len(line)-len(ir)] + redactedMark
	if !redactedForm(out) || len(out) > MaxTextBytes {
		// The mechanism itself holds bytes that cannot be written raw,
		// or the line is at the limit: hide the whole line rather than
		// mark something Parse would not recognise or could not read.
		out = redactedMark
	}
	return out, true
}

// MarkData turns the Client lines sent as message content into Data events:
// those after a 354 reply (RFC 5321 §4.3.2: 354 answers only DATA) up to
// the "." line that ends the data (RFC 5321 §4.1.1.4), which stays a Client
// line because the server replies to it. It is for transcripts written by
// hand in RFC notation, where every client line is "C:"; a transcript that
// smtpsh recorded already has its Data events.
func (t *Transcript) MarkData() {
	inData := false
	for i := range t.Events {
		e := &t.Events[i]
		switch e.Kind {
		case Server:
			if rl, err := smtp.ParseReplyLine(e.Text); err == nil && !rl.More {
				inData = rl.Code == 354
			}
		case Client:
			if !inData {
				continue
			}
			if e.Text == "." {
				inData = false
				continue
			}
			e.Kind = Data
			e.Redacted = false
		}
	}
}
