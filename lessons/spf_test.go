package lessons

import (
	"net"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/lab"
)

// rfc7208Zone is RFC 7208 Appendix A's sample DNS data, with spf as
// example.com's TXT record.
func rfc7208Zone(spf string, extra ...lab.Record) *lab.Zone {
	rs := []lab.Record{
		{Name: "example.com", Type: "TXT", Value: spf},
		{Name: "example.com", Type: "A", Value: "192.0.2.10"},
		{Name: "example.com", Type: "A", Value: "192.0.2.11"},
		{Name: "amy.example.com", Type: "A", Value: "192.0.2.65"},
		{Name: "bob.example.com", Type: "A", Value: "192.0.2.66"},
		{Name: "mail-a.example.com", Type: "A", Value: "192.0.2.129"},
		{Name: "mail-b.example.com", Type: "A", Value: "192.0.2.130"},
		{Name: "example.com", Type: "MX", Pref: 10, Value: "mail-a.example.com"},
		{Name: "example.com", Type: "MX", Pref: 20, Value: "mail-b.example.com"},
		{Name: "example.org", Type: "MX", Pref: 10, Value: "mail-c.example.org"},
		{Name: "mail-c.example.org", Type: "A", Value: "192.0.2.140"},
	}
	return lab.NewZone(append(rs, extra...))
}

// TestSPFAppendixA plays RFC 7208 Appendix A.1: each record published for
// example.com and the addresses it passes; every other address of the
// appendix gets the record's -all.
func TestSPFAppendixA(t *testing.T) {
	all := []string{"192.0.2.10", "192.0.2.11", "192.0.2.65", "192.0.2.66", "192.0.2.129", "192.0.2.130", "192.0.2.131", "192.0.2.140", "192.0.2.143", "192.0.2.200"}
	tests := []struct {
		name, spf string
		pass      []string
	}{
		{"+all: any ip passes", "v=spf1 +all", all},
		{"a: 192.0.2.10 and .11 pass", "v=spf1 a -all", []string{"192.0.2.10", "192.0.2.11"}},
		{"a:example.org: none, it has no A", "v=spf1 a:example.org -all", nil},
		{"mx: .129 and .130 pass", "v=spf1 mx -all", []string{"192.0.2.129", "192.0.2.130"}},
		{"mx:example.org: .140 passes", "v=spf1 mx:example.org -all", []string{"192.0.2.140"}},
		{"mx mx:example.org", "v=spf1 mx mx:example.org -all", []string{"192.0.2.129", "192.0.2.130", "192.0.2.140"}},
		{"mx/30 mx:example.org/30", "v=spf1 mx/30 mx:example.org/30 -all", []string{"192.0.2.129", "192.0.2.130", "192.0.2.131", "192.0.2.140", "192.0.2.143"}},
		{"ip4:192.0.2.128/28: .129 passes, .65 fails", "v=spf1 ip4:192.0.2.128/28 -all", []string{"192.0.2.129", "192.0.2.130", "192.0.2.131", "192.0.2.140", "192.0.2.143"}},
		// The appendix passes 192.0.2.65 by its reverse DNS; the lab
		// has none, so ptr never matches.
		{"ptr: no reverse DNS in the lab", "v=spf1 ptr -all", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z := rfc7208Zone(tc.spf)
			for _, ip := range all {
				want := spfFail
				for _, p := range tc.pass {
					if p == ip {
						want = spfPass
					}
				}
				c := checkSPF(z, net.ParseIP(ip), "example.com")
				if c.result != want {
					t.Errorf("%s: %s, want %s\n%s", ip, c.result, want, formatSPF(net.ParseIP(ip), "example.com", c))
				}
			}
		})
	}
}

