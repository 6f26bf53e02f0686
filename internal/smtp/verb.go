package smtp

import "strings"

// Verb is an SMTP command verb, always in upper case.
type Verb string

// The verbs of RFC 5321 §4.1 and of the extensions smtpsh knows.
const (
	HELO     Verb = "HELO"
	EHLO     Verb = "EHLO"
	MAIL     Verb = "MAIL"
	RCPT     Verb = "RCPT"
	DATA     Verb = "DATA"
	RSET     Verb = "RSET"
	VRFY     Verb = "VRFY"
	EXPN     Verb = "EXPN"
	HELP     Verb = "HELP"
	NOOP     Verb = "NOOP"
	QUIT     Verb = "QUIT"
	STARTTLS Verb = "STARTTLS" // RFC 3207
	AUTH     Verb = "AUTH"     // RFC 4954
	BDAT     Verb = "BDAT"     // RFC 3030
	ETRN     Verb = "ETRN"     // RFC 1985
	ATRN     Verb = "ATRN"     // RFC 2645
	LHLO     Verb = "LHLO"     // RFC 2033 (LMTP)
	XCLIENT  Verb = "XCLIENT"  // Postfix extension
	XFORWARD Verb = "XFORWARD" // Postfix extension
	// Obsolete RFC 821 verbs, recognised so they can be named as such.
	SEND Verb = "SEND"
	SOML Verb = "SOML"
	SAML Verb = "SAML"
	TURN Verb = "TURN"
)

// Verbs lists every verb smtpsh recognises, in RFC 5321 order then extensions.
var Verbs = []Verb{HELO, EHLO, MAIL, RCPT, DATA, RSET, VRFY, EXPN, HELP, NOOP, QUIT,
	STARTTLS, AUTH, BDAT, ETRN, ATRN, LHLO, XCLIENT, XFORWARD, SEND, SOML, SAML, TURN}

// Known reports whether v is one of Verbs.
func (v Verb) Known() bool {
	for _, k := range Verbs {
		if v == k {
			return true
		}
	}
	return false
}

// Obsolete reports whether v is an RFC 821 verb that RFC 5321 removed.
func (v Verb) Obsolete() bool {
	switch v {
	case SEND, SOML, SAML, TURN:
		return true
	}
	return false
}

// SplitVerb splits a command line (without its CRLF) into its verb, upper-cased,
// and the rest after the single space that follows it. It does not validate
// anything: ParseCommand does. An empty line gives an empty verb.
func SplitVerb(line string) (verb Verb, rest string) {
	v, rest, _ := strings.Cut(line, " ")
	return Verb(strings.ToUpper(v)), rest
}
