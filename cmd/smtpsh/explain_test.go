package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/explain"
	"github.com/smtpsh/smtpsh/internal/smtp"
)

var update = flag.Bool("update", false, "rewrite golden files")

func runExplain(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newExplainCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.Execute()
	return out.String(), err
}

func TestExplainGolden(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	tests := []struct {
		name string
		args []string
	}{
		{"code-550", []string{"550"}},
		{"code-599-undefined", []string{"599"}},
		{"enhanced-5.7.1", []string{"5.7.1"}},
		{"enhanced-X.7.1", []string{"X.7.1"}},
		{"enhanced-5.9.99-unregistered", []string{"5.9.99"}},
		{"reply-line-quoted", []string{"550 5.7.1 Relay access denied"}},
		{"reply-line-unquoted", []string{"550", "5.7.1", "Relay", "access", "denied"}},
		{"reply-line-markup-and-bidi", []string{"554 5.7.1 ```<b>*not bold*</b> \u202egnp.exe"}},
		{"keyword-pipelining", []string{"PIPELINING"}},
		{"keyword-auth", []string{"AUTH PLAIN LOGIN CRAM-MD5"}},
		{"keyword-x-link2state", []string{"X-LINK2STATE"}},
		{"mechanism-scram", []string{"scram-sha-256"}},
		{"two-queries", []string{"421", "5.7.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := runExplain(t, tt.args...)
			if err != nil {
				t.Fatalf("explain %q: %v", tt.args, err)
			}
			if strings.Contains(got, "\x1b") {
				t.Errorf("output for a non-terminal contains an escape byte:\n%q", got)
			}
			for i, l := range strings.Split(got, "\n") {
				if strings.HasSuffix(l, " ") {
					t.Errorf("line %d has trailing spaces: %q", i+1, l)
				}
			}
			golden := filepath.Join("testdata", "explain", tt.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestExplainErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"no arguments", []string{}, "explain what? give a reply code"},
		{"unknown word", []string{"FOOBAR"}, `cannot explain "FOOBAR"`},
		{"bad code", []string{"650"}, "start with 2, 3, 4 or 5"},
		{"one good one bad", []string{"5.7.1", "6.1.1"}, "class must be 2, 4 or 5"},
		{"control bytes in a reply line", []string{"550 \x1b[2J"}, `control character`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runExplain(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	// A bad query among good ones still fails the command, after the
	// good answers are printed.
	out, err := runExplain(t, "5.7.1", "FOOBAR")
	var qe *explain.QueryError
	if !errors.As(err, &qe) || !strings.Contains(out, "Enhanced status code 5.7.1") {
		t.Errorf("5.7.1 FOOBAR: out %q, err %v", out, err)
	}
}

// TestExplainAnswersEverything runs every RFC 5321 code (§4.2.3, typed from
// the RFC) and every registry entry through the command.
func TestExplainAnswersEverything(t *testing.T) {
	kb, err := explain.New()
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, c := range []int{211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 455,
		500, 501, 502, 503, 504, 550, 551, 552, 553, 554, 555} {
		args = append(args, strconv.Itoa(c))
	}
	codes := kb.EnhancedCodes()
	if len(codes) != 81 {
		t.Errorf("%d registry entries, want 81", len(codes))
	}
	for _, c := range codes {
		args = append(args, "X"+strings.TrimPrefix(smtp.EnhancedCode{Class: 5, Subject: c.Subject, Detail: c.Detail}.String(), "5"))
	}
	out, err := runExplain(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "## Reply code "); n != 24 {
		t.Errorf("%d reply code answers, want 24", n)
	}
	if n := strings.Count(out, "## Enhanced status code X."); n != len(codes) {
		t.Errorf("%d enhanced answers, want %d", n, len(codes))
	}
	if strings.Contains(out, "not in the registry") {
		t.Error("a registry entry was answered as unregistered")
	}
}
