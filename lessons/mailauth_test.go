package lessons

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dmarc"

	"github.com/smtpsh/smtpsh/internal/lab"
)

// TestAligned plays RFC 7489 §3.1.1 and §3.1.2's examples.
func TestAligned(t *testing.T) {
	tests := []struct {
		name, auth, from string
		mode             dmarc.AlignmentMode
		want             bool
	}{
		{"§3.1.1 same domain, strict", "example.com", "example.com", dmarc.AlignmentStrict, true},
		{"§3.1.1 d=example.com, From foo.example.com: relaxed", "example.com", "foo.example.com", dmarc.AlignmentRelaxed, true},
		{"§3.1.1 d=example.com, From foo.example.com: strict", "example.com", "foo.example.com", dmarc.AlignmentStrict, false},
		{"§3.1.2 MAIL FROM example.com, From example.com", "example.com", "example.com", dmarc.AlignmentRelaxed, true},
		{"§3.1.2 MAIL FROM bounce.example.com: relaxed", "bounce.example.com", "example.com", dmarc.AlignmentRelaxed, true},
		{"§3.1.2 MAIL FROM bounce.example.com: strict", "bounce.example.com", "example.com", dmarc.AlignmentStrict, false},
		{"§3.1.2 MAIL FROM example.net", "example.net", "example.com", dmarc.AlignmentRelaxed, false},
		{"case and trailing dot", "Example.COM.", "example.com", dmarc.AlignmentStrict, true},
		{"public suffix is not an organization", "evil.co.uk", "bank.co.uk", dmarc.AlignmentRelaxed, false},
		{"no domain", "", "example.com", dmarc.AlignmentRelaxed, false},
	}
	for _, tc := range tests {
		if got := aligned(tc.auth, tc.from, tc.mode); got != tc.want {
			t.Errorf("%s: aligned(%q, %q, %s) = %v", tc.name, tc.auth, tc.from, tc.mode, got)
		}
	}
}

// TestDMARCSamples checks lesson 12's samples as the lesson reads them.
func TestDMARCSamples(t *testing.T) {
	tests := []struct {
		file                  string
		spfDomain             string
		spf                   spfResult
		spfAligned, dkimAlign bool
		pass                  bool
		policy                dmarc.Policy
		out                   string
	}{
		{"12-newsletter.eml", "lab.smtpsh.test", spfPass, true, true, true, dmarc.PolicyReject, "DMARC: pass"},
		{"12-newsletter-list.eml", "lab.smtpsh.test", spfPass, true, false, true, dmarc.PolicyReject, "bh= does not match"},
		{"12-invoice.eml", "mail.shop.example", spfPass, true, true, true, dmarc.PolicyNone, "relaxed: it must be under shop.example"},
		{"12-bank-alert.eml", "bulk-mailer.example", spfPass, false, false, false, dmarc.PolicyReject, "policy p=reject: the receiver should reject it"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			msg, err := sample(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			ev := evalDMARC(lab.DNS(), msg)
			out := formatDMARC(ev)
			if ev.err != nil || ev.spfDomain != tc.spfDomain || ev.spf.result != tc.spf || ev.spfAligned != tc.spfAligned ||
				ev.dkimAligned != tc.dkimAlign || ev.pass != tc.pass || ev.policy != tc.policy || !strings.Contains(out, tc.out) {
				t.Errorf("got spf %s %s aligned %v, dkim aligned %v, pass %v, policy %s, want %s %s %v %v %v %s with %q:\n%s",
					ev.spfDomain, ev.spf.result, ev.spfAligned, ev.dkimAligned, ev.pass, ev.policy,
					tc.spfDomain, tc.spf, tc.spfAligned, tc.dkimAlign, tc.pass, tc.policy, tc.out, out)
			}
		})
	}
}

