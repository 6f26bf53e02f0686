package audit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// RelayPattern is one of nmap smtp-open-relay.nse's sixteen sender and
// recipient combinations, with the trick it tries.
type RelayPattern struct {
	// Name is short and stable, for reports and tests ("percent-hack-ip").
	Name string `json:"name"`
	// From and To are the paths inside MAIL FROM:<…> and RCPT TO:<…>.
	From string `json:"from"`
	To   string `json:"to"`
	// History says where the trick comes from and which servers fell for it.
	History string `json:"history"`
}

// RelayPatterns returns nmap's sixteen tests in nmap's order
// (/usr/share/nmap/scripts/smtp-open-relay.nse, "Antispam tests"), for
// sender and recipient local parts from and to, a foreign domain, the
// server's IP address ip and the name srv it gives itself.
func RelayPatterns(from, to, domain, ip, srv string) []RelayPattern {
	lit := "[" + ip + "]"
	return []RelayPattern{
		{"null-sender", "", to + "@" + domain,
			"the null reverse-path of bounces (RFC 5321 §4.5.5); servers that let bounces through relayed anything sent as one"},
		{"plain", from + "@" + domain, to + "@" + domain,
			"a stranger's mail to a stranger: the classic open relay, Sendmail's default until 8.9 (1998)"},
		{"sender-server-name", from + "@" + srv, to + "@" + domain,
			"a sender claiming the server's own domain: relays that trusted local senders (Sendmail's FEATURE(relay_local_from))"},
		{"sender-server-ip", from + "@" + lit, to + "@" + domain,
			"a sender at the server's address literal (RFC 5321 §4.1.3)"},
		{"percent-hack-ip", from + "@" + lit, to + "%" + domain + "@" + lit,
			"the % hack: user%domain@relay, forwarded by servers that turn the last % into @ (RFC 1123 §5.2.16 discourages it; Postfix's allow_percent_hack)"},
		{"percent-hack-name", from + "@" + lit, to + "%" + domain + "@" + srv,
			"the % hack addressed to the server's own name"},
		{"quoted-address", from + "@" + lit, `"` + to + "@" + domain + `"`,
			"an address hidden in a quoted local part: the relay check sees no domain, a later rewrite strips the quotes (Sendmail 8.8 era)"},
		{"quoted-percent", from + "@" + lit, `"` + to + "%" + domain + `"`,
			"the % hack inside a quoted local part"},
		{"double-at-ip", from + "@" + lit, to + "@" + domain + "@" + lit,
			"two @: the check reads the last domain, the router the first"},
		{"quoted-at-ip", from + "@" + lit, `"` + to + "@" + domain + `"@` + lit,
			"a quoted address at the server's literal: local to the check, foreign to the router"},
		{"double-at-name", from + "@" + lit, to + "@" + domain + "@" + srv,
			"two @ with the server's own name last"},
		{"source-route-ip", from + "@" + lit, "@" + lit + ":" + to + "@" + domain,
			"an RFC 821 source route through the server's literal; RFC 5321 §4.1.1.3 and §C say ignore routes, servers that followed them relayed"},
		{"source-route-name", from + "@" + lit, "@" + srv + ":" + to + "@" + domain,
			"a source route through the server's own name"},
		{"bang-path", from + "@" + lit, domain + "!" + to,
			"a UUCP bang path (RFC 976): host!user routing from before the DNS"},
		{"bang-path-ip", from + "@" + lit, domain + "!" + to + "@" + lit,
			"a bang path at the server's literal: local to the check, routed onward by a UUCP-aware rewrite"},
		{"bang-path-name", from + "@" + lit, domain + "!" + to + "@" + srv,
			"a bang path at the server's own name"},
	}
}

