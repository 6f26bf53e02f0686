package smtp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultMaxCommandLength is the longest command line RFC 5321 §4.5.3.1.4
// allows, counting the command word and the CRLF.
const DefaultMaxCommandLength = 512

// Command is one parsed SMTP command line. Only the fields that belong to
// Verb are set; the others stay zero.
type Command struct {
	// Verb is upper-case; verbs are case-insensitive (RFC 5321 §2.4).
	Verb Verb
	// Raw is the line as given, without CRLF.
	Raw string

	// Domain is the argument of HELO, EHLO and LHLO when it is a domain,
	// and the node of ETRN and ATRN's first domain when a plain domain.
	// When a lenient parse tolerated an invalid HELO/EHLO argument (as
	// Postfix does by default), Domain holds it as written, with a warning.
	Domain string
	// Literal is the argument of EHLO or LHLO (or, tolerated, HELO) when
	// it is an address literal.
	Literal AddressLiteral

	// Path is the reverse-path of MAIL (and of the obsolete SEND, SOML
	// and SAML) or the forward-path of RCPT.
	Path Path
	// Params holds the ESMTP parameters of MAIL or RCPT, in order.
	Params Params

	// Text is the argument of NOOP, HELP, VRFY and EXPN as written, with
	// tolerated surrounding spaces removed.
	Text string
	// Mailbox is set when the VRFY or EXPN argument is also a mailbox,
	// with or without angle brackets; nil otherwise.
	Mailbox *Mailbox

	// Mechanism is the SASL mechanism of AUTH, upper-cased.
	Mechanism string
	// InitialResponse is AUTH's base64 initial response as sent, "=" for
	// an empty one; "" when absent (RFC 4954 §4).
	InitialResponse string

	// ChunkSize and Last are BDAT's arguments (RFC 3030 §2).
	ChunkSize uint64
	Last      bool

	// Queue is the queue name of "ETRN #queue"; Subdomains is set by
	// "ETRN @domain", which asks for the domain and its subdomains (RFC
	// 1985 §5).
	Queue      string
	Subdomains bool

	// Domains lists ATRN's domains (RFC 2645 §4).
	Domains []string

	// Attrs holds the NAME=value pairs of XCLIENT and XFORWARD, in order.
	Attrs []Attr

	// Warnings lists tolerated deviations and obsolete constructs, in
	// the order they appear on the line.
	Warnings []SyntaxWarning

	paramBuf [4]Param // backs Params, so a typical MAIL or RCPT needs no second allocation
}

// Attr is one attribute of an XCLIENT or XFORWARD command
// (Postfix XCLIENT_README, XFORWARD_README): attribute-name "="
// attribute-value, the value in xtext.
type Attr struct {
	// Name is upper-cased.
	Name string
	// Value is the xtext as sent; DecodeXtext decodes it. Postfix uses
	// "[UNAVAILABLE]" and "[TEMPUNAVAIL]" for unknown values.
	Value string
}

// UnknownVerbError reports a command line whose verb smtpsh does not know;
// a server answers it with 500 (RFC 5321 §4.2.4). It unwraps to a
// *SyntaxError at column 1, so errors.As finds the column either way.
type UnknownVerbError struct {
	// Verb is the first word of the line as sent (at most 64 bytes of it).
	Verb string
}

func (e *UnknownVerbError) Error() string {
	return fmt.Sprintf("command: column 1: unknown command %q", e.Verb)
}

// Unwrap returns the equivalent *SyntaxError.
func (e *UnknownVerbError) Unwrap() error {
	return syntaxErr("command", 1, "unknown command %q", e.Verb)
}

// CommandTooLongError reports a command line over the limit of RFC 5321
// §4.5.3.1.4 (512 octets with CRLF unless an extension raised it); a
// server answers it with 500 5.5.2 "Line too long". It unwraps to a
// *SyntaxError at the first column beyond the limit.
type CommandTooLongError struct {
	// Length counts the line with its CRLF; Limit is the maximum.
	Length, Limit int
}

func (e *CommandTooLongError) Error() string {
	return fmt.Sprintf("command: line is %d octets with its CRLF; the limit is %d (RFC 5321 §4.5.3.1.4)", e.Length, e.Limit)
}

