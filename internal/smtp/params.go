package smtp

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Param is one ESMTP parameter of a MAIL or RCPT command (RFC 5321 §4.1.2):
//
//	esmtp-param   = esmtp-keyword ["=" esmtp-value]
//	esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
//	esmtp-value   = 1*(%d33-60 / %d62-126)
//
// RFC 6531 §3.3 adds UTF8-non-ascii to esmtp-value in SMTPUTF8 transactions.
type Param struct {
	// Keyword is upper-cased: keywords are case-insensitive.
	Keyword string
	// Value is as written; "" when the parameter has none (a present
	// value is never empty).
	Value string
}

// String formats the parameter as "KEYWORD" or "KEYWORD=value".
func (p Param) String() string {
	if p.Value == "" {
		return p.Keyword
	}
	return p.Keyword + "=" + p.Value
}

// Known reports whether the keyword is one smtpsh knows (SIZE, BODY, …).
// An unknown parameter is well-formed but a server that does not recognise
// it answers 555 (RFC 5321 §4.1.1.11).
func (p Param) Known() bool {
	_, ok := knownParam(p.Keyword)
	return ok
}

// Params is the ordered list of a command's ESMTP parameters. The typed
// accessors read the values the parser validated; on a list built by hand
// they report ok=false for a value that does not parse.
type Params []Param

// Get returns the parameter with the keyword, compared case-insensitively.
func (ps Params) Get(keyword string) (Param, bool) {
	for _, p := range ps {
		if strings.EqualFold(p.Keyword, keyword) {
			return p, true
		}
	}
	return Param{}, false
}

// Has reports whether the keyword is present.
func (ps Params) Has(keyword string) bool {
	_, ok := ps.Get(keyword)
	return ok
}

// String formats the parameters separated by single spaces.
func (ps Params) String() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p.Keyword)
		if p.Value != "" {
			b.WriteByte('=')
			b.WriteString(p.Value)
		}
	}
	return b.String()
}

// Size returns the SIZE declared on MAIL (RFC 1870 §3: size-value = 1*20DIGIT).
func (ps Params) Size() (uint64, bool) {
	p, ok := ps.Get("SIZE")
	if !ok || !allDigits(p.Value) {
		return 0, false
	}
	n, err := strconv.ParseUint(p.Value, 10, 64)
	return n, err == nil
}

// Body returns the BODY value upper-cased: "7BIT", "8BITMIME" (RFC 6152
// §2) or "BINARYMIME" (RFC 3030 §3).
func (ps Params) Body() (string, bool) {
	p, ok := ps.Get("BODY")
	if !ok {
		return "", false
	}
	return oneOfFold(p.Value, "7BIT", "8BITMIME", "BINARYMIME")
}

// SMTPUTF8 reports whether the MAIL command asked for an SMTPUTF8
// transaction (RFC 6531 §3.4).
func (ps Params) SMTPUTF8() bool { return ps.Has("SMTPUTF8") }

// RequireTLS reports whether the MAIL command carried REQUIRETLS (RFC 8689 §4.1).
func (ps Params) RequireTLS() bool { return ps.Has("REQUIRETLS") }

// Ret returns the RET value upper-cased, "FULL" or "HDRS" (RFC 3461 §4.3).
func (ps Params) Ret() (string, bool) {
	p, ok := ps.Get("RET")
	if !ok {
		return "", false
	}
	return oneOfFold(p.Value, "FULL", "HDRS")
}

// EnvID returns the decoded ENVID (RFC 3461 §4.4).
func (ps Params) EnvID() (string, bool) {
	p, ok := ps.Get("ENVID")
	if !ok {
		return "", false
	}
	v, err := DecodeXtext(p.Value)
	return v, err == nil
}

