package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/audit"
)

// auditRun runs `smtpsh audit args…` with stdin and returns stdout, stderr.
func auditRun(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"audit"}, args...))
	err := root.Execute()
	return out.String(), errOut.String(), err
}

func TestAuditLabJSON(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users.txt")
	if err := os.WriteFile(users, []byte("# the lab's directory and two strangers\nalice\nbob\nteam\n\nmallory\nroot@lab.smtpsh.test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := auditRun(t, "", "--lab-profile", "smuggling", "--json", "--users", users)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var r audit.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if r.Fingerprint == nil || r.Fingerprint.Product != audit.ProductLab {
		t.Errorf("fingerprint = %+v", r.Fingerprint)
	}
	if r.Relay == nil || r.Relay.Verdict != audit.VerdictOpenRelay {
		t.Errorf("relay = %+v", r.Relay)
	}
	if r.Smuggle == nil || r.Smuggle.Verdict != audit.VerdictVulnerable || len(r.Smuggle.Accepted) != 8 {
		t.Errorf("smuggle = %+v", r.Smuggle)
	}
	if got, want := r.Enum.Found(), []string{"alice", "bob", "team", "root@lab.smtpsh.test"}; !slices.Equal(got, want) {
		t.Errorf("found %v, want %v", got, want)
	}
	if !strings.Contains(errOut, "this machine only") {
		t.Errorf("no scope line on stderr: %q", errOut)
	}
}

func TestAuditMarkdownOnlyRelay(t *testing.T) {
	out, errOut, err := auditRun(t, "", "--lab-profile", "default", "--checks", "relay", "--format", "md", "-q")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	for _, want := range []string{"# smtpsh audit of ", "## Open relay: not an open relay", "Relay access denied"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Fingerprint") {
		t.Errorf("relay alone ran the fingerprint:\n%s", out)
	}
}

// TestAuditScopeGuard: a target that is not this machine is not touched
// unless the person says yes (192.0.2.1 is TEST-NET-1, RFC 5737).
func TestAuditScopeGuard(t *testing.T) {
	_, errOut, err := auditRun(t, "n\n", "192.0.2.1:25", "--timeout", "1s")
	if err == nil || !strings.Contains(err.Error(), "not confirmed") {
		t.Fatalf("err = %v, want not confirmed", err)
	}
	if !strings.Contains(errOut, "another machine") || !strings.Contains(errOut, "[y/N]") {
		t.Errorf("stderr = %q", errOut)
	}
}

func TestAuditBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown check", []string{"--checks", "fingerprint,portscan"}, `check "portscan"`},
		{"unknown method", []string{"--method", "finger"}, `--method: method "finger"`},
		{"unknown format", []string{"--format", "html"}, `--format "html"`},
		{"missing users file", []string{"--users", "/nonexistent/users.txt"}, "--users"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := auditRun(t, "", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