// RelayOptions configures RelayTest. Zero fields take nmap's defaults.
type RelayOptions struct {
	// From and To are the local parts; "antispam" and "relaytest".
	From, To string
	// Domain is the foreign domain; "nmap.scanme.org" as nmap.
	Domain string
	// IP is the address in the literals; the server's address when empty.
	IP string
	// Send goes past RCPT and sends a short test message for each
	// accepted pattern. Only the smtpsh lab on loopback is accepted as a
	// target: Fingerprint must say so (see IsLab).
	Send bool
	// Fingerprint is the target's fingerprint, needed by Send.
	Fingerprint *Fingerprint
}

// Verdicts of RelayTest and Smuggle.
const (
	VerdictOpenRelay  = "open relay"
	VerdictNotRelay   = "not an open relay"
	VerdictVulnerable = "vulnerable"
	VerdictNotVuln    = "not vulnerable"
	VerdictUnknown    = "unknown"
	VerdictAuthNeeded = "not an open relay (authentication needed)"
)

// RelayAttempt is one pattern's outcome.
type RelayAttempt struct {
	Pattern  RelayPattern `json:"pattern"`
	Mail     Exchange     `json:"mail"`
	Rcpt     *Exchange    `json:"rcpt,omitempty"`
	Accepted bool         `json:"accepted"`
	// Data is the reply to the message's end when Send was given.
	Data *Exchange `json:"data,omitempty"`
}

// RelayResult is the open-relay verdict.
type RelayResult struct {
	Verdict  string         `json:"verdict"`
	Accepted []string       `json:"accepted,omitempty"`
	Attempts []RelayAttempt `json:"attempts"`
	Reason   string         `json:"reason"`
	Sent     bool           `json:"sent,omitempty"`
	// Controls are the exchanges of the control probe asked after the
	// patterns when one was accepted: an unknown command and a broken
	// RCPT, which every real server refuses. When one got 2xx too the
	// verdict is unknown: the server answers everything so.
	Controls []Exchange `json:"controls,omitempty"`
}

// ErrNotLab is returned when an option that sends mail is used on a server
// that is not the smtpsh lab on loopback.
var ErrNotLab = errors.New("refusing to send: the target is not the smtpsh lab on a loopback address (the fingerprint must say \"smtpsh lab\" and the address must be loopback)")

