package lab

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// Record is one DNS resource record of the lab's built-in zone.
type Record struct {
	// Name is the owner name, lower case, without the trailing dot.
	Name string
	// Type is "A", "AAAA", "MX" or "TXT".
	Type string
	// TTL is in seconds; shown as dig shows it, never counted down.
	TTL int
	// Pref is an MX record's preference (RFC 5321 §5.1: lower first).
	Pref int
	// Value is the address (A, AAAA), the exchange's host name (MX) or the
	// text (TXT; a long one is several strings joined, RFC 7208 §3.3).
	Value string
}

// Zone is a fixed set of DNS records the lab answers from, so that SPF,
// DKIM and DMARC can be learnt with no network. It is read-only once made.
type Zone struct {
	records []Record
}

// NewZone returns a zone holding records (copied); names are matched
// without case and without a trailing dot.
func NewZone(records []Record) *Zone {
	z := &Zone{records: make([]Record, len(records))}
	for i, r := range records {
		r.Name = canonicalName(r.Name)
		r.Type = strings.ToUpper(r.Type)
		if r.Type == "MX" {
			r.Value = canonicalName(r.Value)
		}
		z.records[i] = r
	}
	return z
}

// The lab's signing keys (RFC 8463 Ed25519, RFC 6376 §3.6.1 key records).
// The private halves exist only in lessons' sample generator test, derived
// from a seed there.
const (
	labDKIMKey  = "iOpEqMiqGExFpCoUhKll8BiEDzYceZJstu/4AxYDrN0="
	shopDKIMKey = "tsvBbAK087ZIBGv0dW7najX2XRNNjv21Iq8upliCmh0="
	bulkDKIMKey = "rot2q7jWrzRZ8V/Zs2sDkoIZl0SXyCwgg4hLKURJyLg="
)

// DNS returns the lab's built-in zone: a few domains with the MX, A, SPF,
// DKIM and DMARC records lesson 12 works on. Addresses are from the
// documentation ranges (RFC 5737, RFC 3849) and loopback; names are
// under .test and .example (RFC 2606), so none can be confused with a real
// domain.
//
//   - lab.smtpsh.test: the lab itself, sending from loopback; strict SPF
//     (-all), DMARC p=reject with relaxed alignment, DKIM selector "lab".
//   - bank.example: a careful sender: SPF through mx and include, -all,
//     DMARC p=reject with strict alignment.
//   - shop.example: a relaxed one: SPF ~all, DMARC p=none; its bounces come
//     from mail.shop.example, whose SPF redirects to shop.example.
//   - bulk-mailer.example: a bulk sender with SPF and DKIM but no DMARC.
func DNS() *Zone {
	const ttl = 3600
	return NewZone([]Record{
		{Name: "lab.smtpsh.test", Type: "A", TTL: ttl, Value: "127.0.0.1"},
		{Name: "lab.smtpsh.test", Type: "AAAA", TTL: ttl, Value: "::1"},
		{Name: "lab.smtpsh.test", Type: "MX", TTL: ttl, Pref: 10, Value: "lab.smtpsh.test"},
		{Name: "lab.smtpsh.test", Type: "TXT", TTL: ttl, Value: "v=spf1 ip4:127.0.0.0/8 -all"},
		{Name: "_dmarc.lab.smtpsh.test", Type: "TXT", TTL: ttl, Value: "v=DMARC1; p=reject; adkim=r; aspf=r; rua=mailto:postmaster@lab.smtpsh.test"},
		{Name: "lab._domainkey.lab.smtpsh.test", Type: "TXT", TTL: ttl, Value: "v=DKIM1; k=ed25519; p=" + labDKIMKey},

		{Name: "bank.example", Type: "A", TTL: ttl, Value: "192.0.2.80"},
		{Name: "bank.example", Type: "MX", TTL: ttl, Pref: 10, Value: "mx1.bank.example"},
		{Name: "bank.example", Type: "MX", TTL: ttl, Pref: 20, Value: "mx2.bank.example"},
		{Name: "bank.example", Type: "TXT", TTL: ttl, Value: "v=spf1 mx include:_spf.bank.example -all"},
		{Name: "_spf.bank.example", Type: "TXT", TTL: ttl, Value: "v=spf1 ip4:192.0.2.64/26 ip6:2001:db8:ba::/48 -all"},
		{Name: "_dmarc.bank.example", Type: "TXT", TTL: ttl, Value: "v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s; pct=100; rua=mailto:dmarc-reports@bank.example"},
		{Name: "mx1.bank.example", Type: "A", TTL: ttl, Value: "192.0.2.25"},
		{Name: "mx1.bank.example", Type: "AAAA", TTL: ttl, Value: "2001:db8:ba::25"},
		{Name: "mx2.bank.example", Type: "A", TTL: ttl, Value: "192.0.2.26"},
		{Name: "mail.bank.example", Type: "A", TTL: ttl, Value: "192.0.2.80"},
		{Name: "smtp-out.bank.example", Type: "A", TTL: ttl, Value: "192.0.2.80"},

		{Name: "shop.example", Type: "A", TTL: ttl, Value: "198.51.100.10"},
		{Name: "shop.example", Type: "MX", TTL: ttl, Pref: 10, Value: "mx.shop.example"},
		{Name: "shop.example", Type: "TXT", TTL: ttl, Value: "v=spf1 a:out-7.mail.shop.example mx ~all"},
		{Name: "_dmarc.shop.example", Type: "TXT", TTL: ttl, Value: "v=DMARC1; p=none; rua=mailto:dmarc@shop.example"},
		{Name: "s2025._domainkey.shop.example", Type: "TXT", TTL: ttl, Value: "v=DKIM1; k=ed25519; p=" + shopDKIMKey},
		{Name: "mx.shop.example", Type: "A", TTL: ttl, Value: "198.51.100.10"},
		{Name: "mail.shop.example", Type: "TXT", TTL: ttl, Value: "v=spf1 redirect=shop.example"},
		{Name: "out-7.mail.shop.example", Type: "A", TTL: ttl, Value: "198.51.100.7"},

		{Name: "bulk-mailer.example", Type: "TXT", TTL: ttl, Value: "v=spf1 ip4:203.0.113.0/24 ~all"},
		{Name: "bulk-mailer.example", Type: "MX", TTL: ttl, Pref: 10, Value: "mx.bulk-mailer.example"},
		{Name: "mx.bulk-mailer.example", Type: "A", TTL: ttl, Value: "203.0.113.10"},
		{Name: "mk1._domainkey.bulk-mailer.example", Type: "TXT", TTL: ttl, Value: "v=DKIM1; k=ed25519; p=" + bulkDKIMKey},
	})
}

