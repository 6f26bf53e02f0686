package shell

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestSessionGolden compares whole sessions' output with golden files in
// testdata/, after replacing what changes from run to run (the port, the
// queue ID).
func TestSessionGolden(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
	}{
		{"submission", []string{"EHLO client.example", "MAIL FROM:<student@example.org>", "RCPT TO:<alice@lab.smtpsh.test>",
			"DATA", "Subject: hello", "", ".signature", ".", "QUIT"}},
		{"course-notes", []string{"HELO mail1.inlanefreight.htb", "VRFY root", "MAIL FROM: <student@inlanefreight.htb>",
			"RCPT TO: <admin@inlanefreight.htb> NOTIFY=success,failure", "RCPT TO:<bob@example.net>", "RSET", "QUIT"}},
	}
	normal := []struct {
		re   *regexp.Regexp
		with string
	}{
		{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
		{regexp.MustCompile(`queued as [0-9A-F]+`), "queued as QUEUEID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := startLab(t, "default")
			out, _, err := runLines(t, addr, Config{}, tt.lines...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, n := range normal {
				out = n.re.ReplaceAllString(out, n.with)
			}
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, out)
			}
		})
	}
}
