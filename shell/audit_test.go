package shell

import (
	"strings"
	"testing"
)

// TestAuditMetaCommands runs the audit checks from the shell against lab
// profiles whose truth is in their TOML files: the fingerprint names the
// lab, enum finds the directory's users on enum, the open-relay profile
// relays and default does not, and the smuggling profile takes bare-LF
// forms as the end of data.
func TestAuditMetaCommands(t *testing.T) {
	tests := []struct {
		name, profile string
		lines         []string
		want, notWant []string
	}{
		{name: "fingerprint", profile: "default", lines: []string{":fingerprint"},
			want: []string{"probing 127.0.0.1:", "C: EHLO", "Fingerprint: smtpsh lab"}},
		{name: "enum with VRFY on enum", profile: "enum", lines: []string{":enum --method vrfy alice nobody"},
			want: []string{"C: VRFY alice", "alice: exists", "nobody: does not exist"}},
		{name: "enum defaults to common names", profile: "enum", lines: []string{":enum"},
			want: []string{"no names given, trying common ones", "root: exists", "postmaster: exists"}},
		{name: "relay on open-relay", profile: "open-relay", lines: []string{":relaytest"},
			want: []string{"C: RSET", "open relay"}},
		{name: "relay on default", profile: "default", lines: []string{":relaytest"},
			want: []string{"not an open relay"}},
		{name: "smuggling", profile: "smuggling", lines: []string{":smuggle"},
			want: []string{"ends data"}},
		{name: "bad option", profile: "default", lines: []string{":enum --frobnicate"},
			want: []string{":enum: unknown option --frobnicate"}, notWant: []string{"C: VRFY"}},
		{name: "names only for enum", profile: "default", lines: []string{":relaytest alice"},
			want: []string{":relaytest takes no names"}, notWant: []string{"C: RSET"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := startLab(t, tc.profile)
			lines := append([]string{"EHLO client.example"}, tc.lines...)
			out, s, err := runLines(t, addr, Config{NoExplain: true}, append(lines, "QUIT")...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			// The session's own connection is untouched: its transcript
			// holds only what was typed.
			var sent []string
			for _, e := range s.Transcript().Events {
				if e.Kind.String() == "client" {
					sent = append(sent, e.Text)
				}
			}
			if got := strings.Join(sent, "|"); got != "EHLO client.example|QUIT" {
				t.Errorf("session sent %q", got)
			}
		})
	}
}

// TestAuditScopeGuard: a target that is not on this machine needs --yes
// once; nothing is probed before.
func TestAuditScopeGuard(t *testing.T) {
	s := &Session{cfg: Config{Addr: "192.0.2.1:25", Timeout: 1}}
	var out strings.Builder
	s.out = &out
	s.auditCommand(":fingerprint", "")
	if !strings.Contains(out.String(), "needs its owner's permission") || strings.Contains(out.String(), "probing 192.0.2.1") {
		t.Errorf("output:\n%s", out.String())
	}
	if s.auditConfirmed {
		t.Error("confirmed without --yes")
	}
}
