package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLearnCheck: --check passes a shipped lesson and points at each
// mistake of a broken one by file and line, with exit status 1.
func TestLearnCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.md")
	src, err := os.ReadFile(filepath.Join("..", "..", "lessons", "files", "01-first-contact.md"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, src, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runShellCmd(t, "", "learn", "--check", good)
	if err != nil || !strings.Contains(out, "good.md: ok") {
		t.Errorf("--check on lesson 1: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "bad.md")
	text := "+++\ntitle = \"T\"\nsummary = \"S\"\nprofile = \"default\"\nobjectives = [\"O\"]\n+++\n## Step: S\n\n```check\nreply_match = \"(?P<\"\nrepley = \"250\"\n```\n\n```wrong\nNOOP\n```\n"
	if err := os.WriteFile(bad, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runShellCmd(t, "", "learn", "--check", bad)
	if exitStatus(err) != 1 {
		t.Errorf("exit status %d (%v), want 1", exitStatus(err), err)
	}
	for _, want := range []string{"bad.md:7: step \"S\" has no ```solution block", "bad.md:10: reply_match:", "bad.md:11: unknown check key \"repley\""} {
		if !strings.Contains(out, want) {
			t.Errorf("--check lacks %q:\n%s", want, out)
		}
	}
}

// TestPTYLearn runs `smtpsh learn 1` on a terminal: the lesson is shown,
// a wrong command gets a hint, :hint and :lesson answer, the steps complete
// as they are typed, and `smtpsh learn` then lists the progress.
func TestPTYLearn(t *testing.T) {
	p := startPTYShell(t, "learn", "1")
	at := p.waitFor(0, "Step 1/6: Read the banner")
	at = p.waitFor(at, "✓ step 1/6: Read the banner")
	at = p.waitFor(at, "Step 2/6")
	p.typeText("NOP\r")
	at = p.waitFor(at, "500 5.5.2")
	at = p.waitFor(at, "Hint 1/2")
	p.typeText(":hint\r")
	at = p.waitFor(at, "Hint 2/2")
	p.typeText("NOOP\r")
	at = p.waitFor(at, "✓ step 2/6")
	p.typeText(":lesson\r")
	at = p.waitFor(at, "step 3 of 6")
	p.typeText(":explain 220\r")
	at = p.waitFor(at, "Reply code 220")
	at = p.waitFor(at, "✓ step 3/6")
	p.typeText(":skip\r")
	at = p.waitFor(at, "skipped step 4/6")
	p.typeText("FOO\r")
	at = p.waitFor(at, "✓ step 5/6")
	p.typeText("QUIT\r")
	p.waitFor(at, "✓ lesson complete")
	if code := p.wait(); code != 0 {
		t.Errorf("exit status %d:\n%s", code, p.out.String())
	}
	t.Setenv("XDG_STATE_HOME", p.state)
	out, err := runShellCmd(t, "", "learn")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "first-contact") || !strings.Contains(out, "5/6 (1 skipped)") || !strings.Contains(out, "next: smtpsh learn 2") {
		t.Errorf("learn after lesson 1:\n%s", out)
	}
}
