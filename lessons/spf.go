package lessons

// SPF evaluation for lesson 12, over the lab's built-in DNS.
//
// Why our own and not blitiri.com.ar/go/spf: the lesson shows the student
// every mechanism and what it matched, and blitiri's trace is free-form
// debug text; the subset the lab's records use (ip4, ip6, a, mx, include,
// exists, all, redirect) is small, and needs no new dependency. What is
// left out is said where it is: macros (RFC 7208 §7) make a permerror,
// ptr never matches (the lab has no reverse DNS; §5.5 says not to use it).

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// spfResult is a check_host() result (RFC 7208 §2.6).
type spfResult string

// The results of RFC 7208 §2.6.
const (
	spfNone      spfResult = "none"
	spfNeutral   spfResult = "neutral"
	spfPass      spfResult = "pass"
	spfFail      spfResult = "fail"
	spfSoftfail  spfResult = "softfail"
	spfTemperror spfResult = "temperror"
	spfPermerror spfResult = "permerror"
)

// meaning says what a receiver makes of r (RFC 7208 §8).
func (r spfResult) meaning() string {
	switch r {
	case spfPass:
		return "the domain authorizes this address to send for it (RFC 7208 §8.3)"
	case spfFail:
		return "the domain says this address may NOT send for it: a receiver may reject the mail, 550 5.7.23 (RFC 7208 §8.4)"
	case spfSoftfail:
		return "probably not authorized, but the domain is not sure: accept and mark it suspicious (RFC 7208 §8.5)"
	case spfNeutral:
		return "the domain makes no assertion about this address: treat it like none (RFC 7208 §8.2)"
	case spfNone:
		return "no SPF record: nothing to check (RFC 7208 §8.1)"
	case spfTemperror:
		return "a DNS error: try later, 451 4.4.3 (RFC 7208 §8.6)"
	}
	return "the record is broken and cannot be evaluated, 550 5.5.2 (RFC 7208 §8.7)"
}

// spfResolver is the DNS SPF evaluation asks; *lab.Zone is one.
type spfResolver interface {
	LookupTXT(name string) ([]string, error)
	LookupMX(name string) ([]*net.MX, error)
	LookupIP(network, name string) ([]net.IP, error)
}

// spfStep is one line of an evaluation's trace: a record fetched or a term
// evaluated.
type spfStep struct {
	depth  int    // include and redirect nesting
	domain string // whose record
	term   string // as written; "" for the record line
	match  bool
	note   string // what was looked up or why it did (not) match
}

// spfCheck is the outcome of check_host() with its trace.
type spfCheck struct {
	result spfResult
	reason string // why, for permerror and temperror
	trace  []spfStep
}

// RFC 7208 §4.6.4: at most 10 terms that query DNS, at most 2 of them
// answered with no records, at most 10 names from one mx lookup.
const (
	spfMaxLookups = 10
	spfMaxVoid    = 2
	spfMaxMX      = 10
)

// spfEval holds one check_host() run's counters.
type spfEval struct {
	r       spfResolver
	ip      net.IP
	lookups int
	void    int
	trace   []spfStep
}

// errSPFPerm and errSPFTemp end an evaluation with permerror or temperror.
type spfError struct {
	result spfResult
	msg    string
}

func (e *spfError) Error() string { return e.msg }

func permErr(format string, args ...any) error {
	return &spfError{spfPermerror, fmt.Sprintf(format, args...)}
}

// checkSPF runs check_host(ip, domain) (RFC 7208 §4) on r. The sender's
// local part matters only to macros, which this subset does not expand.
func checkSPF(r spfResolver, ip net.IP, domain string) spfCheck {
	e := &spfEval{r: r, ip: ip}
	if v4 := ip.To4(); v4 != nil {
		e.ip = v4
	}
	res, err := e.checkHost(canonicalDomain(domain), 0)
	c := spfCheck{result: res, trace: e.trace}
	var se *spfError
	if errors.As(err, &se) {
		c.result, c.reason = se.result, se.msg
	}
	return c
}

func canonicalDomain(d string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
}

