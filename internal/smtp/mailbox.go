package smtp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on address sizes, RFC 5321 §4.5.3.1.
const (
	MaxLocalPartLength = 64  // RFC 5321 §4.5.3.1.1, in octets
	MaxDomainLength    = 255 // RFC 5321 §4.5.3.1.2, in octets
	MaxPathLength      = 256 // RFC 5321 §4.5.3.1.3, in octets including "<" and ">"
	maxLabelLength     = 63  // RFC 1035 §2.3.4, a DNS label
)

// ParseOptions says how forgiving the command, path and mailbox parsers are.
// The zero value tolerates what Postfix tolerates by default and reports
// each tolerated deviation as a SyntaxWarning; it allows ASCII only.
type ParseOptions struct {
	// Strict turns every tolerated deviation into a *SyntaxError: a space
	// after "FROM:", a path without angle brackets, extra spaces between
	// arguments, HELO with an address literal, an over-long local part or
	// path, a lower-case SASL mechanism name. Things RFC 5321 still allows
	// but discourages (source routes, needless quoting, obsolete verbs) are
	// warnings in both modes.
	Strict bool
	// SMTPUTF8 allows UTF-8 in local parts and U-labels in domains (RFC
	// 6531 §3.3): set it once the server has advertised SMTPUTF8 and the
	// transaction's MAIL command carried the SMTPUTF8 parameter. A MAIL
	// command that carries SMTPUTF8 itself is accepted without it.
	// Invalid UTF-8 is always rejected.
	SMTPUTF8 bool
	// MaxLineLength is the longest command line accepted, counting its
	// CRLF; 0 means 512 (RFC 5321 §4.5.3.1.4). Extensions may raise it
	// (RFC 1870 §3 adds 26 octets for SIZE, RFC 3461 §5 more for DSN).
	MaxLineLength int
}

// SyntaxWarning reports a deviation the parser tolerated, or a construct
// that is legal but obsolete or discouraged, and where it is.
type SyntaxWarning struct {
	// What names the thing being parsed, as in SyntaxError.
	What string
	// Column is the 1-based byte column of the deviation; 0 when none applies.
	Column int
	// Msg says what was tolerated and what the standard wants instead.
	Msg string
}

func (w SyntaxWarning) String() string {
	if w.Column > 0 {
		return fmt.Sprintf("%s: column %d: %s", w.What, w.Column, w.Msg)
	}
	return fmt.Sprintf("%s: %s", w.What, w.Msg)
}

// AddressLiteral is an RFC 5321 §4.1.3 address literal: "[192.0.2.1]",
// "[IPv6:2001:db8::1]" or a general-address-literal "[tag:content]".
// The zero value means "no literal".
type AddressLiteral struct {
	// Addr is the address of an IPv4 or IPv6 literal; the zero Addr for a
	// general address literal.
	Addr netip.Addr
	// Tag and Content are the two halves of a general-address-literal
	// (Standardized-tag ":" 1*dcontent); both empty for IP literals.
	Tag, Content string
}

// IsZero reports whether l is absent.
func (l AddressLiteral) IsZero() bool { return l == AddressLiteral{} }

// String formats the literal with its brackets, the IP address in its
// canonical form (RFC 5952 for IPv6); "" for the zero value.
func (l AddressLiteral) String() string {
	switch {
	case l.Addr.Is4():
		return "[" + l.Addr.String() + "]"
	case l.Addr.IsValid():
		return "[IPv6:" + l.Addr.String() + "]"
	case l.Tag != "":
		return "[" + l.Tag + ":" + l.Content + "]"
	}
	return ""
}

// Mailbox is an RFC 5321 §4.1.2 Mailbox, Local-part "@" ( Domain /
// address-literal ). Mailboxes compare with ==.
type Mailbox struct {
	// LocalPart is decoded: the quotes of a Quoted-string are removed and
	// its quoted-pairs ("\x") resolved. String re-quotes it when needed.
	LocalPart string
	// Domain is the domain as written (case preserved); empty when Literal
	// is set, and for the bare "Postmaster" of RCPT TO:<Postmaster>.
	Domain string
	// Literal is the address literal when the mailbox has one instead of
	// a domain.
	Literal AddressLiteral
}

