package audit

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/peertest"
)

// TestPeerPostfix audits the Postfix lab (postfix-lab.sh, closed mode) and
// scans it with nmap's smtp-open-relay and smtp-enum-users: the verdicts
// agree, and where smtpsh says less than a naive reading (VRFY's 252) the
// test shows why.
func TestPeerPostfix(t *testing.T) {
	addr := peertest.Postfix(t)
	nmap := peertest.Program(t, "nmap")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, out := newAuditor(t, addr, nil)
	defer func() {
		if t.Failed() {
			t.Logf("session:\n%s", out)
		}
	}()
	r, err := a.Run(ctx, RunOptions{
		Checks:  []Check{CheckFingerprint, CheckEnum, CheckRelay, CheckSmuggle},
		Enum:    EnumOptions{Users: []string{"alice", "bob", "mallory"}},
		Smuggle: SmuggleOptions{IOwnThisServer: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Fingerprint.Product != ProductPostfix {
		t.Errorf("fingerprint = %s (%s), want Postfix", r.Fingerprint.Product, r.Fingerprint.Reason)
	}
	if a.IsLab(r.Fingerprint) {
		t.Error("Postfix taken for the lab")
	}
	if r.Relay.Verdict != VerdictNotRelay {
		t.Errorf("relay = %s (%s)", r.Relay.Verdict, r.Relay.Reason)
	}
	if got := r.Enum.Found(); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("found %v, want [alice bob]; steps %v", got, r.Enum.Steps)
	}

	// nmap, the same target: its relay verdict and its user list.
	users := t.TempDir() + "/users.txt"
	if err := writeFile(users, "alice\nbob\nmallory\n"); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.CommandContext(ctx, nmap, "-Pn", "-sV", "--version-light", "-p", port,
		"--script", "smtp-open-relay,smtp-enum-users",
		"--script-args", "smtp-enum-users.methods={VRFY,RCPT},userdb="+users+",smtp.domain=smtpsh-lab.local", host)
	nm, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nmap: %v\n%s", err, nm)
	}
	text := string(nm)
	if !strings.Contains(text, "doesn't seem to be an open relay") {
		t.Errorf("nmap's relay verdict differs:\n%s", text)
	}
	for _, u := range []string{"alice", "bob"} {
		if !strings.Contains(text, "|   "+u) && !strings.Contains(text, "|_  "+u) {
			t.Errorf("nmap did not find %s:\n%s", u, text)
		}
	}
	if strings.Contains(text, "mallory") {
		t.Errorf("nmap found mallory:\n%s", text)
	}

	// Where they differ: VRFY alone. Postfix answers 252 for alice and
	// 550 for mallory. smtp-user-enum counts 252 as "exists"; RFC 5321
	// §3.5.3 says 252 means "cannot verify", so smtpsh says unknown, and
	// the RCPT method above is what settled alice (nmap moved to RCPT on
	// 252 too).
	v, _ := newAuditor(t, addr, nil)
	e, err := v.Enumerate(ctx, EnumOptions{Users: []string{"alice", "mallory"}, Method: MethodVRFY})
	if err != nil {
		t.Fatal(err)
	}
	if u := e.Users[0]; u.Status != Unknown || u.Exchange.Code != 252 {
		t.Errorf("VRFY alice: %s %s, want unknown from 252", u.Status, u.Exchange)
	}
	if u := e.Users[1]; u.Status != NotExists || u.Exchange.Code != 550 {
		t.Errorf("VRFY mallory: %s %s, want does not exist from 550", u.Status, u.Exchange)
	}

	// Smuggling: Postfix 3.7 with smtpd_forbid_bare_newline = no reads a
	// bare LF as a line end (CVE-2023-51764), so the forms that put "."
	// on a line ended by LF on both sides end DATA; a bare CR is not a
	// line end to Postfix.
	pc, err := exec.CommandContext(ctx, "postconf", "-h", "smtpd_forbid_bare_newline").Output()
	if err != nil {
		t.Logf("postconf: %v; smuggling verdict not compared: %s %v", err, r.Smuggle.Verdict, r.Smuggle.Accepted)
		return
	}
	if strings.TrimSpace(string(pc)) == "no" {
		if r.Smuggle.Verdict != VerdictVulnerable {
			t.Errorf("smuggling = %s (%s), want vulnerable with smtpd_forbid_bare_newline = no", r.Smuggle.Verdict, r.Smuggle.Reason)
		}
		for _, f := range r.Smuggle.Accepted {
			if strings.HasPrefix(f, `\r.`) {
				t.Errorf("Postfix took %s (a bare CR before the dot) as the end of data", f)
			}
		}
	}
	t.Logf("Postfix smuggling: %s %v", r.Smuggle.Verdict, r.Smuggle.Accepted)
}