// validDomain reports whether d is a name check_host can evaluate: at
// least two labels of 1 to 63 octets (RFC 7208 §4.3).
func validDomain(d string) bool {
	if len(d) == 0 || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if len(l) == 0 || len(l) > 63 {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func (e *spfEval) note(depth int, domain, term string, match bool, format string, args ...any) {
	if len(e.trace) < 200 {
		e.trace = append(e.trace, spfStep{depth: depth, domain: domain, term: term, match: match, note: fmt.Sprintf(format, args...)})
	}
}

// record fetches domain's SPF record (RFC 7208 §4.4, §4.5).
func (e *spfEval) record(domain string, depth int) (string, spfResult, error) {
	txts, err := e.r.LookupTXT(domain)
	if err != nil {
		if isNotFound(err) {
			e.note(depth, domain, "", false, "no TXT record")
			return "", spfNone, nil
		}
		e.note(depth, domain, "", false, "DNS error: %v", err)
		return "", spfTemperror, &spfError{spfTemperror, err.Error()}
	}
	var spf []string
	for _, t := range txts {
		// RFC 7208 §4.5: exactly "v=spf1", then a space or the end.
		if len(t) >= 6 && strings.EqualFold(t[:6], "v=spf1") && (len(t) == 6 || t[6] == ' ') {
			spf = append(spf, t)
		}
	}
	switch len(spf) {
	case 0:
		e.note(depth, domain, "", false, "no SPF record among its TXT records")
		return "", spfNone, nil
	case 1:
		e.note(depth, domain, "", false, "TXT %q", spf[0])
		return spf[0], "", nil
	}
	e.note(depth, domain, "", false, "%d SPF records", len(spf))
	return "", spfPermerror, permErr("%s publishes %d SPF records: one at most (RFC 7208 §4.5)", domain, len(spf))
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// checkHost is check_host() (RFC 7208 §4) for e.ip and domain.
func (e *spfEval) checkHost(domain string, depth int) (spfResult, error) {
	if depth > spfMaxLookups {
		return spfPermerror, permErr("too deep: more than %d nested include or redirect (RFC 7208 §4.6.4)", spfMaxLookups)
	}
	if !validDomain(domain) {
		e.note(depth, domain, "", false, "not a domain SPF can check")
		return spfNone, nil // RFC 7208 §4.3
	}
	rec, res, err := e.record(domain, depth)
	if rec == "" {
		return res, err
	}
	terms := strings.Fields(rec)[1:]
	var redirect string
	seen := map[string]bool{}
	// Modifiers first: their syntax errors are permerrors whatever
	// matches (RFC 7208 §6: redirect and exp at most once each).
	for _, t := range terms {
		name, value, ok := modifier(t)
		if !ok {
			continue
		}
		name = strings.ToLower(name)
		if (name == "redirect" || name == "exp") && seen[name] {
			return spfPermerror, permErr("%s: %s= appears twice (RFC 7208 §6)", domain, name)
		}
		seen[name] = true
		if name == "redirect" {
			redirect = value
		}
	}
	for _, t := range terms {
		if _, _, ok := modifier(t); ok {
			continue
		}
		q, mech := spfPass, t
		switch t[0] {
		case '+', '-', '~', '?':
			q, mech = qualifier(t[0]), t[1:]
		}
		match, err := e.mechanism(domain, t, mech, depth)
		if err != nil {
			var se *spfError
			if errors.As(err, &se) {
				return se.result, err
			}
			return spfPermerror, err
		}
		if match {
			e.note(depth, domain, "", false, "%s matched: %s", t, q)
			return q, nil
		}
	}
	if redirect != "" {
		// RFC 7208 §6.1: as if the target's record replaced this one;
		// a target without one is a permerror.
		target, err := e.domainSpec(redirect)
		if err != nil {
			return spfPermerror, err
		}
		if err := e.count(); err != nil {
			return spfPermerror, err
		}
		e.note(depth, domain, "redirect="+redirect, true, "no mechanism matched: evaluate %s instead", target)
		res, err := e.checkHost(target, depth+1)
		if res == spfNone {
			return spfPermerror, permErr("redirect=%s: it has no SPF record (RFC 7208 §6.1)", target)
		}
		return res, err
	}
	e.note(depth, domain, "", false, "no mechanism matched, no redirect: neutral (RFC 7208 §4.7)")
	return spfNeutral, nil
}

func qualifier(c byte) spfResult {
	switch c {
	case '-':
		return spfFail
	case '~':
		return spfSoftfail
	case '?':
		return spfNeutral
	}
	return spfPass
}

// modifier splits a "name=value" term (RFC 7208 §4.6.1: a name, then
// "=", before any ":" or "/").
func modifier(t string) (name, value string, ok bool) {
	i := strings.IndexAny(t, "=:/")
	if i <= 0 || t[i] != '=' {
		return "", "", false
	}
	name = t[:i]
	for j, c := range name {
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alpha && (j == 0 || !(c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.')) {
			return "", "", false
		}
	}
	return name, t[i+1:], true
}

// count charges one DNS-querying term (RFC 7208 §4.6.4).
func (e *spfEval) count() error {
	e.lookups++
	if e.lookups > spfMaxLookups {
		return permErr("more than %d DNS-querying terms (RFC 7208 §4.6.4)", spfMaxLookups)
	}
	return nil
}

// voidLookup charges a lookup that found nothing (RFC 7208 §4.6.4).
func (e *spfEval) voidLookup() error {
	e.void++
	if e.void > spfMaxVoid {
		return permErr("more than %d lookups found nothing (RFC 7208 §4.6.4)", spfMaxVoid)
	}
	return nil
}

// domainSpec checks a domain-spec; the lab does not expand macros.
func (e *spfEval) domainSpec(s string) (string, error) {
	if strings.Contains(s, "%") {
		return "", permErr("%q uses a macro: the lab does not expand them (RFC 7208 §7)", s)
	}
	d := canonicalDomain(s)
	if !validDomain(d) {
		return "", permErr("%q is not a domain (RFC 7208 §7.1)", s)
	}
	return d, nil
}

// mechanism evaluates one mechanism (RFC 7208 §5) and notes it.
func (e *spfEval) mechanism(domain, term, mech string, depth int) (bool, error) {
	name, arg, hasArg := strings.Cut(mech, ":")
	cidrs := ""
	if !hasArg {
		name, cidrs, _ = strings.Cut(mech, "/")
		if cidrs != "" || strings.HasSuffix(mech, "/") {
			cidrs = "/" + cidrs
		}
	}
	name = strings.ToLower(name)
	v4 := e.ip.To4() != nil
	switch name {
	case "all": // RFC 7208 §5.1
		if hasArg || cidrs != "" {
			return false, permErr("%q: all takes no argument", term)
		}
		e.note(depth, domain, term, true, "matches every address")
		return true, nil
	case "include": // RFC 7208 §5.2
		if !hasArg {
			return false, permErr("%q: include needs a domain", term)
		}
		target, err := e.domainSpec(arg)
		if err != nil {
			return false, err
		}
		if err := e.count(); err != nil {
			return false, err
		}
		e.note(depth, domain, term, false, "evaluate %s:", target)
		at := len(e.trace) - 1
		res, err := e.checkHost(target, depth+1)
		switch res {
		case spfPass:
			e.trace[at].match = true
			e.trace[at].note = fmt.Sprintf("%s says pass: match", target)
			return true, nil
		case spfFail, spfSoftfail, spfNeutral:
			e.note(depth, domain, term, false, "%s says %s: no match (an include only ever adds passes)", target, res)
			return false, nil
		case spfTemperror:
			return false, err
		case spfNone:
			return false, permErr("include:%s: it has no SPF record (RFC 7208 §5.2)", target)
		}
		return false, err
	case "a", "mx": // RFC 7208 §5.3, §5.4
		target := domain
		if hasArg {
			spec, c, _ := strings.Cut(arg, "/")
			if strings.Contains(arg, "/") {
				cidrs = "/" + c
			}
			t, err := e.domainSpec(spec)
			if err != nil {
				return false, err
			}
			target = t
		}
		bits4, bits6, err := dualCIDR(cidrs)
		if err != nil {
			return false, permErr("%q: %v", term, err)
		}
		if err := e.count(); err != nil {
			return false, err
		}
		hosts := []string{target}
		if name == "mx" {
			mx, err := e.r.LookupMX(target)
			if err != nil {
				if !isNotFound(err) {
					return false, &spfError{spfTemperror, err.Error()}
				}
				e.note(depth, domain, term, false, "%s has no MX record", target)
				return false, e.voidLookup()
			}
			if len(mx) > spfMaxMX {
				return false, permErr("%q: %s has %d MX records, more than %d (RFC 7208 §4.6.4)", term, target, len(mx), spfMaxMX)
			}
			hosts = hosts[:0]
			for _, m := range mx {
				hosts = append(hosts, canonicalDomain(m.Host))
			}
		}
		network, bits := "ip6", bits6
		if v4 {
			network, bits = "ip4", bits4
		}
		var seen []string
		for _, h := range hosts {
			ips, err := e.r.LookupIP(network, h)
			if err != nil && !isNotFound(err) {
				return false, &spfError{spfTemperror, err.Error()}
			}
			if len(ips) == 0 {
				seen = append(seen, h+" (no address of this family)")
				if name == "a" {
					if err := e.voidLookup(); err != nil {
						return false, err
					}
				}
				continue
			}
			for _, ip := range ips {
				n := &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, 8*len(ip))}
				if v4 {
					ip4 := ip.To4()
					if ip4 == nil {
						continue
					}
					n = &net.IPNet{IP: ip4.Mask(net.CIDRMask(bits, 32)), Mask: net.CIDRMask(bits, 32)}
				} else {
					n.IP = ip.Mask(n.Mask)
				}
				if n.Contains(e.ip) {
					e.note(depth, domain, term, true, "%s %s", h, n)
					return true, nil
				}
				seen = append(seen, h+" "+n.String())
			}
		}
		e.note(depth, domain, term, false, "%s", strings.Join(seen, ", "))
		return false, nil
	case "ip4", "ip6": // RFC 7208 §5.6
		if !hasArg {
			return false, permErr("%q: %s needs an address", term, name)
		}
		addr, bitsStr, hasBits := strings.Cut(arg, "/")
		ip := net.ParseIP(addr)
		max := 32
		if name == "ip6" {
			max = 128
		}
		if ip == nil || (name == "ip4") != (ip.To4() != nil && !strings.Contains(addr, ":")) {
			return false, permErr("%q: not an %s address", term, name)
		}
		bits := max
		if hasBits {
			b, err := strconv.Atoi(bitsStr)
			if err != nil || b < 0 || b > max || bitsStr[0] == '0' && len(bitsStr) > 1 {
				return false, permErr("%q: bad prefix length (RFC 7208 §5.6)", term)
			}
			bits = b
		}
		if name == "ip4" {
			ip = ip.To4()
		}
		n := &net.IPNet{IP: ip.Mask(net.CIDRMask(bits, max)), Mask: net.CIDRMask(bits, max)}
		if (name == "ip4") != v4 {
			e.note(depth, domain, term, false, "the address is not IPv%s", name[2:])
			return false, nil
		}
		if n.Contains(e.ip) {
			e.note(depth, domain, term, true, "%s is in %s", e.ip, n)
			return true, nil
		}
		e.note(depth, domain, term, false, "%s is not in %s", e.ip, n)
		return false, nil
	case "exists": // RFC 7208 §5.7
		if !hasArg {
			return false, permErr("%q: exists needs a domain", term)
		}
		target, err := e.domainSpec(arg)
		if err != nil {
			return false, err
		}
		if err := e.count(); err != nil {
			return false, err
		}
		if _, err := e.r.LookupIP("ip4", target); err != nil {
			if !isNotFound(err) {
				return false, &spfError{spfTemperror, err.Error()}
			}
			e.note(depth, domain, term, false, "%s has no A record", target)
			return false, e.voidLookup()
		}
		e.note(depth, domain, term, true, "%s has an A record", target)
		return true, nil
	case "ptr": // RFC 7208 §5.5
		if err := e.count(); err != nil {
			return false, err
		}
		e.note(depth, domain, term, false, "the lab has no reverse DNS; ptr is slow and \"SHOULD NOT be used\" (RFC 7208 §5.5)")
		return false, nil
	}
	return false, permErr("%q: unknown mechanism (RFC 7208 §4.6.1)", term)
}

// dualCIDR parses a and mx's "/N", "//M" or "/N//M" (RFC 7208 §5.6).
func dualCIDR(s string) (bits4, bits6 int, err error) {
	bits4, bits6 = 32, 128
	if s == "" {
		return bits4, bits6, nil
	}
	four, six, hasSix := strings.Cut(s[1:], "//")
	if strings.HasPrefix(s, "//") {
		four, six, hasSix = "", s[2:], true
	}
	parse := func(x string, max int) (int, error) {
		b, err := strconv.Atoi(x)
		if err != nil || b < 0 || b > max || len(x) > 1 && x[0] == '0' {
			return 0, fmt.Errorf("bad prefix length %q (RFC 7208 §5.6)", x)
		}
		return b, nil
	}
	if four != "" || !hasSix {
		if bits4, err = parse(four, 32); err != nil {
			return 0, 0, err
		}
	}
	if hasSix {
		if bits6, err = parse(six, 128); err != nil {
			return 0, 0, err
		}
	}
	return bits4, bits6, nil
}

// formatSPF writes a check's trace and result for people.
func formatSPF(ip net.IP, domain string, c spfCheck) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SPF check_host(%s, %s) (RFC 7208 §4)\n", ip, canonicalDomain(domain))
	for _, s := range c.trace {
		ind := strings.Repeat("    ", s.depth)
		if s.term == "" {
			fmt.Fprintf(&b, "  %s%s: %s\n", ind, s.domain, s.note)
			continue
		}
		m := "no match"
		if s.match {
			m = "match"
		}
		fmt.Fprintf(&b, "  %s  %-28s %-8s  %s\n", ind, s.term, m, s.note)
	}
	fmt.Fprintf(&b, "result: %s", c.result)
	if c.reason != "" {
		fmt.Fprintf(&b, " (%s)", c.reason)
	}
	fmt.Fprintf(&b, "\n  %s\n", c.result.meaning())
	return b.String()
}
