package lessons

// Lesson 12's meta-commands: :dns, :spf, :dkim and :dmarc, answered from
// the lab's built-in DNS zone (internal/lab.DNS) and the sample messages
// shipped in files/samples, with no network.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/mail"
	"path"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"github.com/smtpsh/smtpsh/internal/lab"
	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/shell"
)

// mailAuthMetas returns lesson 12's meta-commands: :dns, :spf, :dkim and
// :dmarc over the lab's built-in DNS data.
func mailAuthMetas() []extraMeta {
	return []extraMeta{
		{shell.MetaCommand{Name: ":dns", Args: "TYPE NAME", Usage: "the lab's DNS records of TYPE (A, AAAA, MX, TXT, ANY) at NAME, as dig shows them"}, metaDNS},
		{shell.MetaCommand{Name: ":spf", Args: "IP DOMAIN", Usage: "evaluate DOMAIN's SPF record for a client at IP, each mechanism shown (RFC 7208)"}, metaSPF},
		{shell.MetaCommand{Name: ":dkim", Args: "SAMPLE", Usage: "show a sample message's DKIM-Signature tags and verify it with the lab's DNS (RFC 6376)"}, metaDKIM},
		{shell.MetaCommand{Name: ":dmarc", Args: "SAMPLE", Usage: "work out DMARC for a sample message: From domain, SPF, DKIM, alignment, policy (RFC 7489)"}, metaDMARC},
	}
}

func metaDNS(_ *Engine, arg string, out io.Writer) {
	fmt.Fprint(out, dnsAnswer(lab.DNS(), arg))
}

func metaSPF(_ *Engine, arg string, out io.Writer) {
	f := strings.Fields(arg)
	if len(f) != 2 {
		fmt.Fprintln(out, "usage: :spf IP DOMAIN   (for example :spf 203.0.113.66 shop.example)")
		return
	}
	ip := net.ParseIP(f[0])
	if ip == nil {
		fmt.Fprintf(out, ":spf: %s is not an IP address: :spf IP DOMAIN\n", render.Escape(f[0]))
		return
	}
	fmt.Fprint(out, formatSPF(ip, f[1], checkSPF(lab.DNS(), ip, f[1])))
}

func metaDKIM(_ *Engine, arg string, out io.Writer) {
	msg, err := sample(arg)
	if err != nil {
		fmt.Fprintln(out, ":dkim:", err)
		return
	}
	fmt.Fprint(out, formatDKIM(lab.DNS(), msg))
}

func metaDMARC(_ *Engine, arg string, out io.Writer) {
	msg, err := sample(arg)
	if err != nil {
		fmt.Fprintln(out, ":dmarc:", err)
		return
	}
	fmt.Fprint(out, formatDMARC(evalDMARC(lab.DNS(), msg)))
}

// dnsAnswer answers ":dns TYPE NAME" like dig's answer section; a bad or
// missing argument gets the usage and the names the zone holds.
func dnsAnswer(z *lab.Zone, arg string) string {
	f := strings.Fields(arg)
	if len(f) == 1 { // ":dns NAME" asks for everything, as dig ANY
		f = []string{"ANY", f[0]}
	}
	var b strings.Builder
	if len(f) != 2 {
		b.WriteString("usage: :dns TYPE NAME   (TYPE: A, AAAA, MX, TXT or ANY; for example :dns TXT lab.smtpsh.test)\n")
		b.WriteString("the lab's zone holds:\n")
		for _, n := range z.Names() {
			fmt.Fprintf(&b, "  %s\n", n)
		}
		return b.String()
	}
	typ, name := strings.ToUpper(f[0]), f[1]
	rs, err := z.Lookup(typ, name)
	fmt.Fprintf(&b, ";; QUESTION: %s. IN %s (the lab's built-in zone; no network)\n", render.Escape(canonicalDomain(name)), render.Escape(typ))
	var de *net.DNSError
	switch {
	case errors.As(err, &de) && de.IsNotFound && de.Err == "no such host":
		b.WriteString(";; status: NXDOMAIN: no such name\n")
	case errors.As(err, &de) && de.IsNotFound:
		fmt.Fprintf(&b, ";; status: NOERROR, no %s records (NODATA): the name exists with other types\n", typ)
	case err != nil:
		fmt.Fprintf(&b, ";; %s\n", render.Escape(err.Error()))
	default:
		b.WriteString(";; ANSWER SECTION:\n")
		for _, r := range rs {
			b.WriteString(r.String() + "\n")
		}
	}
	return b.String()
}