// IsPostmaster reports whether the local part is "Postmaster", which RFC
// 5321 §4.1.1.3 says every server must accept, in any case.
func (m Mailbox) IsPostmaster() bool { return strings.EqualFold(m.LocalPart, "postmaster") }

// NeedsSMTPUTF8 reports whether the mailbox has non-ASCII characters, which
// only an SMTPUTF8 transaction may carry (RFC 6531 §3.2).
func (m Mailbox) NeedsSMTPUTF8() bool {
	return !isASCII(m.LocalPart) || !isASCII(m.Domain)
}

// Host returns the domain or, for a literal, the literal with its brackets.
func (m Mailbox) Host() string {
	if !m.Literal.IsZero() {
		return m.Literal.String()
	}
	return m.Domain
}

// String formats the mailbox in its canonical wire form: the local part as
// a Dot-string when it is one and quoted otherwise (RFC 5321 §4.1.2 asks
// for the minimum quoting), "@", then the domain or literal. A Postmaster
// mailbox without domain is just its local part. A local part holding
// control characters cannot be written legally; they are emitted as they
// are, and parsing the result fails.
func (m Mailbox) String() string {
	host := m.Host()
	var b strings.Builder
	b.Grow(len(m.LocalPart) + len(host) + 3)
	writeLocalPart(&b, m.LocalPart)
	if host != "" {
		b.WriteByte('@')
		b.WriteString(host)
	}
	return b.String()
}

