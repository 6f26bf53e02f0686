package explain

import (
	"strings"
)

// Keyword is what an EHLO keyword means (RFC 5321 §4.1.1.1: the lines of a
// 250 reply to EHLO after the first).
type Keyword struct {
	Name      string // upper case; "AUTH=" for the old "AUTH=LOGIN" form
	Known     bool
	Reference string
	Meaning   string
	Warning   string // a security note; "" when none
	// Params are the words after the keyword on its EHLO line.
	Params []string
	// Mechanisms explains each parameter of AUTH (and AUTH=).
	Mechanisms []Mechanism
}

// Mechanism is what a SASL mechanism offered after AUTH means (RFC 4954 §3).
type Mechanism struct {
	Name      string
	Known     bool
	Reference string
	Meaning   string
	Warning   string
}

// maxParams bounds how many parameters of one EHLO line are explained.
const maxParams = 64

// Keyword explains one EHLO line: a keyword and its parameters, such as
// "SIZE 35882577" or "AUTH PLAIN LOGIN". Case does not matter (RFC 5321
// §2.4). An unknown keyword gets Known false and a Meaning that says so.
func (kb *KB) Keyword(line string) Keyword {
	f := strings.Fields(line)
	if len(f) == 0 {
		return Keyword{Meaning: "An empty EHLO line names no extension."}
	}
	name := strings.ToUpper(f[0])
	params := f[1:]
	if rest, ok := strings.CutPrefix(name, "AUTH="); ok {
		// The pre-standard form: "AUTH=LOGIN PLAIN".
		name = "AUTH="
		if rest != "" {
			params = append([]string{rest}, params...)
		}
	}
	if len(params) > maxParams {
		params = params[:maxParams]
	}
	k, ok := kb.keywords[name]
	if !ok {
		k = Keyword{Name: name, Meaning: unknownKeyword(name), Reference: "RFC 5321 §2.2.2"}
	}
	k.Params = params
	if name == "AUTH" || name == "AUTH=" {
		for _, p := range params {
			k.Mechanisms = append(k.Mechanisms, kb.Mechanism(p))
		}
	}
	return k
}

func unknownKeyword(name string) string {
	if strings.HasPrefix(name, "X") {
		return "Not a keyword smtpsh knows. Keywords beginning with X are local extensions, used only by agreement between client and server (RFC 5321 §2.2.2)."
	}
	return "Not a keyword smtpsh knows. Standard extensions are registered with IANA (\"SMTP Service Extensions\"); keywords beginning with X are local ones (RFC 5321 §2.2.2)."
}

// Mechanism explains a SASL mechanism name such as "PLAIN" or "SCRAM-SHA-256".
func (kb *KB) Mechanism(name string) Mechanism {
	name = strings.ToUpper(name)
	if m, ok := kb.mechs[name]; ok {
		return m
	}
	return Mechanism{Name: name, Meaning: "Not a SASL mechanism smtpsh knows; IANA's \"SASL Mechanisms\" registry lists the registered ones (RFC 4422 §7.1)."}
}
