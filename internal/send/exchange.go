package send

import (
	"strconv"
	"strings"

	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// endOfData is the verb Exchanges gives the "." line that ends DATA's
// text (RFC 5321 §4.1.1.4): it is answered like a command.
const endOfData smtp.Verb = "."

// maxReplyLines bounds the lines kept of one reply; a server may send
// many (the shell bounds them too).
const maxReplyLines = 100

// maxRecipients bounds the recipients an LMTP end of data is expected to
// answer for, as the shell does; RFC 5321 §4.5.3.1.8 asks servers to take
// at least 100.
const maxRecipients = 10000

// Exchange is one client line and the reply it got: a command, a SASL
// response, the "." that ends DATA, or (Command "") the greeting or a
// reply nobody asked for. In LMTP the end of the message gets one reply
// per accepted recipient (RFC 2033 §4.2): one Exchange each, with the same
// Command and the Recipient it answers for.
type Exchange struct {
	// Command is the line as sent (as recorded: AUTH secrets are in it
	// unless the events were redacted first).
	Command string `json:"command"`
	// Verb is the command's verb; AUTH for a SASL response, "." for the
	// end of DATA, "" for the greeting.
	Verb smtp.Verb `json:"verb"`
	// Code is the reply code; 0 when no whole reply came.
	Code int `json:"code"`
	// Reply holds the reply's lines as received.
	Reply []string `json:"reply"`
	// Recipient is, in LMTP, the recipient this reply to the end of the
	// message is for.
	Recipient string `json:"recipient,omitempty"`
	// Phase is the phase the exchange belongs to.
	Phase Phase `json:"-"`
	done  bool
	// client: a client line, not the greeting, a reply nobody asked for,
	// or LMTP's second and later replies to one end of data.
	client bool
}

// Exchanges pairs each client line of events with the reply it got, in
// order (RFC 5321 §4.2: one reply per command, RFC 2920 §3.1 keeps that
// order when commands are pipelined). A connection starts with the
// greeting, which answers nothing. Message text (Data events) gets no
// reply of its own: the "." after it does.
//
// A session that greeted with LHLO speaks LMTP (RFC 2033 §4.1: LHLO
// exists only there), where the end of the message ("." or BDAT LAST)
// gets one reply per recipient accepted since MAIL, in RCPT order (§4.2).
func Exchanges(events []transcripts.Event) []Exchange {
	var xs []Exchange
	next := 0 // the first exchange still waiting for its reply
	lmtp := false
	var accepted []string // LMTP: recipients accepted in this transaction
	for _, e := range events {
		switch e.Kind {
		case transcripts.Connect:
			next = len(xs)
			xs = append(xs, Exchange{Phase: PhaseBanner})
			lmtp, accepted = false, nil
		case transcripts.Client:
			verb, _ := smtp.SplitVerb(e.Text)
			switch {
			case e.Text == ".":
				verb = endOfData
			case sasl(xs):
				verb = smtp.AUTH // a response to a 334 (RFC 4954 §4)
			}
			phase := phaseOf(verb)
			if verb == "" {
				phase = PhaseNone // an empty line is no greeting
			}
			switch verb {
			case smtp.LHLO:
				lmtp = true
				accepted = nil
			case smtp.MAIL, smtp.RSET, smtp.EHLO, smtp.HELO:
				accepted = nil // a new transaction (RFC 5321 §4.1.1.2, §4.1.1.5)
			}
			if lmtp && len(accepted) > 0 && (verb == endOfData || verb == smtp.BDAT && bdatLast(e.Text)) {
				for i, r := range accepted {
					xs = append(xs, Exchange{Command: e.Text, Verb: verb, Phase: phase, Recipient: r, client: i == 0})
				}
				accepted = nil
				continue
			}
			xs = append(xs, Exchange{Command: e.Text, Verb: verb, Phase: phase, client: true})
		case transcripts.Server:
			for next < len(xs) && xs[next].done {
				next++
			}
			if next == len(xs) {
				// A reply nobody asked for: a 421 before closing (RFC
				// 5321 §3.8).
				xs = append(xs, Exchange{Phase: PhaseNone})
			}
			x := &xs[next]
			if len(x.Reply) < maxReplyLines {
				x.Reply = append(x.Reply, e.Text)
			}
			if rl, err := smtp.ParseReplyLine(e.Text); err == nil && !rl.More {
				x.Code, x.done = rl.Code, true
			} else if err != nil && (len(e.Text) < 4 || e.Text[3] != '-') {
				// An unreadable line ends the reply as the shell's
				// reader does; its code is kept when it has one.
				x.Code, x.done = leadingCode(e.Text), true
			}
			if x.done && lmtp && x.Verb == smtp.RCPT && x.Code/100 == 2 && len(accepted) < maxRecipients {
				accepted = append(accepted, forwardPath(x.Command))
			}
		}
	}
	return xs
}

// bdatLast reports whether a BDAT command carries LAST, the end of the
// message (RFC 3030 §2: "BDAT" SP chunk-size [ SP end-marker ]).
func bdatLast(line string) bool {
	f := strings.Fields(line)
	return len(f) == 3 && strings.EqualFold(f[2], "LAST")
}

// forwardPath returns the mailbox of a RCPT TO command, or the command's
// argument when it does not parse (the server accepted it all the same).
func forwardPath(line string) string {
	_, rest := smtp.SplitVerb(line)
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		rest = rest[i+1:]
	}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "<") {
		if j := strings.IndexByte(rest, '>'); j > 0 {
			return rest[1:j]
		}
	}
	if f := strings.Fields(rest); len(f) > 0 {
		return f[0]
	}
	return rest
}

// sasl reports whether the last exchange asked for a SASL response: the
// last reply is a 334 to AUTH or to an earlier response.
func sasl(xs []Exchange) bool {
	if len(xs) == 0 {
		return false
	}
	x := xs[len(xs)-1]
	return x.Verb == smtp.AUTH && x.Code == 334
}

// leadingCode returns the three-digit code a line starts with, or 0.
func leadingCode(line string) int {
	if len(line) < 3 {
		return 0
	}
	n, err := strconv.Atoi(line[:3])
	if err != nil || n < 100 || n > 599 {
		return 0
	}
	return n
}

// acceptable reports whether x's reply lets the session go on: 2xx, or the
// 3xx a command asks for (354 to DATA, 334 to AUTH).
func acceptable(x Exchange) bool {
	switch {
	case x.Code/100 == 2:
		return true
	case x.Verb == smtp.DATA:
		return x.Code == 354
	case x.Verb == smtp.AUTH:
		return x.Code == 334
	}
	return false
}
