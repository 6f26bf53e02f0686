package audit

import (
	"context"
	"fmt"
	"slices"
)

// minScore is the least score a best guess needs; below it the fingerprint
// says "unknown": one shared phrase is not an identification.
const minScore = 4

// Fingerprint is what the server's own wording says it is.
type Fingerprint struct {
	// Product is the best guess (ProductPostfix, …, ProductLab) or
	// ProductUnknown.
	Product string `json:"product"`
	// Score is the sum of the weights of the best guess's matched rules.
	Score int `json:"score"`
	// Reason says why the result is unknown, or how far ahead the best
	// guess is.
	Reason string `json:"reason"`
	// Evidence lists the best guess's matched rules with the lines that
	// matched them.
	Evidence []Match `json:"evidence,omitempty"`
	// Candidates lists every product with a score above zero, best first.
	Candidates []Candidate `json:"candidates,omitempty"`
	// Banner, EHLO and Help are the replies as received.
	Banner []string `json:"banner,omitempty"`
	EHLO   []string `json:"ehlo,omitempty"`
	Help   []string `json:"help,omitempty"`
	// Probes are all exchanges, by probe name.
	Probes map[string]Exchange `json:"probes,omitempty"`
}

// Match is one rule that matched.
type Match struct {
	Probe  string `json:"probe"`
	Line   string `json:"line"`
	Weight int    `json:"weight"`
	Source string `json:"source"`
}

// Candidate is one product's score.
type Candidate struct {
	Product string `json:"product"`
	Score   int    `json:"score"`
}

// Fingerprint connects, collects the banner, EHLO and HELP and the replies
// to a few harmless probes, and matches them against the signatures.
func (a *Auditor) Fingerprint(ctx context.Context) (*Fingerprint, error) {
	fp := &Fingerprint{Product: ProductUnknown, Probes: map[string]Exchange{}}
	c, err := a.open(ctx)
	tries := 0
	for err != nil && lostConnection(err) {
		if c, err = a.reconnect(ctx, &tries, err); err == nil {
			break
		}
		if !lostConnection(err) {
			break
		}
	}
	if err != nil {
		fp.Reason = "could not talk to the server: " + err.Error()
		return fp, nil
	}
	defer c.quit(ctx)
	fp.Probes[ProbeBanner] = c.greeting
	fp.Probes[ProbeEHLO] = c.hello
	fp.Banner, fp.EHLO = c.greeting.Reply, c.hello.Reply
	for _, p := range fingerprintProbes {
		ex, err := c.cmd(ctx, p.command)
		fp.Probes[p.probe] = ex
		if p.probe == ProbeHelp {
			fp.Help = ex.Reply
		}
		if p.probe == ProbeMailSyntax && ex.Code/100 == 2 {
			// A server that took it has a transaction open now.
			if _, err := c.cmd(ctx, "RSET"); err != nil {
				break
			}
		}
		if err != nil {
			c.note("fingerprint: stopped at %s: %v", p.command, err)
			break
		}
	}
	matchSignatures(fp)
	c.note("fingerprint: %s (score %d): %s", fp.Product, fp.Score, fp.Reason)
	return fp, nil
}

// matchSignatures scores fp.Probes against every signature and sets the
// best guess, or "unknown" with the reason.
func matchSignatures(fp *Fingerprint) {
	fp.Product, fp.Score, fp.Evidence, fp.Candidates = ProductUnknown, 0, nil, nil
	best := map[string][]Match{}
	for _, sig := range signatureTable() {
		score := 0
		var ev []Match
		for _, r := range sig.rules {
			ex, ok := fp.Probes[r.probe]
			if !ok {
				continue
			}
			for _, l := range ex.Reply {
				if r.re.MatchString(l) {
					score += r.weight
					ev = append(ev, Match{Probe: r.probe, Line: l, Weight: r.weight, Source: r.source})
					break
				}
			}
		}
		if score > 0 {
			fp.Candidates = append(fp.Candidates, Candidate{sig.product, score})
			best[sig.product] = ev
		}
	}
	slices.SortStableFunc(fp.Candidates, func(x, y Candidate) int { return y.Score - x.Score })
	if promiscuous(fp) {
		fp.Reason = "the server answered every probe, an unknown command and a broken MAIL included, with 2xx: it accepts anything, so its replies say nothing about what it is"
		return
	}
	switch {
	case len(fp.Probes) == 0:
		fp.Reason = "no replies to match"
	case len(fp.Candidates) == 0:
		fp.Reason = "no signature matched any reply"
	case fp.Candidates[0].Score < minScore:
		fp.Reason = fmt.Sprintf("the best match, %s, scored %d, below %d: too little to name it", fp.Candidates[0].Product, fp.Candidates[0].Score, minScore)
	case len(fp.Candidates) > 1 && fp.Candidates[1].Score == fp.Candidates[0].Score:
		fp.Reason = fmt.Sprintf("%s and %s match equally (%d)", fp.Candidates[0].Product, fp.Candidates[1].Product, fp.Candidates[0].Score)
	default:
		top := fp.Candidates[0]
		fp.Product, fp.Score, fp.Evidence = top.Product, top.Score, best[top.Product]
		if len(fp.Candidates) > 1 {
			fp.Reason = fmt.Sprintf("%d matching rule(s), ahead of %s (%d)", len(fp.Evidence), fp.Candidates[1].Product, fp.Candidates[1].Score)
		} else {
			fp.Reason = fmt.Sprintf("%d matching rule(s), no other candidate", len(fp.Evidence))
		}
	}
}

// promiscuous reports whether the probes that every real server refuses
// (an unknown command, a broken MAIL) were accepted.
func promiscuous(fp *Fingerprint) bool {
	u, ok1 := fp.Probes[ProbeUnknown]
	m, ok2 := fp.Probes[ProbeMailSyntax]
	return ok1 && ok2 && u.Code/100 == 2 && m.Code/100 == 2
}

// IsLab reports whether fp says "smtpsh lab" and the server's address is a
// loopback address: the only target the auditor sends mail to, or smuggles
// to without the owner's word.
func (a *Auditor) IsLab(fp *Fingerprint) bool {
	return fp != nil && fp.Product == ProductLab && a.cfg.Dial.Proxy == "" && loopback(a.remote)
}