// Unwrap returns the equivalent *SyntaxError.
func (e *CommandTooLongError) Unwrap() error {
	return syntaxErr("command", e.Limit-1, "line too long: %d octets with its CRLF; the limit is %d (RFC 5321 §4.5.3.1.4)", e.Length, e.Limit)
}

// ParseCommand parses one command line, without its CRLF, strictly:
// ParseOptions{Strict: true}.ParseCommand(line).
func ParseCommand(line string) (*Command, error) {
	return ParseOptions{Strict: true}.ParseCommand(line)
}

// ParseCommand parses one command line, without its CRLF. The grammar is
// RFC 5321 §4.1.1 and the extensions':
//
//	HELO SP Domain                 EHLO/LHLO SP ( Domain / address-literal )
//	MAIL FROM:Reverse-path [SP Mail-parameters]
//	RCPT TO:( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path )
//	        [SP Rcpt-parameters]
//	DATA  RSET  QUIT  STARTTLS     no argument (an argument is a 501)
//	NOOP [SP String]  HELP [SP String]  VRFY SP String  EXPN SP String
//	AUTH SP sasl-mech [SP ( base64 / "=" )]                 RFC 4954 §4
//	BDAT SP 1*DIGIT [SP "LAST"]                             RFC 3030 §2
//	ETRN SP ( Domain / "@" Domain / "#" queue )             RFC 1985 §5
//	ATRN [SP Domain *("," Domain)]                          RFC 2645 §4
//	XCLIENT / XFORWARD 1*(SP name "=" xtext)                Postfix
//	SEND / SOML / SAML FROM:Reverse-path,  TURN             RFC 821, obsolete
//
// Lower-case verbs are always fine. Unless o.Strict is set it tolerates,
// with a warning each, what Postfix tolerates by default: spaces after
// "FROM:"/"TO:", a path without "<" ">", runs of spaces between arguments
// and at the end of the line, HELO with an address literal, an invalid
// HELO/EHLO argument, a lower-case SASL mechanism. Errors are
// *SyntaxError (What "command", with the column of the first offending
// byte), *UnknownVerbError or *CommandTooLongError.
func (o ParseOptions) ParseCommand(line string) (*Command, error) {
	limit := o.MaxLineLength
	if limit <= 0 {
		limit = DefaultMaxCommandLength
	}
	if len(line)+2 > limit {
		return nil, &CommandTooLongError{Length: len(line) + 2, Limit: limit}
	}
	p := cmdParser{scanner: scanner{line: line, what: "command", opt: o, utf8: o.SMTPUTF8}}
	if err := p.checkBytes(); err != nil {
		return nil, err
	}
	if line == "" {
		return nil, p.errAt(0, "empty command line")
	}
	i := 0
	if line[0] == ' ' {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if err := p.deviate(0, "space before the command verb"); err != nil {
			return nil, err
		}
		if i == len(line) {
			return nil, p.errAt(0, "empty command line")
		}
	}
	start := i
	for i < len(line) && line[i] != ' ' {
		i++
	}
	verb, ok := lookupVerb(line[start:i])
	if !ok {
		w := line[start:i]
		if len(w) > 64 {
			w = w[:64]
		}
		return nil, &UnknownVerbError{Verb: w}
	}
	c := &Command{Verb: verb, Raw: line}
	p.cmd = c
	if err := p.arguments(i); err != nil {
		return nil, err
	}
	c.Warnings = p.warns
	return c, nil
}

// lookupVerb returns the Verb constant for w, compared case-insensitively,
// so that no upper-cased copy is allocated.
func lookupVerb(w string) (Verb, bool) {
	for _, v := range Verbs {
		if len(v) == len(w) && strings.EqualFold(string(v), w) {
			return v, true
		}
	}
	return "", false
}

// cmdParser parses the arguments of one command.
type cmdParser struct {
	scanner
	cmd *Command
}