// TestDMARCSubdomainPolicy: a From domain without a record of its own
// falls back to its organizational domain's, whose sp= applies (RFC 7489
// §6.6.3).
func TestDMARCSubdomainPolicy(t *testing.T) {
	z := lab.NewZone([]lab.Record{
		{Name: "_dmarc.example.com", Type: "TXT", Value: "v=DMARC1; p=reject; sp=quarantine"},
	})
	msg := "From: a@news.example.com\r\nReturn-Path: <b@elsewhere.example>\r\nReceived: from x (x [192.0.2.1]) by mx\r\n\r\nhi\r\n"
	ev := evalDMARC(z, []byte(msg))
	if ev.recordDomain != "example.com" || ev.policy != dmarc.PolicyQuarantine || ev.pass {
		t.Errorf("record at %q, policy %s, pass %v; want example.com, quarantine, false\n%s", ev.recordDomain, ev.policy, ev.pass, formatDMARC(ev))
	}
}

func TestMetaOutput(t *testing.T) {
	tests := []struct {
		meta, arg string
		want      []string
	}{
		{":dns", "TXT lab.smtpsh.test", []string{";; ANSWER SECTION:", "lab.smtpsh.test.\t3600\tIN\tTXT\t\"v=spf1 ip4:127.0.0.0/8 -all\""}},
		{":dns", "mx bank.example", []string{"10 mx1.bank.example.", "20 mx2.bank.example."}},
		{":dns", "TXT _dmarc.bulk-mailer.example", []string{"NXDOMAIN"}},
		{":dns", "", []string{"usage: :dns TYPE NAME", "  s2025._domainkey.shop.example"}},
		{":dns", "lab._domainkey.lab.smtpsh.test", []string{"IN\tTXT\t\"v=DKIM1; k=ed25519; p="}},
		{":spf", "203.0.113.66 shop.example", []string{"~all", "result: softfail"}},
		{":spf", "192.0.2.80 bank.example", []string{"include:_spf.bank.example", "_spf.bank.example says pass", "result: pass"}},
		{":spf", "bank.example", []string{"usage: :spf IP DOMAIN"}},
		{":spf", "nonsense bank.example", []string{"not an IP address"}},
		{":dkim", "12-newsletter.eml", []string{"d=  lab.smtpsh.test", "s=  lab", "a=  ed25519-sha256", "bh= ", "h=  From:To:Subject", "b=  ", "result: dkim=pass"}},
		{":dkim", "12-newsletter-tagged.eml", []string{"result: dkim=fail", "b= does not verify"}},
		{":dkim", "nosuch.eml", []string{`no sample "nosuch.eml"`, "12-bank-alert.eml"}},
		{":dkim", "", []string{"which sample?"}},
		{":dmarc", "12-bank-alert.eml", []string{"header From: security@bank.example", "SPF domain bulk-mailer.example: pass", "DKIM: d=bulk-mailer.example s=mk1: pass", "aligned with bank.example? no", "DMARC: fail"}},
		{":dmarc", "../../engine.go", []string{"no sample"}},
	}
	ms := map[string]extraMeta{}
	for _, m := range mailAuthMetas() {
		ms[m.Name] = m
	}
	for _, tc := range tests {
		var b bytes.Buffer
		ms[tc.meta].run(nil, tc.arg, &b)
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s %s: no %q in\n%s", tc.meta, tc.arg, w, b.String())
			}
		}
	}
}

// TestSamplesNamed checks that every sample file a lesson names exists.
func TestSamplesNamed(t *testing.T) {
	ls, err := All()
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`\b\d\d-[a-z0-9-]+\.eml\b`)
	n := 0
	for _, l := range ls {
		src, err := Source(l.File)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range re.FindAllString(string(src), -1) {
			n++
			if _, err := sample(name); err != nil {
				t.Errorf("lesson %s names %s: %v", l.Name, name, err)
			}
		}
	}
	if n == 0 {
		t.Error("no lesson names a sample: the check checks nothing")
	}
}
