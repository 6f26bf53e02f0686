package audit

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Scope says who an audit will touch, before it touches anyone.
type Scope struct {
	// Target is the server as given ("host:port").
	Target string `json:"target"`
	// Addresses are the addresses the host name resolves to (the host
	// itself when it is an address; empty when it could not be resolved).
	Addresses []string `json:"addresses,omitempty"`
	// Loopback is true when every address is a loopback address: the
	// audit stays on this machine.
	Loopback bool `json:"loopback"`
	// Proxy is the proxy the audit goes through, if any: the target is
	// then seen by, and resolved from, the proxy.
	Proxy string `json:"proxy,omitempty"`
	// NeedsConfirmation is true when the target is not this machine: the
	// person running the audit must say it is theirs to test.
	NeedsConfirmation bool `json:"needs_confirmation"`
	// Summary says the above in a sentence for people.
	Summary string `json:"summary"`
}

// Resolver looks host names up; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ScopeOf works out who auditing target (host:port) through proxy ("" for
// none) would touch. r resolves names; nil means net.DefaultResolver.
// A name that does not resolve, and any target behind a proxy, counts as
// not loopback: when in doubt, ask.
func ScopeOf(ctx context.Context, target, proxy string, r Resolver) Scope {
	s := Scope{Target: target, Proxy: proxy}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		host = target
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		s.Addresses = []string{a.String()}
		s.Loopback = a.IsLoopback()
	} else if proxy == "" {
		if r == nil {
			r = net.DefaultResolver
		}
		addrs, err := r.LookupNetIP(ctx, "ip", host)
		if err == nil && len(addrs) > 0 {
			s.Loopback = true
			for _, a := range addrs {
				s.Addresses = append(s.Addresses, a.Unmap().String())
				s.Loopback = s.Loopback && a.IsLoopback()
			}
		}
	}
	if proxy != "" {
		s.Loopback = false
	}
	s.NeedsConfirmation = !s.Loopback
	switch {
	case s.Loopback:
		s.Summary = fmt.Sprintf("will connect to %s (%s): this machine only", target, strings.Join(s.Addresses, ", "))
	case proxy != "":
		s.Summary = fmt.Sprintf("will connect to %s through the proxy %s: another machine; audit only servers you are allowed to test", target, proxy)
	case len(s.Addresses) == 0:
		s.Summary = fmt.Sprintf("will connect to %s (not resolved here): audit only servers you are allowed to test", target)
	default:
		s.Summary = fmt.Sprintf("will connect to %s (%s): another machine; audit only servers you are allowed to test", target, strings.Join(s.Addresses, ", "))
	}
	return s
}

// loopback reports whether addr is a loopback TCP address.
func loopback(addr net.Addr) bool {
	if addr == nil {
		return false
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