// sample returns an embedded sample message by file name ("12-invoice.eml").
func sample(name string) ([]byte, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, fmt.Errorf("which sample? %s", strings.Join(sampleNames(), ", "))
	}
	msg, err := files.ReadFile("files/samples/" + path.Base(name))
	if err != nil {
		return nil, fmt.Errorf("no sample %q: %s", render.Escape(name), strings.Join(sampleNames(), ", "))
	}
	return msg, nil
}

// sampleNames lists lesson 12's sample messages.
func sampleNames() []string {
	names, _ := fs.Glob(files, "files/samples/12-*.eml")
	for i, n := range names {
		names[i] = path.Base(n)
	}
	return names
}

// dkimTags returns a DKIM-Signature's tags in order (RFC 6376 §3.2: tag=value
// pairs separated by ";"; whitespace around them, and folding inside
// base64 values, ignored).
func dkimTags(v string) [][2]string {
	var tags [][2]string
	for _, p := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		val = strings.Join(strings.Fields(val), "")
		tags = append(tags, [2]string{k, val})
	}
	return tags
}

// dkimTagMeaning says what each tag of RFC 6376 §3.5 is for.
func dkimTagMeaning(k, v string, tags [][2]string) string {
	switch k {
	case "v":
		return "version (always 1)"
	case "a":
		return "algorithm: key type and hash (ed25519-sha256 is RFC 8463)"
	case "c":
		return "canonicalization of header/body: relaxed forgives whitespace changes"
	case "d":
		return "the signing domain (SDID): who vouches for the message; DMARC compares it with From"
	case "s":
		return "the selector: the public key is the TXT record at " + v + "._domainkey." + tagValue(tags, "d")
	case "h":
		return "the header fields signed, in order; changing any breaks b="
	case "bh":
		return "the body hash: SHA-256 of the canonical body, base64"
	case "b":
		return "the signature over the signed fields and this one (with b= empty)"
	case "t":
		return "when it was signed (seconds since 1970)"
	case "x":
		return "when the signature expires"
	case "i":
		return "the agent or user identifier (AUID)"
	}
	return ""
}

func tagValue(tags [][2]string, k string) string {
	for _, t := range tags {
		if t[0] == k {
			return t[1]
		}
	}
	return ""
}

// dkimResult is one signature's verification.
type dkimResult struct {
	domain, selector string
	tags             [][2]string
	pass             bool
	err              error
}

// verifyDKIM checks every DKIM-Signature of msg with keys from z.
func verifyDKIM(z *lab.Zone, msg []byte) ([]dkimResult, error) {
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return nil, fmt.Errorf("reading the message: %w", err)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: z.LookupTXT, MaxVerifications: 5})
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	sigs := m.Header["Dkim-Signature"]
	var rs []dkimResult
	for i, v := range vs {
		r := dkimResult{domain: v.Domain, pass: v.Err == nil, err: v.Err}
		if i < len(sigs) {
			r.tags = dkimTags(sigs[i])
			r.selector = tagValue(r.tags, "s")
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// dkimFailure says in the lesson's words why a verification failed.
func dkimFailure(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "body hash"):
		return "bh= does not match the body: the body changed after signing"
	case strings.Contains(s, "signature") && strings.Contains(s, "verify") || strings.Contains(s, "invalid Ed25519"):
		return "b= does not verify: a signed header field changed after signing (or the key is not the signer's)"
	case strings.Contains(s, "key"):
		return "no usable public key in DNS"
	}
	return s
}

// formatDKIM shows msg's signatures tag by tag and the verdicts.
func formatDKIM(z *lab.Zone, msg []byte) string {
	var b strings.Builder
	rs, err := verifyDKIM(z, msg)
	if err != nil {
		fmt.Fprintf(&b, "%s\n", render.Escape(err.Error()))
		return b.String()
	}
	if len(rs) == 0 {
		b.WriteString("no DKIM-Signature field: dkim=none (RFC 8601 §2.7.1)\n")
		return b.String()
	}
	for _, r := range rs {
		b.WriteString("DKIM-Signature (RFC 6376 §3.5):\n")
		for _, t := range r.tags {
			v := t[1]
			if len(v) > 44 {
				v = v[:20] + "…" + v[len(v)-20:]
			}
			fmt.Fprintf(&b, "  %-3s %-44s %s\n", render.Escape(t[0])+"=", render.Escape(v), dkimTagMeaning(t[0], t[1], r.tags))
		}
		keyName := r.selector + "._domainkey." + r.domain
		if txt, err := z.LookupTXT(keyName); err == nil {
			fmt.Fprintf(&b, "key: %s TXT %q\n", keyName, strings.Join(txt, ""))
		} else {
			fmt.Fprintf(&b, "key: %s: no TXT record\n", keyName)
		}
		if r.pass {
			fmt.Fprintf(&b, "result: dkim=pass header.d=%s header.s=%s: the signed fields and the body are as %s signed them\n", r.domain, r.selector, r.domain)
		} else {
			fmt.Fprintf(&b, "result: dkim=fail header.d=%s header.s=%s: %s\n", r.domain, r.selector, dkimFailure(r.err))
		}
	}
	return b.String()
}