// Auth returns the decoded AUTH parameter of MAIL (RFC 4954 §5): a mailbox,
// or "<>" when the submitter is unknown.
func (ps Params) Auth() (string, bool) {
	p, ok := ps.Get("AUTH")
	if !ok {
		return "", false
	}
	v, err := DecodeXtext(p.Value)
	return v, err == nil
}

// MTPriority returns the MT-PRIORITY value, -9 to 9 (RFC 6710 §3).
func (ps Params) MTPriority() (int, bool) {
	p, ok := ps.Get("MT-PRIORITY")
	if !ok {
		return 0, false
	}
	n, ok := parsePriority(p.Value)
	return n, ok
}

// Notify is the set of conditions of a NOTIFY parameter (RFC 3461 §4.1).
type Notify uint8

// The NOTIFY conditions. NotifyNever is never combined with the others.
const (
	NotifyNever Notify = 1 << iota
	NotifySuccess
	NotifyFailure
	NotifyDelay
)

// String formats the set as its parameter value, e.g. "SUCCESS,FAILURE".
func (n Notify) String() string {
	var parts []string
	for _, f := range [...]struct {
		bit  Notify
		name string
	}{{NotifyNever, "NEVER"}, {NotifySuccess, "SUCCESS"}, {NotifyFailure, "FAILURE"}, {NotifyDelay, "DELAY"}} {
		if n&f.bit != 0 {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, ",")
}

// Notify returns the NOTIFY conditions of RCPT (RFC 3461 §4.1).
func (ps Params) Notify() (Notify, bool) {
	p, ok := ps.Get("NOTIFY")
	if !ok {
		return 0, false
	}
	n, bad, _ := parseNotify(p.Value)
	return n, bad < 0
}

// ORCPT returns the address type (e.g. "rfc822") and the decoded original
// recipient of RCPT (RFC 3461 §4.2: orcpt-parameter = "ORCPT="
// addr-type ";" xtext).
func (ps Params) ORCPT() (addrType, addr string, ok bool) {
	p, ok := ps.Get("ORCPT")
	if !ok {
		return "", "", false
	}
	addrType, x, ok := strings.Cut(p.Value, ";")
	if !ok || addrType == "" {
		return "", "", false
	}
	if i, _ := xtextError(x, true); i >= 0 {
		return "", "", false
	}
	return addrType, decodeXtext(x), true
}

// DecodeXtext decodes RFC 3461 §4 xtext:
//
//	xtext   = *( xchar / hexchar )
//	xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive,
//	          except for "+" and "="
//	hexchar = ASCII "+" immediately followed by two upper case
//	          hexadecimal digits
//
// It returns a *SyntaxError (What "xtext") at the first byte outside that
// grammar, lower-case hex digits included.
func DecodeXtext(s string) (string, error) {
	if i, msg := xtextError(s, false); i >= 0 {
		return "", syntaxErr("xtext", i+1, "%s", msg)
	}
	return decodeXtext(s), nil
}

// EncodeXtext encodes s as RFC 3461 §4 xtext: "+", "=", and every byte
// outside "!" to "~" become "+XX" with upper-case hex digits.
func EncodeXtext(s string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !xcharByte(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		if c := s[i]; xcharByte(c) {
			b = append(b, c)
		} else {
			b = append(b, '+', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

// xcharByte is RFC 3461 §4 xchar.
func xcharByte(c byte) bool { return c >= '!' && c <= '~' && c != '+' && c != '=' }

func upperHexByte(c byte) bool { return digitByte(c) || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

// xtextError returns the index of the first byte of s that is not xtext,
// and why; -1 when s is xtext. With utf8 set, valid UTF-8 passes as it
// does in RFC 6533 §3 utf-8-addr-xtext.
func xtextError(s string, utf8ok bool) (int, string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			if i+2 >= len(s) || !upperHexByte(s[i+1]) || !upperHexByte(s[i+2]) {
				return i, "'+' must be followed by two upper-case hex digits"
			}
			i += 2
		case xcharByte(c):
		case c >= utf8.RuneSelf && utf8ok:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n <= 1 {
				return i, "invalid UTF-8"
			}
			i += n - 1
		case c == '=':
			return i, "'=' must be written +3D in xtext"
		default:
			return i, quoteByte(c) + " must be written as +XX in xtext"
		}
	}
	return -1, ""
}

// decodeXtext decodes s, which xtextError has accepted.
func decodeXtext(s string) string {
	i := strings.IndexByte(s, '+')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		if s[i] == '+' && i+2 < len(s) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

// oneOfFold returns the candidate equal to v ignoring case.
func oneOfFold(v string, candidates ...string) (string, bool) {
	for _, c := range candidates {
		if strings.EqualFold(v, c) {
			return c, true
		}
	}
	return "", false
}

// parsePriority parses RFC 6710 §3 priority-value = [ "+" / "-" ] DIGIT,
// of which -9 to 9 are meaningful.
func parsePriority(v string) (int, bool) {
	sign := 1
	if v != "" && (v[0] == '+' || v[0] == '-') {
		if v[0] == '-' {
			sign = -1
		}
		v = v[1:]
	}
	if len(v) != 1 || !digitByte(v[0]) {
		return 0, false
	}
	return sign * int(v[0]-'0'), true
}

// parseNotify parses RFC 3461 §4.1:
//
//	notify-esmtp-value  = "NEVER" / 1#notify-list-element
//	notify-list-element = "SUCCESS" / "FAILURE" / "DELAY"
//
// It returns the index of the first bad byte (-1 if none) and why.
func parseNotify(v string) (Notify, int, string) {
	var n Notify
	for i := 0; ; {
		j := strings.IndexByte(v[i:], ',')
		if j < 0 {
			j = len(v)
		} else {
			j += i
		}
		var bit Notify
		switch elem := v[i:j]; {
		case strings.EqualFold(elem, "NEVER"):
			bit = NotifyNever
		case strings.EqualFold(elem, "SUCCESS"):
			bit = NotifySuccess
		case strings.EqualFold(elem, "FAILURE"):
			bit = NotifyFailure
		case strings.EqualFold(elem, "DELAY"):
			bit = NotifyDelay
		default:
			return 0, i, "NOTIFY takes NEVER or a comma-separated list of SUCCESS, FAILURE and DELAY"
		}
		if n&bit != 0 {
			return 0, i, v[i:j] + " is listed twice in NOTIFY"
		}
		n |= bit
		if n&NotifyNever != 0 && n != NotifyNever {
			return 0, i, "NOTIFY=NEVER cannot be combined with other conditions (RFC 3461 §4.1)"
		}
		if j == len(v) {
			return n, -1, ""
		}
		i = j + 1
	}
}

// Limits on DSN parameter values.
const (
	maxENVIDLength = 100 // RFC 3461 §4.4
	maxORCPTLength = 500 // RFC 3461 §4.2
)

// paramRule says on which verb a known parameter belongs and whether it
// takes a value.
type paramRule struct {
	keyword string // canonical, upper-case
	verb    Verb   // MAIL or RCPT
	value   bool   // a value is required (false: none allowed)
	rfc     string // where it is defined
}

// knownParam finds the rule for a keyword, compared case-insensitively.
// It is a switch, not a map, so that there is no package state.
func knownParam(kw string) (paramRule, bool) {
	switch {
	case strings.EqualFold(kw, "SIZE"):
		return paramRule{"SIZE", MAIL, true, "RFC 1870"}, true
	case strings.EqualFold(kw, "BODY"):
		return paramRule{"BODY", MAIL, true, "RFC 6152"}, true
	case strings.EqualFold(kw, "SMTPUTF8"):
		return paramRule{"SMTPUTF8", MAIL, false, "RFC 6531"}, true
	case strings.EqualFold(kw, "RET"):
		return paramRule{"RET", MAIL, true, "RFC 3461"}, true
	case strings.EqualFold(kw, "ENVID"):
		return paramRule{"ENVID", MAIL, true, "RFC 3461"}, true
	case strings.EqualFold(kw, "AUTH"):
		return paramRule{"AUTH", MAIL, true, "RFC 4954"}, true
	case strings.EqualFold(kw, "REQUIRETLS"):
		return paramRule{"REQUIRETLS", MAIL, false, "RFC 8689"}, true
	case strings.EqualFold(kw, "MT-PRIORITY"):
		return paramRule{"MT-PRIORITY", MAIL, true, "RFC 6710"}, true
	case strings.EqualFold(kw, "NOTIFY"):
		return paramRule{"NOTIFY", RCPT, true, "RFC 3461"}, true
	case strings.EqualFold(kw, "ORCPT"):
		return paramRule{"ORCPT", RCPT, true, "RFC 3461"}, true
	}
	return paramRule{}, false
}

// params parses Mail-parameters or Rcpt-parameters starting at i, which
// holds the first keyword, to the end of the line, appending to dst.
func (s *scanner) params(i int, verb Verb, dst Params) (Params, error) {
	line := s.line
	for i < len(line) {
		start := i
		if !letDigByte(line[i]) {
			return dst, s.errAt(i, "expected an ESMTP parameter keyword (a letter or digit), found %s", quoteByte(line[i]))
		}
		for i < len(line) && (letDigByte(line[i]) || line[i] == '-') {
			i++
		}
		kw := line[start:i]
		var val string
		valAt := i + 1
		if i < len(line) && line[i] == '=' {
			i++
			for i < len(line) && line[i] != ' ' {
				c := line[i]
				switch {
				case c == '=':
					return dst, s.errAt(i, "'=' is not allowed in a parameter value (RFC 5321 §4.1.2); xtext writes it +3D")
				case c >= utf8.RuneSelf:
					n, err := s.nonASCII(i)
					if err != nil {
						return dst, err
					}
					i += n
				default:
					i++
				}
			}
			val = line[valAt:i]
			if val == "" {
				return dst, s.errAt(valAt, "empty value after %q", kw+"=")
			}
		} else if i < len(line) && line[i] != ' ' {
			return dst, s.errAt(i, "%s is not allowed in a parameter keyword", quoteByte(line[i]))
		}
		rule, known := knownParam(kw)
		if known {
			kw = rule.keyword
		} else {
			kw = strings.ToUpper(kw)
		}
		for _, p := range dst {
			if p.Keyword == kw {
				return dst, s.errAt(start, "parameter %s given twice", kw)
			}
		}
		if known {
			if err := s.checkParam(rule, verb, val, start, valAt); err != nil {
				return dst, err
			}
		}
		dst = append(dst, Param{Keyword: kw, Value: val})
		if i < len(line) {
			var err error
			if i, err = s.space(i); err != nil {
				return dst, err
			}
		}
	}
	return dst, nil
}

// space consumes the single SP at i that separates two arguments. More
// spaces, or spaces at the end of the line, are a tolerated deviation:
// Postfix splits arguments on runs of white space.
func (s *scanner) space(i int) (int, error) {
	j := i + 1
	for j < len(s.line) && s.line[j] == ' ' {
		j++
	}
	switch {
	case j == len(s.line):
		if err := s.deviate(i, "trailing space at the end of the command"); err != nil {
			return 0, err
		}
	case j > i+1:
		if err := s.deviate(i+1, "more than one space between arguments"); err != nil {
			return 0, err
		}
	}
	return j, nil
}

// checkParam validates the value of a known parameter at column start.
func (s *scanner) checkParam(r paramRule, verb Verb, val string, start, valAt int) error {
	if verb != r.verb {
		return s.errAt(start, "%s belongs on %s, not %s (%s)", r.keyword, verbClause(r.verb), verbClause(verb), r.rfc)
	}
	if !r.value {
		if val != "" {
			return s.errAt(valAt-1, "%s takes no value (%s)", r.keyword, r.rfc)
		}
		return nil
	}
	if val == "" {
		return s.errAt(start, "%s needs a value (%s)", r.keyword, r.rfc)
	}
	switch r.keyword {
	case "SIZE":
		if len(val) > 20 || !allDigits(val) {
			return s.errAt(valAt, "SIZE takes 1 to 20 digits (RFC 1870 §3)")
		}
		if _, err := strconv.ParseUint(val, 10, 64); err != nil {
			return s.errAt(valAt, "SIZE=%s does not fit in 64 bits", val)
		}
	case "BODY":
		if _, ok := oneOfFold(val, "7BIT", "8BITMIME", "BINARYMIME"); !ok {
			return s.errAt(valAt, "BODY takes 7BIT, 8BITMIME (RFC 6152) or BINARYMIME (RFC 3030)")
		}
	case "RET":
		if _, ok := oneOfFold(val, "FULL", "HDRS"); !ok {
			return s.errAt(valAt, "RET takes FULL or HDRS (RFC 3461 §4.3)")
		}
	case "ENVID":
		if i, msg := xtextError(val, false); i >= 0 {
			return s.errAt(valAt+i, "ENVID: %s (RFC 3461 §4)", msg)
		}
		if n := len(decodeXtext(val)); n > maxENVIDLength {
			return s.errAt(valAt, "ENVID is %d characters; RFC 3461 §4.4 allows %d", n, maxENVIDLength)
		}
	case "AUTH":
		if i, msg := xtextError(val, s.utf8); i >= 0 {
			return s.errAt(valAt+i, "AUTH: %s (RFC 4954 §5)", msg)
		}
		if v := decodeXtext(val); v != "<>" {
			sc := scanner{line: v, what: s.what, opt: ParseOptions{SMTPUTF8: s.utf8}, utf8: s.utf8}
			if _, end, err := sc.mailbox(0); err != nil || end != len(v) {
				s.warnAt(valAt, "AUTH=%s is neither a mailbox nor <> (RFC 4954 §5)", val)
			}
		}
	case "MT-PRIORITY":
		if _, ok := parsePriority(val); !ok {
			return s.errAt(valAt, "MT-PRIORITY takes a number from -9 to 9 (RFC 6710 §3)")
		}
	case "NOTIFY":
		if _, bad, msg := parseNotify(val); bad >= 0 {
			return s.errAt(valAt+bad, "%s", msg)
		}
	case "ORCPT":
		if len(val)+len("ORCPT=") > maxORCPTLength {
			return s.errAt(start, "ORCPT is %d characters; RFC 3461 §4.2 allows %d", len(val)+len("ORCPT="), maxORCPTLength)
		}
		semi := strings.IndexByte(val, ';')
		if semi < 0 {
			return s.errAt(valAt, "ORCPT takes addr-type \";\" xtext, e.g. rfc822;bob@example.com (RFC 3461 §4.2)")
		}
		for k := 0; k < semi; k++ {
			if !atextByte(val[k]) {
				return s.errAt(valAt+k, "%s is not allowed in the ORCPT address type", quoteByte(val[k]))
			}
		}
		if semi == 0 {
			return s.errAt(valAt, "ORCPT needs an address type before ';', e.g. rfc822")
		}
		if semi == len(val)-1 {
			return s.errAt(valAt+semi+1, "ORCPT needs an address after ';'")
		}
		if i, msg := xtextError(val[semi+1:], s.utf8); i >= 0 {
			return s.errAt(valAt+semi+1+i, "ORCPT: %s (RFC 3461 §4)", msg)
		}
	}
	return nil
}

func verbClause(v Verb) string {
	switch v {
	case MAIL:
		return "MAIL FROM"
	case RCPT:
		return "RCPT TO"
	}
	return string(v)
}
