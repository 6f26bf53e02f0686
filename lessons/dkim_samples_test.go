package lessons

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/smtpsh/smtpsh/internal/lab"
)

// dkimKey derives a lab signing key from its DNS name: the private halves
// live only here, the public ones in internal/lab's zone.
func dkimKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("smtpsh lab DKIM key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// dkimSample is how one of lesson 12's sample messages is made: message
// signed by domain/selector, then changed by alter (as a list or a gateway
// would), then the receiving MX's Return-Path and Received added on top.
type dkimSample struct {
	file, domain, selector string
	envelope, message      string // lines joined by "\n"; written with CRLF
	alter                  func(string) string
}

const newsletter = `From: Lab Newsletter <newsletter@lab.smtpsh.test>
To: alice@lab.smtpsh.test
Subject: This week in the lab
Date: Mon, 20 Oct 2025 08:00:00 +0000
Message-ID: <20251020080000.nl42@lab.smtpsh.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello Alice,

This week: SPF, DKIM and DMARC, offline.
`

const newsletterEnvelope = `Return-Path: <newsletter-bounces@lab.smtpsh.test>
Received: from lab.smtpsh.test (localhost [127.0.0.1])
	by mx1.lab.smtpsh.test (Postfix) with ESMTP id 4cQ7Kp1Zx2z9vD
	for <alice@lab.smtpsh.test>; Mon, 20 Oct 2025 08:00:02 +0000 (UTC)`

func dkimSamples() []dkimSample {
	return []dkimSample{
		{file: "12-newsletter.eml", domain: "lab.smtpsh.test", selector: "lab", envelope: newsletterEnvelope, message: newsletter},
		{file: "12-newsletter-list.eml", domain: "lab.smtpsh.test", selector: "lab", envelope: newsletterEnvelope, message: newsletter,
			// A mailing list adds its footer to the body.
			alter: func(m string) string {
				return m + "-- \r\nYou receive this as a member of team@lab.smtpsh.test.\r\n"
			}},
		{file: "12-newsletter-tagged.eml", domain: "lab.smtpsh.test", selector: "lab", envelope: newsletterEnvelope, message: newsletter,
			// A gateway marks the Subject.
			alter: func(m string) string {
				return strings.Replace(m, "Subject: This week", "Subject: [EXTERNAL] This week", 1)
			}},
		{file: "12-invoice.eml", domain: "shop.example", selector: "s2025",
			envelope: `Return-Path: <bounces+alice=lab.smtpsh.test@mail.shop.example>
Received: from out-7.mail.shop.example (out-7.mail.shop.example [198.51.100.7])
	by mx1.lab.smtpsh.test (Postfix) with ESMTPS id 4cMZ1q0XbTz9vB
	for <alice@lab.smtpsh.test>; Tue, 14 Oct 2025 09:16:03 +0000 (UTC)`,
			message: `From: Shop Billing <billing@shop.example>
To: alice@lab.smtpsh.test
Subject: Your invoice 2025-1014
Date: Tue, 14 Oct 2025 11:13:58 +0200
Message-ID: <20251014091358.5B1E2A00F1@app.shop.example>

Dear Alice, your invoice is attached.
`},
		{file: "12-bank-alert.eml", domain: "bulk-mailer.example", selector: "mk1",
			envelope: `Return-Path: <bounce-4471@bulk-mailer.example>
Received: from mail.bank.example (unknown [203.0.113.66])
	by mx1.lab.smtpsh.test (Postfix) with ESMTP id 4cN2Lk5Hq1z9vC
	for <alice@lab.smtpsh.test>; Wed, 15 Oct 2025 22:41:08 +0000 (UTC)`,
			message: `From: Bank Security <security@bank.example>
To: alice@lab.smtpsh.test
Subject: Unusual sign-in to your account
Date: Wed, 15 Oct 2025 23:40:50 +0100
Message-ID: <a81f0c2e9d@mail.bank.example>

We blocked a sign-in. Confirm your identity within 24 hours.
`},
	}
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// make signs and assembles the sample.
func (s dkimSample) make(t *testing.T) []byte {
	var signed bytes.Buffer
	err := dkim.Sign(&signed, strings.NewReader(crlf(s.message)), &dkim.SignOptions{
		Domain: s.domain, Selector: s.selector, Signer: dkimKey(s.selector + "._domainkey." + s.domain),
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := signed.String()
	if s.alter != nil {
		m = s.alter(m)
	}
	return []byte(crlf(s.envelope) + "\r\n" + m)
}

// TestDKIMSampleKeys checks that the zone publishes the public half of
// every key the samples are signed with.
func TestDKIMSampleKeys(t *testing.T) {
	z := lab.DNS()
	for _, s := range dkimSamples() {
		name := s.selector + "._domainkey." + s.domain
		txt, err := z.LookupTXT(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(dkimKey(name).Public().(ed25519.PublicKey))
		if len(txt) != 1 || txt[0] != want {
			t.Errorf("%s TXT %q, want %q", name, txt, want)
		}
	}
}

// TestDKIMSamples checks the shipped samples: each is the message its spec
// describes (a spec changed without -update is caught), and verifies as
// the lesson says: the newsletter passes, the list's footer breaks bh=, the
// gateway's Subject tag breaks b=. -update signs them again (the signature
// carries the time, t=, so a new one differs).
func TestDKIMSamples(t *testing.T) {
	want := map[string]string{
		"12-newsletter.eml":        "pass",
		"12-newsletter-list.eml":   "body hash",
		"12-newsletter-tagged.eml": "signature",
		"12-invoice.eml":           "pass",
		"12-bank-alert.eml":        "pass",
	}
	regenerate := false
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		regenerate = true
	}
	for _, s := range dkimSamples() {
		t.Run(s.file, func(t *testing.T) {
			file := filepath.Join("files", "samples", s.file)
			if regenerate {
				if err := os.WriteFile(file, s.make(t), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			// The file without its DKIM-Signature is the spec's message.
			fresh := s.make(t)
			if dropSignature(got) != dropSignature(fresh) {
				t.Errorf("%s differs from its spec: go test ./lessons -run TestDKIMSamples -update\n%s", file, got)
			}
			rs, err := verifyDKIM(lab.DNS(), got)
			if err != nil || len(rs) != 1 {
				t.Fatalf("verifyDKIM: %v, %d results", err, len(rs))
			}
			r := rs[0]
			switch w := want[s.file]; {
			case w == "pass":
				if !r.pass {
					t.Errorf("fails: %v", r.err)
				}
			case r.pass || !strings.Contains(r.err.Error(), w):
				t.Errorf("result pass=%v err=%v, want a failure of the %s", r.pass, r.err, w)
			}
			if r.domain != s.domain || r.selector != s.selector {
				t.Errorf("d=%s s=%s, want d=%s s=%s", r.domain, r.selector, s.domain, s.selector)
			}
		})
	}
}

// dropSignature removes the DKIM-Signature field and its folded lines.
func dropSignature(msg []byte) string {
	var out []string
	in := false
	for _, l := range strings.Split(string(msg), "\r\n") {
		switch {
		case strings.HasPrefix(strings.ToLower(l), "dkim-signature:"):
			in = true
			continue
		case in && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")):
			continue
		}
		in = false
		out = append(out, l)
	}
	return strings.Join(out, "\r\n")
}