// arguments parses what follows the verb, which ends at i.
func (p *cmdParser) arguments(i int) error {
	c, line := p.cmd, p.line
	if c.Verb.Obsolete() {
		p.warnAt(0, "%s is an RFC 821 command that RFC 5321 removed; servers answer 502", c.Verb)
	}
	switch c.Verb {
	case DATA, RSET, QUIT, STARTTLS, TURN:
		return p.noArgument(i)
	case NOOP, HELP:
		if i == len(line) {
			return nil
		}
		var err error
		c.Text, err = p.text(i, false)
		return err
	case VRFY, EXPN:
		var err error
		if c.Text, err = p.text(i, true); err != nil {
			return err
		}
		c.Mailbox = p.textMailbox(c.Text)
		return nil
	case HELO, EHLO, LHLO:
		return p.hello(i)
	case MAIL, SEND, SOML, SAML:
		return p.mailOrRcpt(i, "FROM:")
	case RCPT:
		return p.mailOrRcpt(i, "TO:")
	case AUTH:
		return p.auth(i)
	case BDAT:
		return p.bdat(i)
	case ETRN:
		return p.etrn(i)
	case ATRN:
		return p.atrn(i)
	case XCLIENT, XFORWARD:
		return p.attrs(i)
	}
	return p.errAt(0, "no parser for %s", c.Verb)
}

// firstArg consumes the SP after the verb at i and returns the index of
// the argument; a missing argument is an error naming what was expected.
func (p *cmdParser) firstArg(i int, want string) (int, error) {
	if i == len(p.line) {
		return 0, p.errAt(i, "%s needs %s", p.cmd.Verb, want)
	}
	j, err := p.space(i)
	if err != nil {
		return 0, err
	}
	if j == len(p.line) {
		return 0, p.errAt(j, "%s needs %s", p.cmd.Verb, want)
	}
	return j, nil
}

// end checks that nothing but tolerated trailing spaces follows i.
func (p *cmdParser) end(i int, after string) error {
	if i == len(p.line) {
		return nil
	}
	if p.line[i] != ' ' {
		return p.errAt(i, "unexpected %s after %s", quoteByte(p.line[i]), after)
	}
	j, err := p.space(i)
	if err != nil {
		return err
	}
	if j != len(p.line) {
		return p.errAt(j, "unexpected argument after %s", after)
	}
	return nil
}

func (p *cmdParser) noArgument(i int) error {
	if i == len(p.line) {
		return nil
	}
	j := i
	for j < len(p.line) && p.line[j] == ' ' {
		j++
	}
	if j == len(p.line) {
		return p.deviate(i, "trailing space after %s", p.cmd.Verb)
	}
	return p.errAt(j, "%s takes no argument (%s); a server answers 501", p.cmd.Verb, noArgRFC(p.cmd.Verb))
}

func noArgRFC(v Verb) string {
	switch v {
	case DATA:
		return "RFC 5321 §4.1.1.4"
	case RSET:
		return "RFC 5321 §4.1.1.5"
	case QUIT:
		return "RFC 5321 §4.1.1.10"
	case STARTTLS:
		return "RFC 3207 §4"
	}
	return "RFC 821 §4.1.1"
}

// text returns the string argument from the SP at i, trimming tolerated
// extra spaces. RFC 5321 §4.1.1.6 calls it a String; real clients send
// anything printable ("VRFY John Smith"), so it is not checked further.
func (p *cmdParser) text(i int, required bool) (string, error) {
	line := p.line
	if i == len(line) {
		if required {
			return "", p.errAt(i, "%s needs an argument: a user name or mailbox", p.cmd.Verb)
		}
		return "", nil
	}
	j := i + 1
	for j < len(line) && line[j] == ' ' {
		j++
	}
	if j == len(line) {
		if required {
			return "", p.errAt(j, "%s needs an argument: a user name or mailbox", p.cmd.Verb)
		}
		return "", p.deviate(i, "trailing space after %s", p.cmd.Verb)
	}
	if j > i+1 {
		if err := p.deviate(i+1, "more than one space after %s", p.cmd.Verb); err != nil {
			return "", err
		}
	}
	k := len(line)
	for line[k-1] == ' ' {
		k--
	}
	if k < len(line) {
		if err := p.deviate(k, "trailing space at the end of the command"); err != nil {
			return "", err
		}
	}
	for n := j; n < k; n++ {
		if line[n] >= utf8.RuneSelf {
			if _, err := p.nonASCII(n); err != nil {
				return "", err
			}
		}
	}
	return line[j:k], nil
}

