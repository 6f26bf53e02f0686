package lessons

import (
	"net"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/lab"
)

// FuzzSPF evaluates any record text for any client address: no panic, a
// result of RFC 7208 §2.6, a bounded trace, and the :spf and :dns
// meta-commands answer whatever the student types.
func FuzzSPF(f *testing.F) {
	f.Add("v=spf1 mx include:_spf.bank.example -all", "192.0.2.80")
	f.Add("v=spf1 a:example.org//64 mx/30 ip6:2001:db8::/32 ~all", "2001:db8::1")
	f.Add("v=spf1 redirect=fuzz.example", "192.0.2.1")
	f.Add("v=spf1 include:fuzz.example exists:%{i}.x -all", "127.0.0.1")
	f.Add("v=spf1 ip4:1.2.3.4/ a/ // mx:/ =x redirect= exp=", "::ffff:1.2.3.4")
	results := map[spfResult]bool{spfNone: true, spfNeutral: true, spfPass: true, spfFail: true, spfSoftfail: true, spfTemperror: true, spfPermerror: true}
	f.Fuzz(func(t *testing.T, record, addr string) {
		if len(record) > 2000 {
			return
		}
		z := lab.NewZone([]lab.Record{
			{Name: "fuzz.example", Type: "TXT", Value: record},
			{Name: "fuzz.example", Type: "MX", Value: "fuzz.example"},
			{Name: "fuzz.example", Type: "A", Value: "192.0.2.1"},
		})
		ip := net.ParseIP(addr)
		if ip == nil {
			ip = net.IPv4(192, 0, 2, 1)
		}
		c := checkSPF(z, ip, "fuzz.example")
		if !results[c.result] {
			t.Fatalf("result %q", c.result)
		}
		if len(c.trace) > 200 {
			t.Fatalf("trace of %d steps", len(c.trace))
		}
		_ = formatSPF(ip, "fuzz.example", c)
		_ = dnsAnswer(lab.DNS(), record)
		var b strings.Builder
		metaSPF(nil, addr+" "+record, &b)
	})
}
