package lab

import (
	"strings"
	"sync"
	"time"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

// recipient is what the lab decided about one RCPT address.
type recipient struct {
	local     bool     // in a local domain
	known     bool     // a user, alias or list (local only)
	mailboxes []string // users it delivers to (local, known)
	isList    bool     // the name is a list (VRFY/EXPN)
}

// isLocalDomain reports whether mail for domain is delivered here
// (RFC 5321 §2.3.5: domains are compared case-insensitively).
func (p *Profile) isLocalDomain(domain string) bool {
	if strings.EqualFold(domain, p.Domain) || strings.EqualFold(domain, p.Hostname) {
		return true
	}
	for _, d := range p.LocalDomains {
		if strings.EqualFold(domain, d) {
			return true
		}
	}
	return false
}

// lookup resolves a mailbox. RCPT TO:<Postmaster> without a domain is local
// (RFC 5321 §4.1.1.3). Local parts are compared case-insensitively, as
// Postfix folds them.
func (p *Profile) lookup(mb smtp.Mailbox) recipient {
	if mb.Domain == "" && mb.Literal.IsZero() {
		if !mb.IsPostmaster() {
			return recipient{}
		}
	} else if !mb.Literal.IsZero() || !p.isLocalDomain(mb.Domain) {
		return recipient{}
	}
	r := p.lookupName(mb.LocalPart)
	r.local = true
	return r
}

// lookupName resolves a bare local name ("alice", "team").
func (p *Profile) lookupName(name string) recipient {
	name = strings.ToLower(name)
	r := recipient{local: true}
	if !validLocalName(name) {
		return r
	}
	ms, err := p.expand(name)
	if err != nil {
		return r
	}
	_, r.isList = p.Lists[name]
	r.known, r.mailboxes = true, ms
	return r
}

// postmasterMailboxes is where mail for unknown local users goes when the
// profile accepts it: the postmaster's mailboxes, or "postmaster".
func (p *Profile) postmasterMailboxes() []string {
	if r := p.lookupName("postmaster"); r.known {
		return r.mailboxes
	}
	return []string{"postmaster"}
}

// maxGreylistEntries bounds the greylist's memory; beyond it, the oldest
// half is forgotten (those clients are greylisted again, which is safe).
const maxGreylistEntries = 100000

// greylist remembers (client address, sender, recipient) triples.
type greylist struct {
	mu    sync.Mutex
	first map[string]time.Time
}

func newGreylist() *greylist { return &greylist{first: map[string]time.Time{}} }

// check reports whether the triple may pass now, and if not, how long the
// client must still wait.
func (g *greylist) check(now time.Time, delay time.Duration, ip, from, rcpt string) (bool, time.Duration) {
	key := ip + "\x00" + strings.ToLower(from) + "\x00" + strings.ToLower(rcpt)
	g.mu.Lock()
	defer g.mu.Unlock()
	t, seen := g.first[key]
	if !seen {
		if len(g.first) >= maxGreylistEntries {
			g.prune(now)
		}
		g.first[key] = now
		return false, delay
	}
	if wait := t.Add(delay).Sub(now); wait > 0 {
		return false, wait
	}
	return true, 0
}

// prune forgets the older half of the entries.
func (g *greylist) prune(now time.Time) {
	var total time.Duration
	for _, t := range g.first {
		total += now.Sub(t) / time.Duration(len(g.first))
	}
	for k, t := range g.first {
		if now.Sub(t) >= total {
			delete(g.first, k)
		}
	}
}

// rateLimiter counts MAIL commands per client address in the last minute.
type rateLimiter struct {
	mu    sync.Mutex
	times map[string][]time.Time
}

func newRateLimiter() *rateLimiter { return &rateLimiter{times: map[string][]time.Time{}} }

// allow records an attempt from ip at now and reports whether it is within
// limit per minute.
func (r *rateLimiter) allow(now time.Time, ip string, limit int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ts := r.times[ip]
	keep := ts[:0]
	for _, t := range ts {
		if now.Sub(t) < time.Minute {
			keep = append(keep, t)
		}
	}
	if len(keep) >= limit {
		r.times[ip] = keep
		return false
	}
	r.times[ip] = append(keep, now)
	if len(r.times) > maxGreylistEntries {
		for k, v := range r.times {
			if len(v) == 0 || now.Sub(v[len(v)-1]) >= time.Minute {
				delete(r.times, k)
			}
		}
	}
	return true
}