// textMailbox returns the VRFY/EXPN argument as a mailbox, if it is one.
func (p *cmdParser) textMailbox(t string) *Mailbox {
	var (
		m   Mailbox
		err error
	)
	if strings.HasPrefix(t, "<") {
		var path Path
		path, _, err = p.opt.ParsePath(t)
		if path.IsNull() || len(path.Route) > 0 || path.Mailbox.Domain == "" && path.Mailbox.Literal.IsZero() {
			return nil
		}
		m = path.Mailbox
	} else {
		m, _, err = p.opt.ParseMailbox(t)
	}
	if err != nil {
		return nil
	}
	return &m
}

// hello parses the argument of HELO, EHLO and LHLO (RFC 5321 §4.1.1.1,
// RFC 2033 §4.1).
func (p *cmdParser) hello(i int) error {
	c := p.cmd
	j, err := p.firstArg(i, "a domain or address literal (RFC 5321 §4.1.1.1)")
	if err != nil {
		return err
	}
	// Parse strictly first; on failure, a lenient parse keeps the raw
	// argument, as Postfix does unless reject_invalid_helo_hostname is set.
	saved := len(p.warns)
	k, err := p.helloArg(j)
	if err == nil {
		err = p.end(k, "the domain")
	}
	if err == nil {
		return nil
	}
	if p.opt.Strict {
		return err
	}
	p.warns = p.warns[:saved]
	c.Domain, c.Literal = "", AddressLiteral{}
	k = len(p.line)
	for p.line[k-1] == ' ' {
		k--
	}
	if k < len(p.line) {
		p.warnAt(k, "trailing space at the end of the command")
	}
	c.Domain = p.line[j:k]
	at, msg := j, err.Error()
	var se *SyntaxError
	if errors.As(err, &se) {
		at, msg = se.Column-1, se.Msg
	}
	p.warnAt(at, "invalid %s argument tolerated: %s (a server may answer 501)", c.Verb, msg)
	return nil
}

// helloArg parses the domain or literal at j and returns the index after it.
func (p *cmdParser) helloArg(j int) (int, error) {
	c := p.cmd
	if p.line[j] == '[' {
		l, k, err := p.literal(j)
		if err != nil {
			return 0, err
		}
		if c.Verb == HELO {
			if err := p.deviate(j, "HELO takes a domain; an address literal needs EHLO (RFC 5321 §4.1.1.1)"); err != nil {
				return 0, err
			}
		}
		c.Literal = l
		return k, nil
	}
	d, k, err := p.domain(j)
	if err != nil {
		return 0, err
	}
	c.Domain = d
	return k, nil
}

