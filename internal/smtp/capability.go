package smtp

import (
	"fmt"
	"strconv"
	"strings"
)

// Capability is one service extension advertised in an EHLO reply
// (RFC 5321 §4.1.1.1):
//
//	ehlo-line    = ehlo-keyword *( SP ehlo-param )
//	ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
//	ehlo-param   = 1*(%d33-126)
type Capability struct {
	// Keyword is the extension's name, upper-cased (keywords are
	// case-insensitive, RFC 5321 §2.4).
	Keyword string
	// Params are the space-separated parameters, as sent.
	Params []string
}

// Capabilities is what a server said in its EHLO reply: the greeting line
// and the extensions in the order advertised. Lookups by keyword are
// case-insensitive.
type Capabilities struct {
	// Domain is the server's name from the first line (RFC 5321 §4.1.1.1
	// ehlo-ok-rsp: Domain or address literal).
	Domain string
	// Greeting is the rest of the first line after Domain, if any.
	Greeting string
	// List holds the extensions in the order advertised, one per keyword:
	// a repeated keyword is merged into its first occurrence.
	List []Capability
}

// ParseEHLO reads the capabilities from an EHLO (or LHLO) reply. The first
// line is the greeting; each later line is one extension. It never fails:
// what does not fit RFC 5321 §4.1.1.1 is reported as a Warning (Line is the
// reply line, Column the byte column in that line as received) and kept as
// well as it can be:
//   - a malformed keyword (e.g. "X_EXPS") is kept, upper-cased;
//   - the pre-standard "AUTH=LOGIN PLAIN" form, which old Microsoft and
//     Netscape clients needed, is reported as obsolete and its mechanisms
//     merged into AUTH;
//   - a repeated keyword has its new parameters merged into the first;
//   - a reply whose code is not 250 yields no capabilities.
func ParseEHLO(r *Reply) (Capabilities, []Warning) {
	var c Capabilities
	var ws []Warning
	if r == nil || len(r.Lines) == 0 {
		return c, []Warning{{Msg: "empty EHLO reply"}}
	}
	if r.Code != 250 {
		return c, []Warning{{Line: 1, Column: 1, Msg: fmt.Sprintf("EHLO was answered %d, not 250: the server advertised nothing", r.Code)}}
	}
	raw := r.Raw()
	// prefix returns how many bytes precede Lines[i] in the raw line, so
	// warnings can give columns as received.
	prefix := func(i int) int {
		if i < len(raw) && len(raw[i]) >= len(r.Lines[i]) && strings.HasSuffix(raw[i], r.Lines[i]) {
			return len(raw[i]) - len(r.Lines[i])
		}
		return 4
	}

	greet := r.Lines[0]
	c.Domain, c.Greeting, _ = strings.Cut(greet, " ")
	if c.Domain == "" {
		ws = append(ws, Warning{1, prefix(0) + 1, "EHLO reply's first line lacks the server's domain (RFC 5321 §4.1.1.1)"})
	}

	for i := 1; i < len(r.Lines); i++ {
		line, n, off := r.Lines[i], i+1, prefix(i)
		if line == "" {
			ws = append(ws, Warning{n, off + 1, "empty EHLO line: no keyword"})
			continue
		}
		fields, fws := splitEHLOLine(line, n, off)
		ws = append(ws, fws...)
		if len(fields) == 0 {
			continue
		}
		kw, params := strings.ToUpper(fields[0]), fields[1:]
		if k, v, ok := strings.Cut(kw, "="); ok && k == "AUTH" {
			ws = append(ws, Warning{n, off + 5, "obsolete \"AUTH=\" form (pre-RFC 2554 clients); read as AUTH"})
			kw = "AUTH"
			params = append([]string{fields[0][len("AUTH="):]}, params...)
			if v == "" {
				params = params[1:]
			}
		} else if col := badKeyword(kw); col > 0 {
			ws = append(ws, Warning{n, off + col, fmt.Sprintf("malformed EHLO keyword %q: RFC 5321 §4.1.1.1 allows letters, digits and '-', starting with a letter or digit", fields[0])})
		}
		if kw == "SIZE" && len(params) > 0 {
			if _, err := parseSize(params[0]); err != nil {
				ws = append(ws, Warning{n, off + len(fields[0]) + 2, fmt.Sprintf("SIZE parameter %q is not a number of octets (RFC 1870 §4)", params[0])})
			}
		}
		if j := c.index(kw); j >= 0 {
			if kw != "AUTH" {
				ws = append(ws, Warning{n, off + 1, fmt.Sprintf("keyword %s advertised twice; parameters merged into the first", kw)})
			}
			c.List[j].Params = mergeParams(c.List[j].Params, params, kw == "AUTH")
			continue
		}
		c.List = append(c.List, Capability{Keyword: kw, Params: params})
	}
	return c, ws
}

