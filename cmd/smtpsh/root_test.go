package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// run executes the command tree with args and returns what it printed.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestVersion(t *testing.T) {
	out, err := run(t, "--version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "smtpsh ") || strings.Count(out, "\n") != 1 {
		t.Errorf("--version printed %q, want one line starting with \"smtpsh \"", out)
	}
}

func TestHelpListsCommands(t *testing.T) {
	out, err := run(t, "help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"completion", "explain", "Usage:"} {
		if !strings.Contains(out, want) {
			t.Errorf("help does not mention %q:\n%s", want, out)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			out, err := run(t, "completion", shell)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "smtpsh") || len(out) < 500 {
				t.Fatalf("completion %s printed %d bytes that do not name smtpsh", shell, len(out))
			}
		})
	}
}

// TestBashCompletionLoads sources the generated script in a real bash and
// checks that it registers a completion for smtpsh.
func TestBashCompletionLoads(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	out, err := run(t, "completion", "bash")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "smtpsh.bash")
	if err := os.WriteFile(script, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command(bash, "-c", "source "+script+" && complete -p smtpsh").CombinedOutput()
	if err != nil {
		t.Fatalf("bash could not load the completion: %v\n%s", err, got)
	}
	if !strings.Contains(string(got), "smtpsh") {
		t.Errorf("complete -p smtpsh printed %q", got)
	}
}

// TestUnknownWordIsAHost: an argument that is no command is the host to
// connect to; when it cannot be resolved, the error names it.
func TestUnknownWordIsAHost(t *testing.T) {
	if _, err := run(t, "no-such-host.invalid"); err == nil || !strings.Contains(err.Error(), "no-such-host.invalid") {
		t.Errorf("smtpsh no-such-host.invalid gave error %v; want one naming the host", err)
	}
}

func TestTooManyArguments(t *testing.T) {
	if _, err := run(t, "a.example", "b.example"); err == nil {
		t.Error("two hosts were accepted")
	}
}