// organizationalDomain is d's registered domain by the Public Suffix List
// (RFC 7489 §3.2); d itself when the list has no answer.
func organizationalDomain(d string) string {
	d = canonicalDomain(d)
	if org, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return org
	}
	return d
}

// aligned reports whether an authenticated domain aligns with the From
// domain (RFC 7489 §3.1): strict ("s") needs the same name, relaxed ("r",
// the default) the same organizational domain.
func aligned(authDomain, fromDomain string, mode dmarc.AlignmentMode) bool {
	a, f := canonicalDomain(authDomain), canonicalDomain(fromDomain)
	if a == "" || f == "" {
		return false
	}
	if mode == dmarc.AlignmentStrict {
		return a == f
	}
	return organizationalDomain(a) == organizationalDomain(f)
}

// dmarcEval is the DMARC evaluation of one message.
type dmarcEval struct {
	err error // the message could not be read

	from, fromDomain string
	recordDomain     string // where the DMARC record was found
	record           string
	rec              *dmarc.Record
	policy           dmarc.Policy // p=, or sp= for a subdomain

	clientIP            net.IP
	mailFrom, spfDomain string
	spf                 spfCheck
	spfAligned          bool
	dkim                []dkimResult
	dkimAligned         bool
	dkimErr             error
	pass                bool
	spfMode, dkimMode   dmarc.AlignmentMode
}

// evalDMARC works out DMARC for msg as the lab's MX would: the client IP
// from the top Received field (the one the receiving MX wrote), the
// envelope sender from Return-Path (RFC 5321 §4.4), SPF and DKIM over z.
func evalDMARC(z *lab.Zone, msg []byte) dmarcEval {
	var ev dmarcEval
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		ev.err = fmt.Errorf("reading the message: %w", err)
		return ev
	}
	from, err := mail.ParseAddress(m.Header.Get("From"))
	if err != nil {
		ev.err = fmt.Errorf("the From field: %w", err)
		return ev
	}
	ev.from = from.Address
	_, ev.fromDomain, _ = strings.Cut(from.Address, "@")
	ev.fromDomain = canonicalDomain(ev.fromDomain)

	// Policy discovery (RFC 7489 §6.6.3): the From domain, then its
	// organizational domain, whose sp= then applies.
	for _, d := range []string{ev.fromDomain, organizationalDomain(ev.fromDomain)} {
		txts, _ := z.LookupTXT("_dmarc." + d)
		var recs []string
		for _, t := range txts {
			if strings.HasPrefix(t, "v=DMARC1") {
				recs = append(recs, t)
			}
		}
		if len(recs) == 1 {
			if rec, err := dmarc.Parse(recs[0]); err == nil {
				ev.recordDomain, ev.record, ev.rec = d, recs[0], rec
				ev.policy = rec.Policy
				if d != ev.fromDomain && rec.SubdomainPolicy != "" {
					ev.policy = rec.SubdomainPolicy
				}
			}
			break
		}
		if d == organizationalDomain(ev.fromDomain) {
			break
		}
	}
	ev.spfMode, ev.dkimMode = dmarc.AlignmentRelaxed, dmarc.AlignmentRelaxed
	if ev.rec != nil {
		if ev.rec.SPFAlignment != "" {
			ev.spfMode = ev.rec.SPFAlignment
		}
		if ev.rec.DKIMAlignment != "" {
			ev.dkimMode = ev.rec.DKIMAlignment
		}
	}

	ev.mailFrom = strings.Trim(strings.TrimSpace(m.Header.Get("Return-Path")), "<>")
	_, ev.spfDomain, _ = strings.Cut(ev.mailFrom, "@")
	ev.clientIP = receivedIP(m.Header.Get("Received"))
	if ev.clientIP != nil && ev.spfDomain != "" {
		ev.spf = checkSPF(z, ev.clientIP, ev.spfDomain)
		ev.spfAligned = ev.spf.result == spfPass && aligned(ev.spfDomain, ev.fromDomain, ev.spfMode)
	} else {
		ev.spf = spfCheck{result: spfNone}
	}
	ev.dkim, ev.dkimErr = verifyDKIM(z, msg)
	for _, r := range ev.dkim {
		if r.pass && aligned(r.domain, ev.fromDomain, ev.dkimMode) {
			ev.dkimAligned = true
		}
	}
	// RFC 7489 §4.2: a pass needs one aligned pass, SPF's or DKIM's.
	ev.pass = ev.spfAligned || ev.dkimAligned
	return ev
}