// mailOrRcpt parses "FROM:" Reverse-path or "TO:" Forward-path and the
// parameters after it (RFC 5321 §4.1.1.2, §4.1.1.3).
func (p *cmdParser) mailOrRcpt(i int, kw string) error {
	c, line := p.cmd, p.line
	pathName := "reverse-path"
	if c.Verb == RCPT {
		pathName = "forward-path"
	}
	want := "FROM:<reverse-path> (RFC 5321 §4.1.1.2)"
	if c.Verb == RCPT {
		want = "TO:<forward-path> (RFC 5321 §4.1.1.3)"
	}
	j, err := p.firstArg(i, want)
	if err != nil {
		return err
	}
	if len(line)-j < len(kw) || !strings.EqualFold(line[j:j+len(kw)], kw) {
		// Point at the first byte that differs, e.g. the missing colon of "MAIL FROM <a@b>".
		k := 0
		for k < len(kw) && j+k < len(line) && upperASCII(line[j+k]) == kw[k] {
			k++
		}
		return p.errAt(j+k, "expected %q after %s, as in %s %s<%s>", kw, c.Verb, c.Verb, kw, pathName)
	}
	j += len(kw)
	if j < len(line) && line[j] == ' ' {
		k := j
		for k < len(line) && line[k] == ' ' {
			k++
		}
		if err := p.deviate(j, "space after %q: RFC 5321 §4.1.1 writes %s%s<%s>", kw, c.Verb, " "+kw, pathName); err != nil {
			return err
		}
		j = k
	}
	if j == len(line) {
		return p.errAt(j, "expected '<' to start the %s", pathName)
	}
	// UTF-8 in a MAIL command is allowed when the command itself carries
	// SMTPUTF8 (RFC 6531 §3.4); checked once the parameters are known.
	p.utf8 = p.opt.SMTPUTF8 || c.Verb == MAIL
	pathStart := j
	if line[j] == '<' {
		c.Path, j, err = p.path(j)
		if err != nil {
			return err
		}
	} else {
		if err := p.deviate(j, "expected '<' to start the %s; Postfix accepts a bare address unless strict_rfc821_envelopes is set", pathName); err != nil {
			return err
		}
		lp, k, err := p.localPart(j)
		if err != nil {
			return err
		}
		if c.Verb == RCPT && (k == len(line) || line[k] == ' ') && line[j] != '"' && strings.EqualFold(lp, "postmaster") {
			c.Path.Mailbox.LocalPart = lp
		} else {
			c.Path.Mailbox, k, err = p.mailbox(j)
			if err != nil {
				return err
			}
		}
		j = k
	}
	if err := p.checkPath(pathStart); err != nil {
		return err
	}
	if j < len(line) {
		if line[j] != ' ' {
			return p.errAt(j, "expected a space and ESMTP parameters, or the end of the line, after the %s", pathName)
		}
		k, err := p.space(j)
		if err != nil {
			return err
		}
		if k < len(line) {
			if c.Verb != MAIL && c.Verb != RCPT {
				return p.errAt(k, "%s takes no parameters", c.Verb)
			}
			c.Params, err = p.params(k, c.Verb, c.paramBuf[:0])
			if err != nil {
				return err
			}
		}
	}
	if c.Verb == MAIL && !p.opt.SMTPUTF8 && !c.Params.SMTPUTF8() {
		for k := pathStart; k < len(line); k++ {
			if line[k] >= utf8.RuneSelf {
				return p.errAt(k, "non-ASCII needs SMTPUTF8: add the SMTPUTF8 parameter to MAIL (RFC 6531 §3.4)")
			}
		}
	}
	if len(c.Params) == 0 {
		c.Params = nil
	}
	return nil
}

