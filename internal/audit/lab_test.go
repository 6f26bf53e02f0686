package audit

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLabProfiles runs every check against every lab profile and compares
// the verdicts with what the profile's file says the server does.
func TestLabProfiles(t *testing.T) {
	allForms := []string{`\n.\n`, `\n.\r\n`, `\r\n.\n`, `\r.\r`, `\r.\r\n`, `\r\n.\r`, `\n.\r`, `\r.\n`}
	directory := []string{"alice", "bob", "root", "admin", "postmaster", "team"}
	tests := []struct {
		profile string
		relay   string
		found   []string // nil: nothing settled
		used    []Method
		smuggle []string
		smVerd  string
	}{
		// VRFY 252 for everyone, EXPN 502: RCPT decides (550 5.1.1 for unknown local users).
		{profile: "default", relay: VerdictNotRelay, found: directory, used: []Method{MethodRCPT}, smVerd: VerdictNotVuln},
		// VRFY reveals: 250 for users, 550 for a list ("try EXPN"), which is read as a list that exists.
		{profile: "enum", relay: VerdictNotRelay, found: directory, used: []Method{MethodVRFY}, smVerd: VerdictNotVuln},
		// STARTTLS required before MAIL, VRFY/EXPN 502: nothing can be settled in plain text.
		{profile: "hardened", relay: VerdictAuthNeeded, found: nil, smVerd: VerdictUnknown},
		{profile: "htb", relay: VerdictOpenRelay, found: directory, used: []Method{MethodRCPT}, smVerd: VerdictNotVuln},
		// RFC 821 server: EHLO 500, HELO works.
		{profile: "legacy", relay: VerdictNotRelay, found: directory, used: []Method{MethodRCPT}, smVerd: VerdictNotVuln},
		{profile: "open-relay", relay: VerdictOpenRelay, found: directory, used: []Method{MethodRCPT}, smVerd: VerdictNotVuln},
		{profile: "smuggling", relay: VerdictOpenRelay, found: directory, used: []Method{MethodRCPT}, smuggle: allForms, smVerd: VerdictVulnerable},
	}
	for _, tc := range tests {
		t.Run(tc.profile, func(t *testing.T) {
			t.Parallel()
			addr := startLab(t, tc.profile)
			a, out := newAuditor(t, addr, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			r, err := a.Run(ctx, RunOptions{
				Checks: []Check{CheckFingerprint, CheckEnum, CheckRelay, CheckSmuggle},
				Enum:   EnumOptions{Users: labUsers, RandomName: func() string { return "smtpsh-zzqxjw" }},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if t.Failed() {
					t.Logf("session:\n%s", out)
				}
			}()
			if r.Fingerprint.Product != ProductLab {
				t.Errorf("fingerprint = %q (%s), want %q", r.Fingerprint.Product, r.Fingerprint.Reason, ProductLab)
			}
			if !a.IsLab(r.Fingerprint) {
				t.Errorf("IsLab = false on the lab at %s", addr)
			}
			if r.Relay.Verdict != tc.relay {
				t.Errorf("relay = %q (%s), want %q", r.Relay.Verdict, r.Relay.Reason, tc.relay)
			}
			if tc.relay == VerdictOpenRelay && !slices.Contains(r.Relay.Accepted, "plain") {
				t.Errorf("open relay without the plain pattern accepted: %v", r.Relay.Accepted)
			}
			if tc.relay != VerdictOpenRelay && len(r.Relay.Accepted) > 0 {
				t.Errorf("accepted %v on a closed relay", r.Relay.Accepted)
			}
			if got := r.Enum.Found(); !slices.Equal(got, tc.found) {
				t.Errorf("found %v, want %v\nsteps: %s", got, tc.found, strings.Join(r.Enum.Steps, "\n"))
			}
			if !slices.Equal(r.Enum.Used, tc.used) {
				t.Errorf("methods used %v, want %v", r.Enum.Used, tc.used)
			}
			for _, u := range r.Enum.Users {
				switch {
				case tc.found == nil && u.Status != Unknown:
					t.Errorf("%s: %s, want unknown", u.User, u.Status)
				case tc.found != nil && !slices.Contains(tc.found, u.User) && u.Status != NotExists:
					t.Errorf("%s: %s (%s), want does not exist", u.User, u.Status, u.Exchange)
				case u.Status != Unknown && u.Exchange.Code == 0:
					t.Errorf("%s: %s without the reply that decided it", u.User, u.Status)
				}
			}
			if tc.found == nil && r.Enum.Reason == "" {
				t.Error("nothing settled and no reason given")
			}
			if r.Smuggle == nil {
				t.Fatalf("no smuggling result: %v", r.Skipped)
			}
			if r.Smuggle.Verdict != tc.smVerd || !slices.Equal(r.Smuggle.Accepted, tc.smuggle) {
				t.Errorf("smuggling = %q %v (%s), want %q %v", r.Smuggle.Verdict, r.Smuggle.Accepted, r.Smuggle.Reason, tc.smVerd, tc.smuggle)
			}
			if len(a.Transcripts()) == 0 {
				t.Error("no transcripts kept")
			}
		})
	}
}