func writeLocalPart(b *strings.Builder, lp string) {
	if isDotString(lp) {
		b.WriteString(lp)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(lp); i++ {
		if c := lp[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(lp[i])
	}
	b.WriteByte('"')
}

// Path is an RFC 5321 §4.1.2 Reverse-path or Forward-path: "<>" (the null
// path), "<mailbox>", or "<@a,@b:mailbox>" with an obsolete source route.
type Path struct {
	// Route holds the domains of an A-d-l source route, without their
	// "@". RFC 5321 §4.1.1.3 says servers SHOULD ignore it; Appendix C
	// explains why it is obsolete.
	Route []string
	// Mailbox is the zero Mailbox for the null path.
	Mailbox Mailbox
}

// IsNull reports whether p is the null path "<>", legal only as a
// reverse-path (RFC 5321 §4.5.5): the caller decides where it is allowed.
func (p Path) IsNull() bool { return p.Mailbox == Mailbox{} && len(p.Route) == 0 }

// String formats the path with its angle brackets.
func (p Path) String() string {
	var b strings.Builder
	b.WriteByte('<')
	for i, d := range p.Route {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('@')
		b.WriteString(d)
	}
	if len(p.Route) > 0 {
		b.WriteByte(':')
	}
	if !p.IsNull() {
		b.WriteString(p.Mailbox.String())
	}
	b.WriteByte('>')
	return b.String()
}

// ParseMailbox parses an RFC 5321 §4.1.2 Mailbox with no angle brackets,
// strictly (ParseOptions{Strict: true}) and in ASCII only.
func ParseMailbox(s string) (Mailbox, error) {
	m, _, err := ParseOptions{Strict: true}.ParseMailbox(s)
	return m, err
}

// ParsePath parses an RFC 5321 §4.1.2 path in angle brackets, strictly
// (ParseOptions{Strict: true}) and in ASCII only. It accepts the null path
// "<>" and the bare "<Postmaster>" (RCPT only, RFC 5321 §4.1.1.3): the
// caller decides whether they are allowed where the path appears.
func ParsePath(s string) (Path, error) {
	p, _, err := ParseOptions{Strict: true}.ParsePath(s)
	return p, err
}

// ParseMailbox parses an RFC 5321 §4.1.2 Mailbox (RFC 6531 §3.3 when
// o.SMTPUTF8 is set):
//
//	Mailbox       = Local-part "@" ( Domain / address-literal )
//	Local-part    = Dot-string / Quoted-string
//	Dot-string    = Atom *("."  Atom)
//	Quoted-string = DQUOTE *QcontentSMTP DQUOTE
//	Domain        = sub-domain *("." sub-domain)
//	sub-domain    = Let-dig [Ldh-str]
//
// A local part over 64 octets is an error in strict mode and a warning
// otherwise (real servers accept longer ones, e.g. for SRS and VERP); a
// label over 63 octets or a domain over 255 is always an error, because
// DNS cannot carry it. U-labels are checked for valid UTF-8 and for
// letters, marks, digits and hyphens only, not against all of IDNA2008.
func (o ParseOptions) ParseMailbox(s string) (Mailbox, []SyntaxWarning, error) {
	sc := scanner{line: s, what: "mailbox", opt: o, utf8: o.SMTPUTF8}
	if err := sc.checkBytes(); err != nil {
		return Mailbox{}, nil, err
	}
	m, end, err := sc.mailbox(0)
	if err != nil {
		return Mailbox{}, nil, err
	}
	if end != len(s) {
		return Mailbox{}, nil, sc.errAt(end, "unexpected %s after the mailbox", quoteByte(s[end]))
	}
	return m, sc.warns, nil
}

// ParsePath parses an RFC 5321 §4.1.2 path (RFC 6531 §3.3 when o.SMTPUTF8
// is set):
//
//	Path         = "<" [ A-d-l ":" ] Mailbox ">"
//	A-d-l        = At-domain *( "," At-domain )
//	At-domain    = "@" Domain
//	Reverse-path = Path / "<>"
//
// plus "<Postmaster>" (RFC 5321 §4.1.1.3). A source route is kept in
// Route and reported as a warning; a path over 256 octets is an error in
// strict mode and a warning otherwise.
func (o ParseOptions) ParsePath(s string) (Path, []SyntaxWarning, error) {
	sc := scanner{line: s, what: "path", opt: o, utf8: o.SMTPUTF8}
	if err := sc.checkBytes(); err != nil {
		return Path{}, nil, err
	}
	if s == "" || s[0] != '<' {
		return Path{}, nil, sc.errAt(0, "expected '<' to start the path")
	}
	p, end, err := sc.path(0)
	if err != nil {
		return Path{}, nil, err
	}
	if end != len(s) {
		return Path{}, nil, sc.errAt(end, "unexpected %s after the path", quoteByte(s[end]))
	}
	return p, sc.warns, nil
}

// ParseAddressLiteral parses an RFC 5321 §4.1.3 address literal with its
// brackets:
//
//	address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
//	                  General-address-literal ) "]"
//	IPv6-address-literal    = "IPv6:" IPv6-addr
//	General-address-literal = Standardized-tag ":" 1*dcontent
//
// IPv4 octets may have leading zeros, as the grammar allows; IPv6 zones
// are rejected, and "::" must stand for at least two groups of zeros.
func ParseAddressLiteral(s string) (AddressLiteral, error) {
	sc := scanner{line: s, what: "address literal", opt: ParseOptions{Strict: true}}
	if s == "" || s[0] != '[' {
		return AddressLiteral{}, sc.errAt(0, "expected '[' to start the address literal")
	}
	l, end, err := sc.literal(0)
	if err != nil {
		return AddressLiteral{}, err
	}
	if end != len(s) {
		return AddressLiteral{}, sc.errAt(end, "unexpected %s after the address literal", quoteByte(s[end]))
	}
	return l, nil
}

// scanner parses addresses and parameters inside a larger line, so that
// every error and warning carries a column of that whole line.
type scanner struct {
	line  string
	what  string
	opt   ParseOptions
	utf8  bool // UTF-8 allowed in addresses and parameter values (RFC 6531)
	warns []SyntaxWarning
}

// errAt returns a *SyntaxError for the 0-based byte index i.
func (s *scanner) errAt(i int, format string, args ...any) error {
	return syntaxErr(s.what, i+1, format, args...)
}

// warnAt records a warning for the 0-based byte index i.
func (s *scanner) warnAt(i int, format string, args ...any) {
	s.warns = append(s.warns, SyntaxWarning{What: s.what, Column: i + 1, Msg: fmt.Sprintf(format, args...)})
}

// deviate handles something Postfix tolerates by default that the RFCs do
// not allow: an error in strict mode, otherwise a warning.
func (s *scanner) deviate(i int, format string, args ...any) error {
	if s.opt.Strict {
		return s.errAt(i, format, args...)
	}
	s.warnAt(i, format, args...)
	return nil
}

// checkBytes rejects control characters anywhere in the line: CR, LF and
// NUL inside a line are framing errors and the stuff of SMTP smuggling
// (RFC 5321 §2.3.8), and no SMTP argument allows the others.
func (s *scanner) checkBytes() error {
	for i := 0; i < len(s.line); i++ {
		switch c := s.line[i]; {
		case c == '\r' || c == '\n':
			return s.errAt(i, "bare %s inside a line (RFC 5321 §2.3.8: lines end with CRLF only)", quoteByte(c))
		case c < ' ' || c == 0x7f:
			return s.errAt(i, "control character %s", quoteByte(c))
		}
	}
	return nil
}

// nonASCII checks the UTF-8 sequence at i and returns its length.
func (s *scanner) nonASCII(i int) (int, error) {
	r, n := utf8.DecodeRuneInString(s.line[i:])
	if r == utf8.RuneError && n <= 1 {
		return 0, s.errAt(i, "invalid UTF-8 byte 0x%02X", s.line[i])
	}
	if !s.utf8 {
		return 0, s.errAt(i, "non-ASCII character %q needs SMTPUTF8 (RFC 6531)", r)
	}
	return n, nil
}

// mailbox parses a Mailbox at i and returns it and the index after it.
func (s *scanner) mailbox(i int) (Mailbox, int, error) {
	lp, j, err := s.localPart(i)
	if err != nil {
		return Mailbox{}, 0, err
	}
	if j >= len(s.line) || s.line[j] != '@' {
		return Mailbox{}, 0, s.errAt(j, "expected '@' and a domain after the local part")
	}
	m := Mailbox{LocalPart: lp}
	m.Domain, m.Literal, j, err = s.host(j + 1)
	if err != nil {
		return Mailbox{}, 0, err
	}
	return m, j, nil
}

// localPart parses a Dot-string or Quoted-string at i and returns its
// decoded value and the index after it.
func (s *scanner) localPart(i int) (string, int, error) {
	var (
		v   string
		j   int
		err error
	)
	if i < len(s.line) && s.line[i] == '"' {
		v, j, err = s.quotedString(i)
	} else {
		v, j, err = s.dotString(i)
	}
	if err != nil {
		return "", 0, err
	}
	if n := j - i; n > MaxLocalPartLength {
		if err := s.deviate(i, "the local part is %d octets; RFC 5321 §4.5.3.1.1 allows %d", n, MaxLocalPartLength); err != nil {
			return "", 0, err
		}
	}
	return v, j, nil
}

func (s *scanner) dotString(i int) (string, int, error) {
	line, j := s.line, i
loop:
	for j < len(line) {
		switch c := line[j]; {
		case atextByte(c):
			j++
		case c == '.':
			if j == i {
				return "", 0, s.errAt(j, "a local part cannot start with '.'; quote it")
			}
			if line[j-1] == '.' {
				return "", 0, s.errAt(j, "two dots in a row in the local part; quote it")
			}
			j++
		case c >= utf8.RuneSelf:
			n, err := s.nonASCII(j)
			if err != nil {
				return "", 0, err
			}
			j += n
		default:
			break loop
		}
	}
	if j == i {
		if j < len(line) && line[j] == '@' {
			return "", 0, s.errAt(j, "empty local part before '@'")
		}
		if j < len(line) {
			return "", 0, s.errAt(j, "%s cannot start a local part; quote the local part", quoteByte(line[j]))
		}
		return "", 0, s.errAt(j, "expected a local part")
	}
	if line[j-1] == '.' {
		return "", 0, s.errAt(j-1, "a local part cannot end with '.'; quote it")
	}
	return line[i:j], j, nil
}

// quotedString parses RFC 5321 §4.1.2 Quoted-string at i:
//
//	QcontentSMTP    = qtextSMTP / quoted-pairSMTP
//	quoted-pairSMTP = %d92 %d32-126
//	qtextSMTP       = %d32-33 / %d35-91 / %d93-126
func (s *scanner) quotedString(i int) (string, int, error) {
	line, j := s.line, i+1
	var b []byte // the decoded value, once a quoted-pair makes it differ
	for {
		if j >= len(line) {
			return "", 0, s.errAt(i, "quoted local part has no closing '\"'")
		}
		switch c := line[j]; {
		case c == '"':
			v := line[i+1 : j]
			if b != nil {
				v = string(b)
			}
			if isDotString(v) && v != "" {
				s.warnAt(i, "quotes are not needed around %q; RFC 5321 §4.1.2 asks for the minimum quoting", v)
			}
			return v, j + 1, nil
		case c == '\\':
			if j+1 >= len(line) || line[j+1] < ' ' || line[j+1] > '~' {
				return "", 0, s.errAt(j, "a backslash must quote a printable ASCII character")
			}
			if b == nil {
				b = append(make([]byte, 0, len(line)-i), line[i+1:j]...)
			}
			b = append(b, line[j+1])
			j += 2
		case c >= ' ' && c <= '~':
			if b != nil {
				b = append(b, c)
			}
			j++
		case c >= utf8.RuneSelf:
			n, err := s.nonASCII(j)
			if err != nil {
				return "", 0, err
			}
			if b != nil {
				b = append(b, line[j:j+n]...)
			}
			j += n
		default:
			return "", 0, s.errAt(j, "control character %s in a quoted string", quoteByte(c))
		}
	}
}

// host parses a Domain or an address-literal at i.
func (s *scanner) host(i int) (string, AddressLiteral, int, error) {
	if i < len(s.line) && s.line[i] == '[' {
		l, j, err := s.literal(i)
		return "", l, j, err
	}
	d, j, err := s.domain(i)
	return d, AddressLiteral{}, j, err
}

// domain parses an RFC 5321 §4.1.2 Domain at i, stopping at a space, '>',
// ',', ':' or the end of the line. RFC 5321 §4.1.2 allows only letters,
// digits and hyphens in labels, and says servers MUST answer anything else
// (notably '_') with 501.
func (s *scanner) domain(i int) (string, int, error) {
	line, j, label := s.line, i, i
	ascii := true
	endLabel := func(j int, last bool) error {
		switch {
		case j == i:
			return s.errAt(j, "expected a domain")
		case j == label && last:
			return s.errAt(j-1, "a domain in SMTP does not end with '.'")
		case j == label:
			return s.errAt(j, "two dots in a row in the domain")
		}
		if line[j-1] == '-' {
			return s.errAt(j-1, "a domain label cannot end with '-'")
		}
		if n := j - label; n > maxLabelLength {
			return s.errAt(label, "domain label is %d octets; DNS allows %d (RFC 1035 §2.3.4)", n, maxLabelLength)
		}
		return nil
	}
loop:
	for j < len(line) {
		switch c := line[j]; {
		case letDigByte(c):
			j++
		case c == '-':
			if j == label {
				return "", 0, s.errAt(j, "a domain label cannot start with '-'")
			}
			j++
		case c == '.':
			if err := endLabel(j, false); err != nil {
				return "", 0, err
			}
			j++
			label = j
		case c >= utf8.RuneSelf:
			n, err := s.nonASCII(j)
			if err != nil {
				return "", 0, err
			}
			if r, _ := utf8.DecodeRuneInString(line[j:]); !unicode.In(r, unicode.L, unicode.M, unicode.N) {
				return "", 0, s.errAt(j, "%q is not allowed in a domain label (IDNA2008 allows letters, marks and digits)", r)
			}
			ascii = false
			j += n
		case c == ' ' || c == '>' || c == ',' || c == ':':
			break loop
		case c == '_':
			return "", 0, s.errAt(j, "'_' is not allowed in a domain name (RFC 5321 §4.1.2: letters, digits and hyphens only)")
		default:
			return "", 0, s.errAt(j, "%s is not allowed in a domain name", quoteByte(c))
		}
	}
	if err := endLabel(j, true); err != nil {
		return "", 0, err
	}
	if n := j - i; n > MaxDomainLength {
		return "", 0, s.errAt(i, "the domain is %d octets; RFC 5321 §4.5.3.1.2 allows %d", n, MaxDomainLength)
	}
	if ascii && allDigits(line[label:j]) {
		s.warnAt(i, "%q looks like an IP address: write it as the address literal [%s] (RFC 5321 §4.1.3)", line[i:j], line[i:j])
	}
	return line[i:j], j, nil
}

// literal parses an address literal at i, which holds '['.
func (s *scanner) literal(i int) (AddressLiteral, int, error) {
	line, j := s.line, i+1
	for j < len(line) && dcontentByte(line[j]) {
		j++
	}
	if j >= len(line) {
		return AddressLiteral{}, 0, s.errAt(i, "address literal has no closing ']'")
	}
	if line[j] != ']' {
		return AddressLiteral{}, 0, s.errAt(j, "%s is not allowed in an address literal", quoteByte(line[j]))
	}
	content, start, end := line[i+1:j], i+1, j+1
	if content == "" {
		return AddressLiteral{}, 0, s.errAt(start, "empty address literal")
	}
	if len(content) >= 5 && strings.EqualFold(content[:5], "IPv6:") {
		a, err := s.ipv6(content[5:], start+5)
		return AddressLiteral{Addr: a}, end, err
	}
	if colon := strings.IndexByte(content, ':'); colon >= 0 {
		if a, err := netip.ParseAddr(content); err == nil && a.Is6() {
			return AddressLiteral{}, 0, s.errAt(start, "an IPv6 address literal needs its tag: [IPv6:%s] (RFC 5321 §4.1.3)", content)
		}
		tag, val := content[:colon], content[colon+1:]
		if !isLdhStr(tag) {
			return AddressLiteral{}, 0, s.errAt(start, "address-literal tag %q must be letters, digits and hyphens, ending in a letter or digit (RFC 5321 §4.1.3)", tag)
		}
		if val == "" {
			return AddressLiteral{}, 0, s.errAt(start+colon+1, "empty general address literal after %q", tag+":")
		}
		// RFC 5321 §4.1.3: tags are registered with IANA, and IPv6 is the
		// only one so far; others parse, but nothing can deliver to them.
		s.warnAt(start, "address-literal tag %q is not registered with IANA (RFC 5321 §4.1.3)", tag)
		return AddressLiteral{Tag: tag, Content: val}, end, nil
	}
	a, err := s.ipv4(content, start)
	return AddressLiteral{Addr: a}, end, err
}

// ipv4 parses RFC 5321 §4.1.3 IPv4-address-literal = Snum 3("."  Snum),
// Snum = 1*3DIGIT with a value of 0 to 255. at is the index of v in line.
func (s *scanner) ipv4(v string, at int) (netip.Addr, error) {
	var b [4]byte
	i := 0
	for part := 0; part < 4; part++ {
		if part > 0 {
			if i >= len(v) || v[i] != '.' {
				return netip.Addr{}, s.errAt(at+i, "expected '.' in the IPv4 address literal")
			}
			i++
		}
		start, n := i, 0
		for i < len(v) && digitByte(v[i]) && i-start < 3 {
			n = n*10 + int(v[i]-'0')
			i++
		}
		if i == start {
			return netip.Addr{}, s.errAt(at+i, "expected a number from 0 to 255 in the IPv4 address literal")
		}
		if n > 255 {
			return netip.Addr{}, s.errAt(at+start, "%d is over 255 in the IPv4 address literal", n)
		}
		b[part] = byte(n)
	}
	if i != len(v) {
		return netip.Addr{}, s.errAt(at+i, "unexpected %s in the IPv4 address literal", quoteByte(v[i]))
	}
	return netip.AddrFrom4(b), nil
}

// ipv6 parses the IPv6-addr of an IPv6-address-literal (RFC 5321 §4.1.3).
// net/netip accepts zones and a "::" standing for a single group, which
// the RFC grammar does not; both are rejected here.
func (s *scanner) ipv6(v string, at int) (netip.Addr, error) {
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is6() {
		return netip.Addr{}, s.errAt(at, "%q is not an IPv6 address", v)
	}
	if a.Zone() != "" {
		return netip.Addr{}, s.errAt(at+strings.IndexByte(v, '%'), "an IPv6 address literal cannot have a zone")
	}
	if k := strings.Index(v, "::"); k >= 0 {
		// RFC 5321 §4.1.3 IPv6-comp: at most 6 groups besides the "::"
		// (IPv6v4-comp: at most 4, plus the IPv4 tail worth two).
		groups := 0
		for _, side := range [2]string{v[:k], v[k+2:]} {
			if side != "" {
				groups += strings.Count(side, ":") + 1
			}
		}
		if strings.IndexByte(v, '.') >= 0 {
			groups++
		}
		if groups > 6 {
			return netip.Addr{}, s.errAt(at+k, "'::' must stand for at least two groups of zeros (RFC 5321 §4.1.3); write the 0")
		}
	}
	return a, nil
}

// path parses a Path or "<>" at i, which holds '<'.
func (s *scanner) path(i int) (Path, int, error) {
	line, j := s.line, i+1
	var p Path
	if j < len(line) && line[j] == '>' {
		return p, j + 1, nil
	}
	if j < len(line) && line[j] == '@' {
		for {
			d, k, err := s.domain(j + 1)
			if err != nil {
				return Path{}, 0, err
			}
			p.Route = append(p.Route, d)
			if k < len(line) && line[k] == ',' {
				if k+1 >= len(line) || line[k+1] != '@' {
					return Path{}, 0, s.errAt(k+1, "expected '@' to start the next source-route domain")
				}
				j = k + 1
				continue
			}
			if k < len(line) && line[k] == ':' {
				j = k + 1
				break
			}
			return Path{}, 0, s.errAt(k, "expected ',' or ':' after the source-route domain")
		}
		s.warnAt(i+1, "source route %q is obsolete: RFC 5321 §4.1.1.3 says servers SHOULD ignore it (Appendix C)", line[i+1:j])
	}
	lp, k, err := s.localPart(j)
	if err != nil {
		return Path{}, 0, err
	}
	if k < len(line) && line[k] == '>' && len(p.Route) == 0 && line[j] != '"' && strings.EqualFold(lp, "postmaster") {
		// RFC 5321 §4.1.1.3: RCPT TO:<Postmaster>, no domain.
		p.Mailbox.LocalPart = lp
		return p, k + 1, nil
	}
	if k >= len(line) || line[k] != '@' {
		return Path{}, 0, s.errAt(k, "expected '@' and a domain after the local part")
	}
	p.Mailbox.LocalPart = lp
	p.Mailbox.Domain, p.Mailbox.Literal, k, err = s.host(k + 1)
	if err != nil {
		return Path{}, 0, err
	}
	if k >= len(line) || line[k] != '>' {
		return Path{}, 0, s.errAt(k, "expected '>' to end the path")
	}
	k++
	if n := k - i; n > MaxPathLength {
		if err := s.deviate(i, "the path is %d octets; RFC 5321 §4.5.3.1.3 allows %d", n, MaxPathLength); err != nil {
			return Path{}, 0, err
		}
	}
	return p, k, nil
}

// atextByte reports whether c is RFC 5322 §3.2.3 atext, which RFC 5321
// §4.1.2 uses for Atom.
func atextByte(c byte) bool {
	return alphaByte(c) || digitByte(c) || c < utf8.RuneSelf && strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func alphaByte(c byte) bool  { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func digitByte(c byte) bool  { return '0' <= c && c <= '9' }
func letDigByte(c byte) bool { return alphaByte(c) || digitByte(c) }

// dcontentByte is RFC 5321 §4.1.3 dcontent: printable ASCII but "[", "\", "]".
func dcontentByte(c byte) bool { return c >= 33 && c <= 90 || c >= 94 && c <= 126 }

// isDotString reports whether v can be sent unquoted, as a Dot-string; v
// may hold UTF-8 (RFC 6531 §3.3 extends atext).
func isDotString(v string) bool {
	if v == "" || v[0] == '.' || v[len(v)-1] == '.' || strings.Contains(v, "..") {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !atextByte(c) && c != '.' && c < utf8.RuneSelf {
			return false
		}
	}
	return utf8.ValidString(v)
}

// isLdhStr reports whether v is a non-empty RFC 5321 Ldh-str:
// *( ALPHA / DIGIT / "-" ) Let-dig.
func isLdhStr(v string) bool {
	if v == "" || !letDigByte(v[len(v)-1]) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !letDigByte(v[i]) && v[i] != '-' {
			return false
		}
	}
	return true
}

func allDigits(v string) bool {
	for i := 0; i < len(v); i++ {
		if !digitByte(v[i]) {
			return false
		}
	}
	return v != ""
}

func isASCII(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// quoteByte names a byte for a message: 'x' for printable ASCII, otherwise
// its Go escape, so that nothing raw reaches a terminal.
func quoteByte(c byte) string {
	switch {
	case c >= ' ' && c <= '~':
		return "'" + string(c) + "'"
	case c >= utf8.RuneSelf:
		return fmt.Sprintf("byte 0x%02X", c)
	}
	return strconv.QuoteRune(rune(c))
}