// checkPath applies the per-verb rules on the null path and Postmaster.
func (p *cmdParser) checkPath(at int) error {
	c := p.cmd
	mb := c.Path.Mailbox
	switch {
	case c.Verb == RCPT && c.Path.IsNull():
		return p.errAt(at, "the forward-path cannot be null: <> is for MAIL FROM only (RFC 5321 §4.1.1.3)")
	case c.Verb != RCPT && !c.Path.IsNull() && mb.Domain == "" && mb.Literal.IsZero():
		return p.errAt(at, "the reverse-path needs a domain: only RCPT TO:<Postmaster> may omit it (RFC 5321 §4.1.1.3)")
	}
	return nil
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// auth parses RFC 4954 §4: "AUTH" SP sasl-mech [SP initial-response],
// sasl-mech being 1 to 20 upper-case letters, digits, "-" and "_" (RFC
// 4422 §3.1).
func (p *cmdParser) auth(i int) error {
	c, line := p.cmd, p.line
	j, err := p.firstArg(i, "a SASL mechanism, e.g. AUTH PLAIN (RFC 4954 §4)")
	if err != nil {
		return err
	}
	k, lower := j, -1
	for k < len(line) && line[k] != ' ' {
		switch b := line[k]; {
		case b >= 'A' && b <= 'Z' || digitByte(b) || b == '-' || b == '_':
		case b >= 'a' && b <= 'z':
			if lower < 0 {
				lower = k
			}
		default:
			return p.errAt(k, "%s is not allowed in a SASL mechanism name (RFC 4422 §3.1)", quoteByte(b))
		}
		k++
	}
	if k-j > 20 {
		return p.errAt(j, "SASL mechanism names are at most 20 characters (RFC 4422 §3.1)")
	}
	c.Mechanism = line[j:k]
	if lower >= 0 {
		if err := p.deviate(lower, "SASL mechanism names are upper-case (RFC 4422 §3.1)"); err != nil {
			return err
		}
		c.Mechanism = strings.ToUpper(c.Mechanism)
	}
	if k == len(line) {
		return nil
	}
	r, err := p.space(k)
	if err != nil || r == len(line) {
		return err
	}
	e := r
	for e < len(line) && line[e] != ' ' {
		e++
	}
	if err := p.base64(r, e); err != nil {
		return err
	}
	c.InitialResponse = line[r:e]
	return p.end(e, "the initial response")
}

// base64 checks line[i:e] as RFC 4954 §4 initial-response: "=" or RFC 4648
// §4 base64 with its padding.
func (p *cmdParser) base64(i, e int) error {
	v := p.line[i:e]
	if v == "=" {
		return nil
	}
	pad := 0
	for k := 0; k < len(v); k++ {
		switch b := v[k]; {
		case alphaByte(b) || digitByte(b) || b == '+' || b == '/':
			if pad > 0 {
				return p.errAt(i+k, "base64 data after '=' padding")
			}
		case b == '=':
			pad++
			if pad > 2 {
				return p.errAt(i+k, "too much '=' padding in base64")
			}
		default:
			return p.errAt(i+k, "%s is not base64 (RFC 4954 §4 wants base64 or \"=\")", quoteByte(b))
		}
	}
	if len(v)%4 != 0 {
		return p.errAt(e, "base64 length %d is not a multiple of 4: missing '=' padding?", len(v))
	}
	return nil
}

// bdat parses RFC 3030 §2: "BDAT" SP chunk-size [SP end-marker],
// chunk-size = 1*DIGIT, end-marker = "LAST".
func (p *cmdParser) bdat(i int) error {
	c, line := p.cmd, p.line
	j, err := p.firstArg(i, "a chunk size (RFC 3030 §2)")
	if err != nil {
		return err
	}
	k := j
	for k < len(line) && digitByte(line[k]) {
		k++
	}
	if k == j || k < len(line) && line[k] != ' ' {
		return p.errAt(k, "the BDAT chunk size is 1 or more digits (RFC 3030 §2)")
	}
	if c.ChunkSize, err = strconv.ParseUint(line[j:k], 10, 64); err != nil {
		return p.errAt(j, "BDAT chunk size %s does not fit in 64 bits", line[j:k])
	}
	if k == len(line) {
		return nil
	}
	r, err := p.space(k)
	if err != nil || r == len(line) {
		return err
	}
	e := r
	for e < len(line) && line[e] != ' ' {
		e++
	}
	if !strings.EqualFold(line[r:e], "LAST") {
		return p.errAt(r, "expected LAST or the end of the line after the BDAT chunk size")
	}
	c.Last = true
	return p.end(e, "LAST")
}

// etrn parses RFC 1985 §5: ETRN SP ( domain / "@" domain / "#" queue ).
func (p *cmdParser) etrn(i int) error {
	c, line := p.cmd, p.line
	j, err := p.firstArg(i, "a domain, @domain or #queue (RFC 1985 §5)")
	if err != nil {
		return err
	}
	switch line[j] {
	case '#':
		k := j + 1
		for k < len(line) && line[k] > ' ' && line[k] < 0x7f {
			k++
		}
		if k == j+1 {
			return p.errAt(k, "expected a queue name after '#'")
		}
		c.Queue = line[j+1 : k]
		return p.end(k, "the queue name")
	case '@':
		c.Subdomains = true
		j++
	}
	p.utf8 = false
	d, k, err := p.domain(j)
	if err != nil {
		return err
	}
	c.Domain = d
	return p.end(k, "the domain")
}

// atrn parses RFC 2645 §4: "ATRN" [SP domain *("," domain)].
func (p *cmdParser) atrn(i int) error {
	c, line := p.cmd, p.line
	if i == len(line) {
		return nil
	}
	j, err := p.space(i)
	if err != nil || j == len(line) {
		return err
	}
	p.utf8 = false
	for {
		d, k, err := p.domain(j)
		if err != nil {
			return err
		}
		c.Domains = append(c.Domains, d)
		if k < len(line) && line[k] == ',' {
			j = k + 1
			continue
		}
		return p.end(k, "the domain list")
	}
}

// attrs parses XCLIENT and XFORWARD attribute=value pairs. Unknown names
// are errors, as Postfix answers them with 501.
func (p *cmdParser) attrs(i int) error {
	c, line := p.cmd, p.line
	j, err := p.firstArg(i, "one or more NAME=value attributes")
	if err != nil {
		return err
	}
	for j < len(line) {
		k := j
		for k < len(line) && line[k] != '=' && line[k] != ' ' {
			k++
		}
		name, ok := lookupAttr(c.Verb, line[j:k])
		if !ok {
			return p.errAt(j, "%s does not know the attribute %q (Postfix: %s)", c.Verb, line[j:k], strings.Join(attrNames(c.Verb), " "))
		}
		if k == len(line) || line[k] != '=' {
			return p.errAt(k, "expected '=' after %s", name)
		}
		e := k + 1
		for e < len(line) && line[e] != ' ' {
			e++
		}
		v := line[k+1 : e]
		if bad, msg := xtextError(v, false); bad >= 0 {
			return p.errAt(k+1+bad, "%s value: %s", name, msg)
		}
		c.Attrs = append(c.Attrs, Attr{Name: name, Value: v})
		if e == len(line) {
			break
		}
		if j, err = p.space(e); err != nil {
			return err
		}
	}
	return nil
}

// attrNames lists the attribute names Postfix defines for XCLIENT
// (XCLIENT_README) and XFORWARD (XFORWARD_README).
func attrNames(v Verb) []string {
	if v == XCLIENT {
		return []string{"NAME", "REVERSE_NAME", "ADDR", "PORT", "PROTO", "HELO", "LOGIN", "DESTADDR", "DESTPORT"}
	}
	return []string{"NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE"}
}

func lookupAttr(v Verb, name string) (string, bool) {
	for _, n := range attrNames(v) {
		if strings.EqualFold(n, name) {
			return n, true
		}
	}
	return "", false
}

// String formats the command in its canonical form, without CRLF: the
// upper-case verb, single spaces, paths in angle brackets, upper-case
// parameter keywords. Parsing it again gives an equal Command, apart from
// Raw and Warnings.
func (c *Command) String() string {
	var b strings.Builder
	b.WriteString(string(c.Verb))
	switch c.Verb {
	case HELO, EHLO, LHLO:
		b.WriteByte(' ')
		if !c.Literal.IsZero() {
			b.WriteString(c.Literal.String())
		} else {
			b.WriteString(c.Domain)
		}
	case MAIL, SEND, SOML, SAML:
		b.WriteString(" FROM:")
		b.WriteString(c.Path.String())
	case RCPT:
		b.WriteString(" TO:")
		b.WriteString(c.Path.String())
	case NOOP, HELP, VRFY, EXPN:
		if c.Text != "" {
			b.WriteByte(' ')
			b.WriteString(c.Text)
		}
	case AUTH:
		b.WriteByte(' ')
		b.WriteString(c.Mechanism)
		if c.InitialResponse != "" {
			b.WriteByte(' ')
			b.WriteString(c.InitialResponse)
		}
	case BDAT:
		b.WriteByte(' ')
		b.WriteString(strconv.FormatUint(c.ChunkSize, 10))
		if c.Last {
			b.WriteString(" LAST")
		}
	case ETRN:
		b.WriteByte(' ')
		switch {
		case c.Queue != "":
			b.WriteByte('#')
			b.WriteString(c.Queue)
		case c.Subdomains:
			b.WriteByte('@')
			b.WriteString(c.Domain)
		default:
			b.WriteString(c.Domain)
		}
	case ATRN:
		for i, d := range c.Domains {
			if i == 0 {
				b.WriteByte(' ')
			} else {
				b.WriteByte(',')
			}
			b.WriteString(d)
		}
	case XCLIENT, XFORWARD:
		for _, a := range c.Attrs {
			b.WriteByte(' ')
			b.WriteString(a.Name)
			b.WriteByte('=')
			b.WriteString(a.Value)
		}
	}
	for _, prm := range c.Params {
		b.WriteByte(' ')
		b.WriteString(prm.String())
	}
	return b.String()
}