// receivedIP is the address in square brackets of a Received field's
// from clause, "(name [192.0.2.1])" (RFC 5321 §4.4 TCP-info).
func receivedIP(rcvd string) net.IP {
	for s := rcvd; ; {
		i := strings.IndexByte(s, '[')
		if i < 0 {
			return nil
		}
		j := strings.IndexByte(s[i:], ']')
		if j < 0 {
			return nil
		}
		lit := strings.TrimPrefix(s[i+1:i+j], "IPv6:")
		if ip := net.ParseIP(lit); ip != nil {
			return ip
		}
		s = s[i+j:]
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func alignmentName(m dmarc.AlignmentMode) string {
	if m == dmarc.AlignmentStrict {
		return "strict"
	}
	return "relaxed"
}

// alignmentRule says what mode m asks of a domain to align with from.
func alignmentRule(m dmarc.AlignmentMode, from string) string {
	if m == dmarc.AlignmentStrict {
		return "strict: it must be " + from
	}
	return "relaxed: it must be under " + organizationalDomain(from)
}

// formatDMARC writes a DMARC evaluation step by step.
func formatDMARC(ev dmarcEval) string {
	var b strings.Builder
	if ev.err != nil {
		fmt.Fprintf(&b, "%s\n", render.Escape(ev.err.Error()))
		return b.String()
	}
	fmt.Fprintf(&b, "header From: %s → domain %s (the one the reader sees; RFC 7489 §3.1)\n", render.Escape(ev.from), render.Escape(ev.fromDomain))
	if ev.rec == nil {
		fmt.Fprintf(&b, "DMARC record: none at _dmarc.%s or _dmarc.%s: DMARC does not apply (dmarc=none)\n", ev.fromDomain, organizationalDomain(ev.fromDomain))
	} else {
		fmt.Fprintf(&b, "DMARC record: _dmarc.%s TXT %q\n", ev.recordDomain, ev.record)
		fmt.Fprintf(&b, "  policy %s, SPF alignment %s (aspf), DKIM alignment %s (adkim)\n", ev.policy, alignmentName(ev.spfMode), alignmentName(ev.dkimMode))
	}
	fmt.Fprintf(&b, "SPF: client %s, envelope sender (Return-Path) %s → SPF domain %s: %s\n", ev.clientIP, render.Escape(ev.mailFrom), render.Escape(ev.spfDomain), ev.spf.result)
	fmt.Fprintf(&b, "  aligned with %s? %s (%s)\n", ev.fromDomain, yesNo(ev.spfAligned), alignmentRule(ev.spfMode, ev.fromDomain))
	switch {
	case ev.dkimErr != nil:
		fmt.Fprintf(&b, "DKIM: %s\n", render.Escape(ev.dkimErr.Error()))
	case len(ev.dkim) == 0:
		b.WriteString("DKIM: no signature (dkim=none)\n")
	}
	for _, r := range ev.dkim {
		res := "pass"
		if !r.pass {
			res = "fail: " + dkimFailure(r.err)
		}
		fmt.Fprintf(&b, "DKIM: d=%s s=%s: %s\n", r.domain, r.selector, res)
		fmt.Fprintf(&b, "  aligned with %s? %s (%s)\n", ev.fromDomain, yesNo(r.pass && aligned(r.domain, ev.fromDomain, ev.dkimMode)), alignmentRule(ev.dkimMode, ev.fromDomain))
	}
	switch {
	case ev.rec == nil:
		b.WriteString("DMARC: none: the From domain publishes no policy\n")
	case ev.pass:
		b.WriteString("DMARC: pass: an authenticated domain aligns with From (RFC 7489 §4.2)\n")
	default:
		fmt.Fprintf(&b, "DMARC: fail: no aligned pass (RFC 7489 §4.2) → policy p=%s: %s\n", ev.policy, policyVerdict(ev.policy))
	}
	return b.String()
}

// policyVerdict says what a receiver does with a failing message
// (RFC 7489 §6.3, §6.6.4).
func policyVerdict(p dmarc.Policy) string {
	switch p {
	case dmarc.PolicyReject:
		return "the receiver should reject it in SMTP (550 5.7.1)"
	case dmarc.PolicyQuarantine:
		return "the receiver should treat it as suspicious (the spam folder)"
	}
	return "the domain only asks for reports: the message is delivered as usual"
}
