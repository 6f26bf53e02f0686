package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/send"
)

// TestSendPipe: --pipe speaks to a program's standard input and output;
// here bash relays them to the lab over TCP, so the lab's store shows
// what arrived.
func TestSendPipe(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("needs bash for its /dev/tcp")
	}
	l := startSendLab(t, "default")
	_, port, _ := net.SplitHostPort(l.addr)
	relay := fmt.Sprintf(`%s -c 'exec 3<>/dev/tcp/127.0.0.1/%s; cat <&3 & exec cat >&3'`, bash, port)
	out, err := runSendCmd(t, "", "--pipe", relay, "--from", "a@example.org", "--to", "alice@lab.smtpsh.test", "--subject", "piped", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var s send.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if s.Server != "pipe:"+relay || s.QueueID == "" {
		t.Errorf("server %q, queue id %q", s.Server, s.QueueID)
	}
	msgs := l.store.Mailbox("alice")
	if len(msgs) != 1 || header(t, msgs[0].Data).Get("Subject") != "piped" || msgs[0].ID != s.QueueID {
		t.Errorf("%d message(s) in alice's mailbox, want the one piped (%s)", len(msgs), s.QueueID)
	}
}

// writeConfig writes config.toml under a fresh $XDG_CONFIG_HOME.
func writeConfig(t *testing.T, text string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "smtpsh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "smtpsh", "config.toml"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CONFIG_HOME", dir)
}

// TestSendTarget: --target NAME takes the server, STARTTLS, AUTH and
// other flags from [targets.NAME], the password from the variable its
// password_env names; [defaults] applies too, the target wins over it and
// the command line over both.
func TestSendTarget(t *testing.T) {
	l := startSendLab(t, "default")
	writeConfig(t, fmt.Sprintf(`
[defaults]
subject = "from the defaults"
from = "defaults@example.org"

[targets.lab]
server = %q
ca = %q
starttls = true
user = "alice"
auth = "plain"
password_env = "LAB_PASS"
from = "target@example.org"
`, l.addr, l.ca))
	t.Setenv("SMTPSH_PASSWORD", "")
	t.Setenv("LAB_PASS", "wonderland")
	tests := []struct {
		name          string
		args          []string
		from, subject string
	}{
		{name: "target over defaults", args: []string{"--target", "lab"}, from: "target@example.org", subject: "from the defaults"},
		{name: "command line over target", args: []string{"--target", "@lab", "--from", "cli@example.org", "--subject", "cli"}, from: "cli@example.org", subject: "cli"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runSendCmd(t, "", append([]string{"--to", "alice@lab.smtpsh.test"}, tc.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, w := range []string{"target lab is " + l.addr, "C: STARTTLS", "C: AUTH PLAIN", "S: 235 2.7.0"} {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			msgs := l.store.Mailbox("alice")
			if len(msgs) != i+1 {
				t.Fatalf("%d messages, want %d", len(msgs), i+1)
			}
			h := header(t, msgs[i].Data)
			if msgs[i].From != tc.from || h.Get("Subject") != tc.subject {
				t.Errorf("MAIL FROM %q, Subject %q; want %q, %q", msgs[i].From, h.Get("Subject"), tc.from, tc.subject)
			}
		})
	}
	t.Run("no such target", func(t *testing.T) {
		_, err := runSendCmd(t, "", "--to", "alice@lab.smtpsh.test", "--target", "work")
		if exitStatus(err) != send.ExitUsage || !strings.Contains(err.Error(), `no target "work"`) || !strings.Contains(err.Error(), "it has lab") {
			t.Errorf("exit %d, error %v", exitStatus(err), err)
		}
	})
	t.Run("a key that is no flag", func(t *testing.T) {
		writeConfig(t, "[targets.x]\nserver = \"127.0.0.1:1\"\ncolour = true\n")
		_, err := runSendCmd(t, "", "--to", "alice@lab.smtpsh.test", "--target", "x")
		if exitStatus(err) != send.ExitUsage || !strings.Contains(err.Error(), "targets.x.colour: not a flag") {
			t.Errorf("exit %d, error %v", exitStatus(err), err)
		}
	})
}

// TestSendAuthAny: --auth any picks the strongest mechanism the lab
// advertises after STARTTLS (internal/smtp.ChooseMechanism): CRAM-MD5 on
// the default profile, SCRAM-SHA-256 on the hardened one, OAUTHBEARER
// there when a token is set; before TLS nothing fits and the error says
// why.
func TestSendAuthAny(t *testing.T) {
	tests := []struct {
		name, profile, token string
		starttls             bool
		want                 []string
		exit                 int
	}{
		{name: "default profile", profile: "default", starttls: true, want: []string{"choosing CRAM-MD5", "C: AUTH CRAM-MD5", "S: 235 2.7.0"}},
		{name: "hardened profile", profile: "hardened", starttls: true, want: []string{"choosing SCRAM-SHA-256", "C: AUTH SCRAM-SHA-256", "S: 235 2.7.0"}},
		{name: "hardened with a token", profile: "hardened", token: "ya29.lab-token-for-alice", starttls: true, want: []string{"choosing OAUTHBEARER", "S: 235 2.7.0"}},
		{name: "before tls", profile: "default", exit: send.ExitAuth, want: []string{"auth: nothing was sent: :auth any: no mechanism smtpsh speaks with a password is advertised"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := startSendLab(t, tc.profile)
			t.Setenv("SMTPSH_PASSWORD", "wonderland")
			t.Setenv("SMTPSH_OAUTH_TOKEN", tc.token)
			args := []string{"--server", l.addr, "--ca", l.ca, "--auth", "any", "--user", "alice", "--to", "alice@lab.smtpsh.test", "--quit-after", "auth"}
			if tc.starttls {
				args = append(args, "--starttls")
			}
			out, err := runSendCmd(t, "", args...)
			if got := exitStatus(err); got != tc.exit {
				t.Fatalf("exit %d (%v), want %d\n%s", got, err, tc.exit, out)
			}
			if err != nil {
				out += err.Error()
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestSharedDefaults: [defaults] serves every command, so a key of send's
// (subject) does not break the shell, and the shell's (no_explain) does
// not break send; a key of no command is still reported.
func TestSharedDefaults(t *testing.T) {
	writeConfig(t, "[defaults]\nsubject = \"from the file\"\nno_explain = true\n")
	out, err := run(t, "-c", "NOOP")
	if err != nil {
		t.Fatalf("the shell with send's default: %v\n%s", err, out)
	}
	if strings.Contains(out, "↳ ") {
		t.Errorf("no_explain from [defaults] not applied:\n%s", out)
	}
	writeConfig(t, "[defaults]\nsubjekt = \"typo\"\n")
	if out, err := run(t, "-c", "NOOP"); err == nil || !strings.Contains(err.Error(), "defaults.subjekt: not a flag") {
		t.Errorf("a key of no command: err = %v\n%s", err, out)
	}
}