// splitEHLOLine splits an EHLO line at single spaces, warning about empty
// fields and bytes outside %d33-126 (RFC 5321 §4.1.1.1 ehlo-param).
func splitEHLOLine(line string, n, off int) ([]string, []Warning) {
	var ws []Warning
	var fields []string
	start, badByte := 0, false
	for i := 0; i <= len(line); i++ {
		if i < len(line) && line[i] != ' ' {
			if c := line[i]; (c < 33 || c > 126) && !badByte {
				badByte = true // once per line is enough to point at it
				ws = append(ws, Warning{n, off + i + 1, fmt.Sprintf("byte 0x%02X not allowed in an EHLO keyword or parameter (RFC 5321 §4.1.1.1: %%d33-126)", c)})
			}
			continue
		}
		if i == start {
			ws = append(ws, Warning{n, off + i + 1, "extra space in EHLO line (RFC 5321 §4.1.1.1: parameters are separated by one SP)"})
		} else {
			fields = append(fields, line[start:i])
		}
		start = i + 1
	}
	return fields, ws
}

// badKeyword returns the 1-based column of the first byte that makes kw
// (upper-cased) an invalid ehlo-keyword, or 0.
func badKeyword(kw string) int {
	for i := 0; i < len(kw); i++ {
		c := kw[i]
		ok := c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' && i > 0
		if !ok {
			return i + 1
		}
	}
	return 0
}

// mergeParams appends the parameters of add not already in have; AUTH
// mechanisms compare case-insensitively.
func mergeParams(have, add []string, fold bool) []string {
	for _, a := range add {
		dup := false
		for _, h := range have {
			if h == a || fold && strings.EqualFold(h, a) {
				dup = true
				break
			}
		}
		if !dup {
			have = append(have, a)
		}
	}
	return have
}

func (c Capabilities) index(kw string) int {
	for i, cp := range c.List {
		if strings.EqualFold(cp.Keyword, kw) {
			return i
		}
	}
	return -1
}

// Has reports whether keyword kw (any case) was advertised.
func (c Capabilities) Has(kw string) bool { return c.index(kw) >= 0 }

// Get returns the capability with keyword kw (any case).
func (c Capabilities) Get(kw string) (Capability, bool) {
	if i := c.index(kw); i >= 0 {
		return c.List[i], true
	}
	return Capability{}, false
}

// Keywords returns the advertised keywords in order.
func (c Capabilities) Keywords() []string {
	ks := make([]string, len(c.List))
	for i, cp := range c.List {
		ks[i] = cp.Keyword
	}
	return ks
}

// AuthMechanisms returns the SASL mechanisms advertised with AUTH
// (RFC 4954 §3), upper-cased, including those from the obsolete "AUTH="
// form; nil when AUTH is not advertised.
func (c Capabilities) AuthMechanisms() []string {
	cp, ok := c.Get("AUTH")
	if !ok {
		return nil
	}
	ms := make([]string, 0, len(cp.Params))
	for _, p := range cp.Params {
		ms = mergeParams(ms, []string{strings.ToUpper(p)}, false)
	}
	return ms
}

// Size returns the maximum message size from the SIZE extension
// (RFC 1870 §4). ok is false when SIZE is not advertised or its parameter
// is not a number. A limit of 0 means no fixed maximum: SIZE with no
// parameter and "SIZE 0" both say so.
func (c Capabilities) Size() (limit int64, ok bool) {
	cp, found := c.Get("SIZE")
	if !found {
		return 0, false
	}
	if len(cp.Params) == 0 {
		return 0, true
	}
	n, err := parseSize(cp.Params[0])
	if err != nil {
		return 0, false
	}
	return n, true
}

// parseSize parses RFC 1870's size-value = 1*20DIGIT.
func parseSize(s string) (int64, error) {
	if s == "" || len(s) > 20 {
		return 0, fmt.Errorf("SIZE value %q must be 1 to 20 digits", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("SIZE value %q must be digits", s)
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
