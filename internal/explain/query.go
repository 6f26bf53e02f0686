package explain

import (
	"fmt"
	"strings"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

// Answer is everything known about one query of `smtpsh explain`. Fields
// that do not apply are nil or empty.
type Answer struct {
	Query string
	// Line is the parsed reply when the query was a whole reply line; its
	// Text is the server's, to be escaped before display.
	Line *smtp.ReplyLine
	// Code explains a basic reply code, and Contexts what it means after
	// each command.
	Code     *ReplyCode
	Contexts []Context
	// Enhanced explains an enhanced status code. For a query such as
	// "X.7.1" its Code.Class is 0 and EnhancedClasses lists the meaning of
	// each class, 2, 4 and 5.
	Enhanced        *EnhancedStatus
	EnhancedClasses []Digit
	Keyword         *Keyword
	Mechanism       *Mechanism
}

// QueryError says why a query could not be answered and what is accepted.
type QueryError struct {
	Query string // the query, possibly cut short
	Msg   string
	Err   error // the underlying *smtp.SyntaxError, if any
}

// Accepted describes the forms Query accepts, for error and help texts.
const Accepted = `a reply code (550), an enhanced status code (5.7.1, or X.7.1 for every class), ` +
	`a whole reply line ("550 5.7.1 Relay access denied") or an EHLO keyword or SASL mechanism (PIPELINING, CRAM-MD5)`

func (e *QueryError) Error() string {
	s := fmt.Sprintf("cannot explain %q: %s", e.Query, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s + "; give " + Accepted
}

func (e *QueryError) Unwrap() error { return e.Err }

// maxQuery bounds a query; RFC 5321 §4.5.3.1.5 limits a reply line to 512
// octets, so anything longer is not one.
const maxQuery = 1000

// Query answers one argument of `smtpsh explain`: a reply code ("550",
// "599"), an enhanced status code ("5.7.1", "X.7.1"), a whole reply line
// ("550 5.7.1 Relay access denied", "250-PIPELINING"), an EHLO line
// ("PIPELINING", "auth plain login") or a SASL mechanism ("CRAM-MD5").
// Leading and trailing spaces are ignored. Anything else is a *QueryError.
func (kb *KB) Query(arg string) (Answer, error) {
	q := strings.TrimSpace(arg)
	fail := func(msg string, err error) (Answer, error) {
		shown := q
		if len(shown) > 80 {
			shown = shown[:80] + "…"
		}
		return Answer{}, &QueryError{Query: shown, Msg: msg, Err: err}
	}
	switch {
	case q == "":
		return fail("empty query", nil)
	case len(q) > maxQuery:
		return fail(fmt.Sprintf("%d bytes is longer than any reply line", len(q)), nil)
	case len(q) >= 3 && isDigits(q[:3]) && (len(q) == 3 || q[3] == ' ' || q[3] == '-'):
		return kb.queryReply(q, fail)
	case len(q) >= 2 && q[1] == '.' && (isDigits(q[:1]) || q[0] == 'X' || q[0] == 'x'):
		return kb.queryEnhanced(q, fail)
	}
	return kb.queryWord(q, fail)
}

type failFunc func(msg string, err error) (Answer, error)

func (kb *KB) queryReply(q string, fail failFunc) (Answer, error) {
	if len(q) == 3 {
		if q[0] < '2' || q[0] > '5' {
			return fail("reply codes start with 2, 3, 4 or 5 (RFC 5321 §4.2.1)", nil)
		}
		// Any second digit is explained, so "599" gets an answer.
		code := int(q[0]-'0')*100 + int(q[1]-'0')*10 + int(q[2]-'0')
		rc := kb.Code(code)
		return Answer{Query: q, Code: &rc, Contexts: kb.Contexts(code)}, nil
	}
	rl, err := smtp.ParseReplyLine(q)
	if err != nil {
		return fail("not a valid reply line", err)
	}
	rc := kb.Code(rl.Code)
	a := Answer{Query: q, Line: &rl, Code: &rc, Contexts: kb.Contexts(rl.Code)}
	if !rl.Enhanced.IsZero() {
		es := kb.Enhanced(rl.Enhanced)
		a.Enhanced = &es
	}
	if rl.Code == 250 {
		// A line of an EHLO reply: "250-PIPELINING".
		if k := kb.Keyword(rl.Text); k.Known {
			a.Keyword = &k
		}
	}
	return a, nil
}

func (kb *KB) queryEnhanced(q string, fail failFunc) (Answer, error) {
	all := q[0] == 'X' || q[0] == 'x'
	s := q
	if all {
		// Parse with a stand-in class; the column of any error is the same.
		s = "2" + q[1:]
	}
	c, err := smtp.ParseEnhancedCode(s)
	if err != nil {
		return fail("not a valid enhanced status code", err)
	}
	a := Answer{Query: q}
	if all {
		c.Class = 0
		for _, d := range []int{2, 4, 5} {
			a.EnhancedClasses = append(a.EnhancedClasses, kb.encClasses[d])
		}
	}
	es := kb.Enhanced(c)
	a.Enhanced = &es
	return a, nil
}

func (kb *KB) queryWord(q string, fail failFunc) (Answer, error) {
	word := strings.ToUpper(strings.Fields(q)[0])
	if name, _, ok := strings.Cut(word, "="); ok && name == "AUTH" {
		word = "AUTH="
	}
	if _, ok := kb.keywords[word]; ok {
		k := kb.Keyword(q)
		return Answer{Query: q, Keyword: &k}, nil
	}
	if m := kb.Mechanism(word); m.Known && !strings.ContainsAny(q, " \t") {
		return Answer{Query: q, Mechanism: &m}, nil
	}
	if word[0] == 'X' && isKeyword(word) {
		k := kb.Keyword(q)
		return Answer{Query: q, Keyword: &k}, nil
	}
	if isKeyword(word) {
		return fail("not an EHLO keyword or SASL mechanism smtpsh knows (keywords starting with X are private extensions)", nil)
	}
	return fail("not a code, reply line or keyword", nil)
}

// isKeyword reports whether s is an ehlo-keyword (RFC 5321 §4.1.1.1):
// (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
func isKeyword(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '-') {
			return false
		}
	}
	return s != ""
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