func TestSPFResults(t *testing.T) {
	extra := []lab.Record{
		{Name: "example.net", Type: "TXT", Value: "v=spf1 ip4:192.0.2.128/28 ~all"},
		{Name: "la.example.org", Type: "TXT", Value: "v=spf1 redirect=example.net"},
		{Name: "inc.example", Type: "TXT", Value: "v=spf1 include:example.net -all"},
		{Name: "inc-none.example", Type: "TXT", Value: "v=spf1 include:example.org -all"},
		{Name: "two.example", Type: "TXT", Value: "v=spf1 -all"},
		{Name: "two.example", Type: "TXT", Value: "v=spf1 +all"},
		{Name: "other-txt.example", Type: "TXT", Value: "google-site-verification=abc"},
		{Name: "v6.example", Type: "TXT", Value: "v=spf1 ip6:2001:db8::/32 ?all"},
		{Name: "macro.example", Type: "TXT", Value: "v=spf1 exists:%{i}.bl.example -all"},
		{Name: "badmech.example", Type: "TXT", Value: "v=spf1 ip5:192.0.2.1 -all"},
		{Name: "badcidr.example", Type: "TXT", Value: "v=spf1 ip4:192.0.2.0/33 -all"},
		{Name: "noall.example", Type: "TXT", Value: "v=spf1 ip4:192.0.2.1 unknown-mod=x"},
		{Name: "tworedir.example", Type: "TXT", Value: "v=spf1 redirect=example.net redirect=example.com"},
		{Name: "redir-none.example", Type: "TXT", Value: "v=spf1 redirect=example.org"},
		{Name: "void.example", Type: "TXT", Value: "v=spf1 a:n1.example a:n2.example a:n3.example -all"},
		{Name: "exists.example", Type: "TXT", Value: "v=spf1 exists:bob.example.com -all"},
		{Name: "loop.example", Type: "TXT", Value: "v=spf1 include:loop.example -all"},
		{Name: "upper.example", Type: "TXT", Value: "V=SPF1 IP4:192.0.2.1 -ALL"},
		{Name: "spf10.example", Type: "TXT", Value: "v=spf10 +all"},
	}
	z := rfc7208Zone("v=spf1 a -all", extra...)
	tests := []struct {
		name, ip, domain string
		want             spfResult
		trace            string // in formatSPF's output
	}{
		{"redirect to example.net passes", "192.0.2.129", "la.example.org", spfPass, "redirect=example.net"},
		{"redirect keeps the target's ~all", "192.0.2.1", "la.example.org", spfSoftfail, "~all"},
		{"include pass matches", "192.0.2.130", "inc.example", spfPass, "example.net says pass"},
		{"include softfail does not match", "192.0.2.1", "inc.example", spfFail, "an include only ever adds passes"},
		{"include of a domain without SPF: permerror (§5.2)", "192.0.2.1", "inc-none.example", spfPermerror, "no SPF record"},
		{"two records: permerror (§4.5)", "192.0.2.1", "two.example", spfPermerror, "2 SPF records"},
		{"no spf among TXT: none", "192.0.2.1", "other-txt.example", spfNone, "no SPF record among"},
		{"no TXT at all: none", "192.0.2.1", "nothing.example", spfNone, "no TXT record"},
		{"not a domain: none (§4.3)", "192.0.2.1", "localhost", spfNone, "not a domain"},
		{"ip6 match", "2001:db8::25", "v6.example", spfPass, "is in 2001:db8::/32"},
		{"ip6 vs IPv4 address: ?all", "192.0.2.1", "v6.example", spfNeutral, "not IPv6"},
		{"macro: permerror", "192.0.2.1", "macro.example", spfPermerror, "macro"},
		{"unknown mechanism: permerror", "192.0.2.1", "badmech.example", spfPermerror, "unknown mechanism"},
		{"prefix 33: permerror", "192.0.2.1", "badcidr.example", spfPermerror, "bad prefix length"},
		{"no match, no redirect: neutral (§4.7)", "192.0.2.2", "noall.example", spfNeutral, "neutral"},
		{"two redirects: permerror (§6)", "192.0.2.1", "tworedir.example", spfPermerror, "twice"},
		{"redirect to no SPF: permerror (§6.1)", "192.0.2.1", "redir-none.example", spfPermerror, "redirect=example.org"},
		{"three void lookups: permerror (§4.6.4)", "192.0.2.1", "void.example", spfPermerror, "found nothing"},
		{"exists", "192.0.2.1", "exists.example", spfPass, "has an A record"},
		{"include loop: permerror (§4.6.4)", "192.0.2.1", "loop.example", spfPermerror, "10"},
		{"names are case-insensitive", "192.0.2.1", "upper.example", spfPass, "matched"},
		{"v=spf10 is not v=spf1", "192.0.2.1", "spf10.example", spfNone, "no SPF record"},
		{"a over IPv6 finds no AAAA", "2001:db8::1", "example.com", spfFail, "no address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ip := net.ParseIP(tc.ip)
			c := checkSPF(z, ip, tc.domain)
			out := formatSPF(ip, tc.domain, c)
			if c.result != tc.want || !strings.Contains(out, tc.trace) {
				t.Errorf("check_host(%s, %s) = %s, want %s with %q in\n%s", tc.ip, tc.domain, c.result, tc.want, tc.trace, out)
			}
		})
	}
}

// TestSPFLab checks the answers lesson 12 relies on, on the lab's zone.
func TestSPFLab(t *testing.T) {
	z := lab.DNS()
	tests := []struct {
		ip, domain string
		want       spfResult
	}{
		{"127.0.0.1", "lab.smtpsh.test", spfPass},
		{"192.0.2.80", "lab.smtpsh.test", spfFail},
		{"192.0.2.25", "bank.example", spfPass},        // mx
		{"2001:db8:ba::25", "bank.example", spfPass},   // mx, AAAA
		{"192.0.2.80", "bank.example", spfPass},        // include:_spf
		{"2001:db8:ba::99", "bank.example", spfPass},   // include:_spf, ip6
		{"203.0.113.66", "bank.example", spfFail},      // -all
		{"127.0.0.1", "bank.example", spfFail},         // the lab spoofing the bank
		{"198.51.100.7", "shop.example", spfPass},      // a:out-7
		{"198.51.100.7", "mail.shop.example", spfPass}, // redirect
		{"203.0.113.66", "shop.example", spfSoftfail},  // ~all
		{"203.0.113.66", "bulk-mailer.example", spfPass},
	}
	for _, tc := range tests {
		c := checkSPF(z, net.ParseIP(tc.ip), tc.domain)
		if c.result != tc.want {
			t.Errorf("check_host(%s, %s) = %s, want %s\n%s", tc.ip, tc.domain, c.result, tc.want, formatSPF(net.ParseIP(tc.ip), tc.domain, c))
		}
	}
}