// canonicalName lower-cases name and drops a trailing dot.
func canonicalName(name string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
}

// Lookup returns the records of type typ ("A", "AAAA", "MX", "TXT" or
// "ANY", any case) at name, in the zone's order (MX sorted by
// preference). A name the zone does not hold, or a type it does not know,
// is an error, as a resolver's would be: a *net.DNSError with IsNotFound
// set when the name or the type has no records (NXDOMAIN and NODATA, both
// "void lookups" to RFC 7208 §4.6.4).
func (z *Zone) Lookup(typ, name string) ([]Record, error) {
	typ = strings.ToUpper(strings.TrimSpace(typ))
	name = canonicalName(name)
	switch typ {
	case "A", "AAAA", "MX", "TXT", "ANY":
	default:
		return nil, fmt.Errorf("lab dns: record type %q: the lab knows A, AAAA, MX, TXT and ANY", typ)
	}
	var rs []Record
	exists := false
	for _, r := range z.records {
		if r.Name != name {
			continue
		}
		exists = true
		if typ == "ANY" || r.Type == typ {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		msg := "no such host" // NXDOMAIN
		if exists {
			msg = "no " + typ + " record" // NODATA
		}
		return nil, &net.DNSError{Err: msg, Name: name, IsNotFound: true}
	}
	slices.SortStableFunc(rs, func(a, b Record) int {
		if a.Type == "MX" && b.Type == "MX" {
			return a.Pref - b.Pref
		}
		return 0
	})
	return rs, nil
}

// LookupTXT returns the texts of name's TXT records, with the signature
// of net.LookupTXT, so it can stand in for it (DKIM and DMARC lookups).
func (z *Zone) LookupTXT(name string) ([]string, error) {
	rs, err := z.Lookup("TXT", name)
	if err != nil {
		return nil, err
	}
	txt := make([]string, len(rs))
	for i, r := range rs {
		txt[i] = r.Value
	}
	return txt, nil
}

// LookupMX returns name's MX records, by preference.
func (z *Zone) LookupMX(name string) ([]*net.MX, error) {
	rs, err := z.Lookup("MX", name)
	if err != nil {
		return nil, err
	}
	mx := make([]*net.MX, len(rs))
	for i, r := range rs {
		mx[i] = &net.MX{Host: r.Value, Pref: uint16(r.Pref)}
	}
	return mx, nil
}

// LookupIP returns name's addresses: its A records, its AAAA records, or
// both for network "ip" ("ip4", "ip6" or "ip", as net.Resolver.LookupIP).
func (z *Zone) LookupIP(network, name string) ([]net.IP, error) {
	var types []string
	switch network {
	case "ip4":
		types = []string{"A"}
	case "ip6":
		types = []string{"AAAA"}
	case "ip":
		types = []string{"A", "AAAA"}
	default:
		return nil, fmt.Errorf("lab dns: network %q: want ip4, ip6 or ip", network)
	}
	var ips []net.IP
	var err error
	for _, t := range types {
		rs, lerr := z.Lookup(t, name)
		if lerr != nil {
			err = lerr
			continue
		}
		for _, r := range rs {
			if ip := net.ParseIP(r.Value); ip != nil {
				ips = append(ips, ip)
			}
		}
	}
	if len(ips) == 0 {
		if err == nil {
			err = &net.DNSError{Err: "no address", Name: canonicalName(name), IsNotFound: true}
		}
		return nil, err
	}
	return ips, nil
}

// Names returns the zone's owner names, sorted, each once.
func (z *Zone) Names() []string {
	var ns []string
	for _, r := range z.records {
		if !slices.Contains(ns, r.Name) {
			ns = append(ns, r.Name)
		}
	}
	slices.Sort(ns)
	return ns
}

// String formats r as a line of dig's answer section: name with its dot,
// TTL, class, type, data (a TXT record's text quoted, split into strings of
// at most 255 octets as RFC 1035 §3.3.14 requires on the wire).
func (r Record) String() string {
	data := r.Value
	switch r.Type {
	case "MX":
		data = fmt.Sprintf("%d %s.", r.Pref, r.Value)
	case "TXT":
		var parts []string
		for s := r.Value; ; s = s[255:] {
			if len(s) <= 255 {
				parts = append(parts, fmt.Sprintf("%q", s))
				break
			}
			parts = append(parts, fmt.Sprintf("%q", s[:255]))
		}
		data = strings.Join(parts, " ")
	}
	return fmt.Sprintf("%s.\t%d\tIN\t%s\t%s", r.Name, r.TTL, r.Type, data)
}
