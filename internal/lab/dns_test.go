package lab

import (
	"errors"
	"net"
	"strings"
	"testing"
)

func TestZoneLookup(t *testing.T) {
	z := DNS()
	tests := []struct {
		name, typ, host string
		want            []string // Record.String() of each answer
		notFound        bool
		errPart         string
	}{
		{name: "spf", typ: "TXT", host: "lab.smtpsh.test",
			want: []string{"lab.smtpsh.test.\t3600\tIN\tTXT\t\"v=spf1 ip4:127.0.0.0/8 -all\""}},
		{name: "any case and trailing dot", typ: "txt", host: "LAB.smtpsh.test.",
			want: []string{"lab.smtpsh.test.\t3600\tIN\tTXT\t\"v=spf1 ip4:127.0.0.0/8 -all\""}},
		{name: "mx by preference", typ: "MX", host: "bank.example",
			want: []string{"bank.example.\t3600\tIN\tMX\t10 mx1.bank.example.", "bank.example.\t3600\tIN\tMX\t20 mx2.bank.example."}},
		{name: "aaaa", typ: "AAAA", host: "mx1.bank.example",
			want: []string{"mx1.bank.example.\t3600\tIN\tAAAA\t2001:db8:ba::25"}},
		{name: "nxdomain", typ: "TXT", host: "_dmarc.bulk-mailer.example", notFound: true, errPart: "no such host"},
		{name: "nodata", typ: "A", host: "mail.shop.example", notFound: true, errPart: "no A record"},
		{name: "unknown type", typ: "PTR", host: "lab.smtpsh.test", errPart: `record type "PTR"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := z.Lookup(tc.typ, tc.host)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("Lookup(%s, %s) = %v, %v; want an error with %q", tc.typ, tc.host, rs, err, tc.errPart)
				}
				var dnsErr *net.DNSError
				if got := errors.As(err, &dnsErr) && dnsErr.IsNotFound; got != tc.notFound {
					t.Errorf("not found = %v, want %v (%v)", got, tc.notFound, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("Lookup(%s, %s) =\n%s\nwant\n%s", tc.typ, tc.host, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestZoneConsistent checks the built-in data against itself: every MX
// exchange has an address (RFC 5321 §5.1), every domain with a DMARC record
// has SPF, and every DKIM key record is "v=DKIM1; k=ed25519; p=..." with a
// 32-byte key (RFC 8463 §4.2).
func TestZoneConsistent(t *testing.T) {
	z := DNS()
	for _, n := range z.Names() {
		mx, err := z.LookupMX(n)
		if err == nil {
			for _, m := range mx {
				if _, err := z.LookupIP("ip", m.Host); err != nil {
					t.Errorf("%s MX %s: %v", n, m.Host, err)
				}
			}
		}
		txt, _ := z.LookupTXT(n)
		for _, x := range txt {
			switch {
			case strings.HasPrefix(n, "_dmarc."):
				if spf, err := z.LookupTXT(strings.TrimPrefix(n, "_dmarc.")); err != nil || !strings.HasPrefix(spf[0], "v=spf1 ") {
					t.Errorf("%s: DMARC without SPF at the domain (%v)", n, err)
				}
			case strings.Contains(n, "._domainkey."):
				k, ok := strings.CutPrefix(x, "v=DKIM1; k=ed25519; p=")
				if !ok || len(k) != 44 || !strings.HasSuffix(k, "=") {
					t.Errorf("%s: key record %q", n, x)
				}
			}
		}
	}
}

func TestZoneLookupIP(t *testing.T) {
	z := DNS()
	for _, tc := range []struct {
		network, host, want string
	}{
		{"ip4", "mx1.bank.example", "192.0.2.25"},
		{"ip6", "mx1.bank.example", "2001:db8:ba::25"},
		{"ip", "mx1.bank.example", "192.0.2.25 2001:db8:ba::25"},
		{"ip6", "mx2.bank.example", ""},
	} {
		ips, err := z.LookupIP(tc.network, tc.host)
		var got []string
		for _, ip := range ips {
			got = append(got, ip.String())
		}
		if strings.Join(got, " ") != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("LookupIP(%s, %s) = %v, %v; want %q", tc.network, tc.host, got, err, tc.want)
		}
	}
}

func TestRecordStringLongTXT(t *testing.T) {
	r := Record{Name: "k._domainkey.example", Type: "TXT", TTL: 60, Value: strings.Repeat("a", 300)}
	want := "k._domainkey.example.\t60\tIN\tTXT\t\"" + strings.Repeat("a", 255) + "\" \"" + strings.Repeat("a", 45) + "\""
	if got := r.String(); got != want {
		t.Errorf("String() = %q, want two strings of 255 and 45 (RFC 1035 §3.3.14)", got)
	}
}
