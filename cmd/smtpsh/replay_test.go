package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/shell"
	"github.com/smtpsh/smtpsh/transcripts"
)

// runReplayCmd runs `smtpsh replay` in-process with args and stdin.
func runReplayCmd(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newReplayCmd()
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// profileLab starts the in-process lab with profile and returns its address.
func profileLab(t *testing.T, profile string) string {
	t.Helper()
	l, err := startShellLab(profile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.stop)
	return l.addr
}

// recordSession records a whole submission, with VRFY and a dot-stuffed
// data line, against the lab at addr with the shell's --record, and
// returns the transcript's path.
func recordSession(t *testing.T, addr string, extra ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "session.txt")
	args := []string{addr, "--record", path, "-c", "EHLO client.example", "-c", "VRFY root",
		"-c", "MAIL FROM:<student@example.org>", "-c", "RCPT TO:<alice@lab.smtpsh.test>",
		"-c", "DATA", "-c", "Subject: replay", "-c", "", "-c", ".dot", "-c", "."}
	args = append(args, extra...)
	args = append(args, "-c", "QUIT")
	if out, err := runShellCmd(t, "", args...); err != nil {
		t.Fatalf("recording: %v\n%s", err, out)
	}
	return path
}

// TestReplayTo records a session against the default lab, then sends it
// again: to a lab with the same profile every reply matches (exit 0); to
// the enum profile, whose VRFY reveals users (RFC 5321 §3.5.3 lets a server
// answer 252 instead, as the default does), VRFY's reply differs (exit 4)
// and the difference names both codes.
func TestReplayTo(t *testing.T) {
	rec := recordSession(t, labAddr(t))
	tests := []struct {
		name    string
		profile string
		code    int
		want    []string
	}{
		{"same-profile", "default", 0, []string{"C: VRFY root", "S: 252 2.0.0", "sent as ..dot", "replay: 10 client lines sent, every reply matches"}},
		{"enum-profile", "enum", shell.ExitExpect, []string{"differs: VRFY root: recorded 252 2.0.0, got 250 2.0.0", "1 reply differs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runReplayCmd(t, "", rec, "--to", profileLab(t, tt.profile))
			if got := exitStatus(err); got != tt.code {
				t.Errorf("exit %d (%v), want %d\n%s", got, err, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.code == 0 && strings.Contains(out, "differs:") {
				t.Errorf("a difference against the same profile:\n%s", out)
			}
		})
	}
}

// TestReplayShow prints a recorded transcript, text and JSON Lines, as the
// shell showed it: with a stdin that is not a terminal it does not wait.
func TestReplayShow(t *testing.T) {
	rec := recordSession(t, labAddr(t))
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transcripts.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	jsonl := filepath.Join(t.TempDir(), "session.jsonl")
	var jb bytes.Buffer
	if err := transcripts.WriteJSONL(&jb, tr, transcripts.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jsonl, jb.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	want := []string{"connected to 127.0.0.1:", "S: 220 lab.smtpsh.test", "C: VRFY root", "S: 252 2.0.0 root",
		"↳ The server will not say", "C: ..dot", "S: 354", "S: 221", "connection closed"}
	var outs []string
	for _, tt := range []struct{ name, path string }{{"text", rec}, {"jsonl", jsonl}} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runReplayCmd(t, "\n", tt.path)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "Enter") || strings.Contains(out, "\x1b") {
				t.Errorf("waited for Enter or wrote escapes with stdin and stdout not terminals:\n%q", out)
			}
			outs = append(outs, out)
		})
	}
	if len(outs) == 2 && outs[0] != outs[1] {
		t.Errorf("text and JSON Lines show differently:\n%s\n----\n%s", outs[0], outs[1])
	}
	out, err := runReplayCmd(t, "", rec, "--no-explain")
	if err != nil || strings.Contains(out, "↳") {
		t.Errorf("--no-explain: %v, still explains:\n%s", err, out)
	}
}

// TestReplayErrors: a broken file names itself and the line; a redacted
// AUTH line stops --to before it, naming it.
func TestReplayErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("# smtpsh transcript v1\nS: 220 ok\nX: what\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runReplayCmd(t, "", bad, "--all")
	if exitStatus(err) != 1 || err == nil || !strings.Contains(err.Error(), bad+":3") {
		t.Errorf("bad file: exit %d, error %v, want exit 1 naming %s:3\n%s", exitStatus(err), err, bad, out)
	}
	_, err = runReplayCmd(t, "", filepath.Join(dir, "missing.txt"))
	if exitStatus(err) != 1 {
		t.Errorf("missing file: exit %d (%v), want 1", exitStatus(err), err)
	}

	addr := labAddr(t)
	auth := filepath.Join(dir, "auth.txt")
	if out, err := runShellCmd(t, "", addr, "--record", auth, "-c", "EHLO client.example", "-c", "NOOP", "-c", "AUTH PLAIN AHUAcA==", "-c", "QUIT"); err != nil {
		t.Fatalf("recording: %v\n%s", err, out)
	}
	out, err = runReplayCmd(t, "", auth, "--to", addr)
	if exitStatus(err) != 1 {
		t.Errorf("redacted: exit %d (%v), want 1\n%s", exitStatus(err), err, out)
	}
	for _, w := range []string{`stopped before client line 3, "AUTH PLAIN <redacted>": it was redacted`, "C: NOOP", "replay: 2 client lines sent, every reply matches"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "C: AUTH") {
		t.Errorf("a redacted line was sent:\n%s", out)
	}
}

// TestReplayToUnreachable: no server at --to is the shell's connection
// failure, exit 3.
func TestReplayToUnreachable(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "s.txt")
	if err := os.WriteFile(rec, []byte("# smtpsh transcript v1\nS: 220 ok\nC: QUIT\nS: 221 bye\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = runReplayCmd(t, "", rec, "--to", addr, "--timeout", "2s")
	if exitStatus(err) != shell.ExitConnect {
		t.Errorf("exit %d (%v), want %d", exitStatus(err), err, shell.ExitConnect)
	}
}
