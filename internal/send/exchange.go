package send

import (
	"strconv"

	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// endOfData is the verb Exchanges gives the "." line that ends DATA's
// text (RFC 5321 §4.1.1.4): it is answered like a command.
const endOfData smtp.Verb = "."

// maxReplyLines bounds the lines kept of one reply; a server may send
// many (the shell bounds them too).
const maxReplyLines = 100

// Exchange is one client line and the reply it got: a command, a SASL
// response, the "." that ends DATA, or (Command "") the greeting or a
// reply nobody asked for.
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
	// Phase is the phase the exchange belongs to.
	Phase Phase `json:"-"`
	done  bool
	// client: a client line, not the greeting or a reply nobody asked
	// for.
	client bool
}

// Exchanges pairs each client line of events with the reply it got, in
// order (RFC 5321 §4.2: one reply per command, RFC 2920 §3.1 keeps that
// order when commands are pipelined). A connection starts with the
// greeting, which answers nothing. Message text (Data events) gets no
// reply of its own: the "." after it does.
func Exchanges(events []transcripts.Event) []Exchange {
	var xs []Exchange
	next := 0 // the first exchange still waiting for its reply
	for _, e := range events {
		switch e.Kind {
		case transcripts.Connect:
			next = len(xs)
			xs = append(xs, Exchange{Phase: PhaseBanner})
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
		}
	}
	return xs
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