// RelayTest tries nmap's sixteen patterns, RSET before each, stopping at
// RCPT unless opts.Send. When a pattern was accepted it then asks the
// control probe (an unknown command, a broken RCPT): a server that accepts
// those too answers everything with 2xx, and the verdict is unknown.
func (a *Auditor) RelayTest(ctx context.Context, opts RelayOptions) (*RelayResult, error) {
	if opts.Send && !a.IsLab(opts.Fingerprint) {
		return nil, ErrNotLab
	}
	if opts.From == "" {
		opts.From = "antispam"
	}
	if opts.To == "" {
		opts.To = "relaytest"
	}
	if opts.Domain == "" {
		opts.Domain = "nmap.scanme.org"
	}
	for _, s := range []string{opts.From, opts.To, opts.Domain, opts.IP} {
		if err := checkUser(s); s != "" && err != nil {
			return nil, err
		}
	}
	res := &RelayResult{Verdict: VerdictUnknown}
	tries := 0
	c, err := a.open(ctx)
	for err != nil && lostConnection(err) {
		c, err = a.reconnect(ctx, &tries, err)
	}
	if err != nil {
		res.Reason = "could not talk to the server: " + err.Error()
		return res, nil
	}
	defer func() { c.quit(ctx) }()
	ip := opts.IP
	if ip == "" {
		ip, _, _ = net.SplitHostPort(a.remote.String())
		if strings.Contains(ip, ":") {
			ip = "IPv6:" + ip // RFC 5321 §4.1.3
		}
	}
	srv := c.serverName()
	if srv == "" {
		srv = "localhost"
	}
	patterns := RelayPatterns(opts.From, opts.To, opts.Domain, ip, srv)
	for i := 0; i < len(patterns); i++ {
		p := patterns[i]
		at, err := a.relayOne(ctx, c, p, opts.Send)
		if err != nil && lostConnection(err) {
			if c, err = a.reconnect(ctx, &tries, err); err == nil {
				i-- // the same pattern again on the new connection
				continue
			}
		}
		if err != nil {
			res.Attempts = append(res.Attempts, at)
			res.Reason = fmt.Sprintf("stopped at pattern %d (%s): %v", i+1, p.Name, err)
			if len(res.Accepted) > 0 {
				res.Verdict = VerdictOpenRelay
			}
			return res, nil
		}
		res.Attempts = append(res.Attempts, at)
		if at.Mail.Code == 530 || at.Rcpt != nil && at.Rcpt.Code == 530 {
			// nmap: "Server isn't an open relay, authentication needed".
			res.Verdict = VerdictAuthNeeded
			res.Reason = "the server wants AUTH before relaying (530, RFC 4954 §6): " + at.Mail.String()
			if at.Rcpt != nil {
				res.Reason = "the server wants AUTH before relaying (530, RFC 4954 §6): " + at.Rcpt.String()
			}
			return res, nil
		}
		if at.Accepted {
			res.Accepted = append(res.Accepted, p.Name)
			res.Sent = res.Sent || at.Data != nil
		}
	}
	var ctlErr error
	if len(res.Accepted) > 0 {
		// A 2xx to RCPT means something only from a server that can
		// refuse: ask it what no real server accepts.
		ctl, err := relayControls(ctx, c)
		res.Controls = ctl
		if even, code := acceptedNonsense(ctl); len(even) > 0 {
			res.Reason = answersEverything(code, even, "acceptance proves nothing without sending")
			return res, nil
		}
		if err != nil {
			ctlErr = err
		}
	}
	accepted := 0
	for _, at := range res.Attempts {
		if at.Mail.Code/100 == 2 {
			accepted++
		}
	}
	switch {
	case len(res.Accepted) > 0:
		res.Verdict = VerdictOpenRelay
		res.Reason = fmt.Sprintf("%d/16 patterns accepted at RCPT: %s", len(res.Accepted), strings.Join(res.Accepted, ", "))
	case accepted == 0:
		res.Reason = "MAIL was refused for every pattern, so RCPT was never tried"
	default:
		res.Verdict = VerdictNotRelay
		res.Reason = "every pattern's RCPT was refused"
	}
	if ctlErr != nil {
		res.Reason += fmt.Sprintf(" (the control probe after them could not finish: %v)", ctlErr)
	}
	return res, nil
}

// relayOne runs one pattern: RSET, MAIL, RCPT and, with send, DATA.
func (a *Auditor) relayOne(ctx context.Context, c *conn, p RelayPattern, send bool) (RelayAttempt, error) {
	at := RelayAttempt{Pattern: p}
	if _, err := c.cmd(ctx, "RSET"); err != nil {
		return at, err
	}
	ex, err := c.cmd(ctx, "MAIL FROM:<"+p.From+">")
	at.Mail = ex
	if err != nil || ex.Code/100 != 2 {
		return at, err
	}
	ex, err = c.cmd(ctx, "RCPT TO:<"+p.To+">")
	at.Rcpt = &ex
	if err != nil {
		return at, err
	}
	at.Accepted = ex.Code/100 == 2
	if !at.Accepted || !send {
		return at, nil
	}
	ex, err = c.cmd(ctx, "DATA")
	if err != nil || ex.Code != 354 {
		at.Data = &ex
		return at, err
	}
	msg := "From: <" + p.From + ">\r\nTo: <" + p.To + ">\r\nSubject: smtpsh relay test " + p.Name + "\r\n\r\nsmtpsh audit: relay pattern " + p.Name + ".\r\n.\r\n"
	if err := c.writeData([]byte(msg)); err != nil {
		return at, err
	}
	ex, err = c.read(ctx, ".")
	at.Data = &ex
	return at, err
}
