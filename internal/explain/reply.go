package explain

import (
	"encoding/base64"
	"fmt"
	"sort"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

// The After values of a Context that are not verbs.
const (
	greeting   = "greeting" // the reply sent on connect, before any command
	anyCommand = "*"        // any command
)

// Greeting is the Verb to pass to KB.Reply for the reply a server sends on
// connect (RFC 5321 §3.1), which answers no command.
const Greeting smtp.Verb = ""

// ReplyCode is what a basic reply code means (RFC 5321 §4.2).
type ReplyCode struct {
	Code int
	// Defined is false for a code no RFC in the data defines, such as 599;
	// Meaning then explains its digits.
	Defined   bool
	Text      string // the defining RFC's own short text; "" when not Defined
	Meaning   string // in plain words for a learner
	Reference string // "RFC 5321 §4.2.3"
	Class     Digit  // the first digit (RFC 5321 §4.2.1)
	Category  Digit  // the second digit (RFC 5321 §4.2.1)
}

// Context is what a reply code means after one command.
type Context struct {
	Code int
	// After is the command verb the reply answers, "greeting" for the
	// reply sent on connect, or "*" for any command.
	After     string
	Meaning   string
	Reference string
}

// SASLChallenge is the decoded text of a 334 reply to AUTH (RFC 4954 §4):
// base64 on the wire, often "Username:" or a server nonce once decoded.
type SASLChallenge struct {
	Base64 string
	// Decoded is the challenge as the server sent it. It comes from the
	// network: escape it before showing it.
	Decoded string
	// Err is set when the text is not valid base64 (RFC 4648 §4).
	Err error
}

// Explanation is what one reply means in its place in the conversation.
type Explanation struct {
	Code     ReplyCode
	After    smtp.Verb       // the verb the reply answers; Greeting for the greeting
	Context  *Context        // the meaning after that command; nil when the general one applies
	Enhanced *EnhancedStatus // nil when the reply carries no enhanced code
	// Challenge is set for a 334 reply to AUTH.
	Challenge *SASLChallenge
	// Summary is one line in our own words: the in-context meaning if
	// there is one, else the code's general meaning. It holds no text
	// from the network.
	Summary string
}

// maxChallenge bounds the base64 text decoded from a 334 reply, so a hostile
// server cannot make us hold more than a reply line's worth.
const maxChallenge = 8192

// Code explains a basic reply code. Codes no RFC defines, such as 599, are
// explained by their digits; a number outside 200–599 gets Defined false and
// the digit meanings that exist.
func (kb *KB) Code(code int) ReplyCode {
	if rc, ok := kb.codes[code]; ok {
		rc.Class, rc.Category = kb.replyDigits(code)
		return rc
	}
	rc := ReplyCode{Code: code}
	rc.Class, rc.Category = kb.replyDigits(code)
	if code < 200 || code > 599 {
		rc.Meaning = fmt.Sprintf("%d is not an SMTP reply code: they have three digits and start with 2, 3, 4 or 5 (RFC 5321 §4.2).", code)
		rc.Reference = "RFC 5321 §4.2"
		return rc
	}
	rc.Meaning = fmt.Sprintf("Not defined by the RFCs. Its digits say: %dyz is %s, %s; x%dz is %s.",
		code/100, rc.Class.Name, rc.Class.Meaning, code/10%10, categoryPhrase(rc.Category))
	rc.Reference = "RFC 5321 §4.2.1"
	return rc
}

func categoryPhrase(d Digit) string {
	if d.Name == "" {
		return "not a category RFC 5321 defines (its grammar allows 0 to 5 as the second digit)"
	}
	return fmt.Sprintf("the %q category: %s", d.Name, d.Meaning)
}

func (kb *KB) replyDigits(code int) (class, category Digit) {
	class = kb.classes[code/100]
	category, ok := kb.categories[code/10%10]
	if !ok {
		category = Digit{Value: code / 10 % 10}
	}
	return class, category
}

// Contexts lists what code means after each command the data covers,
// greeting first, then verbs in alphabetical order, then "*".
func (kb *KB) Contexts(code int) []Context {
	var cs []Context
	for k, c := range kb.contexts {
		if k.code == code {
			cs = append(cs, c)
		}
	}
	rank := func(a string) int {
		switch a {
		case greeting:
			return 0
		case anyCommand:
			return 2
		}
		return 1
	}
	sort.Slice(cs, func(i, j int) bool {
		if ri, rj := rank(cs[i].After), rank(cs[j].After); ri != rj {
			return ri < rj
		}
		return cs[i].After < cs[j].After
	})
	return cs
}

// context finds the most specific meaning of code after verb: the verb's
// own row, then the row for any command.
func (kb *KB) context(code int, after smtp.Verb) *Context {
	key := string(after)
	if after == Greeting {
		key = greeting
	}
	for _, k := range []string{key, anyCommand} {
		if c, ok := kb.contexts[contextKey{code, k}]; ok {
			return &c
		}
	}
	return nil
}

// Reply explains one reply line in context: after is the verb of the command
// it answers, or Greeting for the greeting. For a multi-line reply pass its
// last line (or any: they share the code). The shell prints Summary after
// each reply.
func (kb *KB) Reply(line smtp.ReplyLine, after smtp.Verb) Explanation {
	e := Explanation{Code: kb.Code(line.Code), After: after, Context: kb.context(line.Code, after)}
	if !line.Enhanced.IsZero() {
		es := kb.Enhanced(line.Enhanced)
		e.Enhanced = &es
	}
	if line.Code == 334 && after == smtp.AUTH {
		e.Challenge = decodeChallenge(line.Text)
	}
	e.Summary = e.Code.Meaning
	if e.Context != nil {
		e.Summary = e.Context.Meaning
	}
	return e
}

func decodeChallenge(text string) *SASLChallenge {
	ch := &SASLChallenge{Base64: text}
	if len(text) > maxChallenge {
		ch.Err = fmt.Errorf("challenge is %d bytes, longer than the %d smtpsh decodes", len(text), maxChallenge)
		return ch
	}
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		ch.Err = fmt.Errorf("not valid base64: %w", err)
		return ch
	}
	ch.Decoded = string(b)
	return ch
}
