package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

const example = `
[defaults]
timeout = "30s"
ehlo = "laptop.example"

[targets.work]
server = "mail.example:587"
starttls = true
user = "me"
auth = "plain"
password_env = "WORK_PASS"

[targets.lmtp]
server = "unix:/run/dovecot/lmtp"
lmtp = true
`

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPath(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"XDG_CONFIG_HOME", map[string]string{"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/home/me"}, "/x/cfg/smtpsh/config.toml"},
		{"HOME fallback", map[string]string{"HOME": "/home/me"}, "/home/me/.config/smtpsh/config.toml"},
		// XDG Base Directory: a relative path is invalid and ignored.
		{"relative XDG ignored", map[string]string{"XDG_CONFIG_HOME": "cfg", "HOME": "/home/me"}, "/home/me/.config/smtpsh/config.toml"},
		{"nothing", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Path(env(tc.env)); got != tc.want {
				t.Errorf("Path = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	c, err := Load(env(map[string]string{"XDG_CONFIG_HOME": dir}))
	if err != nil || c.Path != "" || len(c.Targets) != 0 {
		t.Fatalf("no file: %+v, %v; want an empty config", c, err)
	}
	os.MkdirAll(filepath.Join(dir, "smtpsh"), 0o755)
	os.WriteFile(filepath.Join(dir, "smtpsh", "config.toml"), []byte(example), 0o600)
	c, err = Load(env(map[string]string{"XDG_CONFIG_HOME": dir}))
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Target("@work")
	if err != nil {
		t.Fatal(err)
	}
	if w.Server != "mail.example:587" || w.User != "me" || w.Auth != "plain" || w.Flags["starttls"] != true {
		t.Errorf("work = %+v", w)
	}
	if got := w.Secret(env(map[string]string{"WORK_PASS": "s3cret"}), false); got != "s3cret" {
		t.Errorf("Secret = %q", got)
	}
	if _, err := c.Target("home"); err == nil || !strings.Contains(err.Error(), "it has lmtp, work") {
		t.Errorf("unknown target: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"password in a target", "[targets.w]\nserver = \"a:25\"\npassword = \"x\"", "holds no secrets"},
		{"token in defaults", "[defaults]\ntoken = \"x\"", "holds no secrets"},
		{"target without server", "[targets.w]\nuser = \"me\"", "no server"},
		{"unknown table", "[servers.w]\nhost = \"a\"", "unknown table or key \"servers\""},
		{"user not a string", "[targets.w]\nserver = \"a:25\"\nuser = 3", "targets.w.user: want a string"},
		{"bad TOML", "[targets.w\n", "expected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.text); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestApplyFlags: the command line wins over a target, which wins over
// the defaults.
func TestApplyFlags(t *testing.T) {
	c, err := Parse(example + "\n[targets.fast]\nserver = \"a:25\"\ntimeout = \"5s\"\nheader = [\"X-A: 1\", \"X-B: 2\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		target  string
		timeout time.Duration
		ehlo    string
		headers []string
	}{
		{"defaults only", nil, "", 30 * time.Second, "laptop.example", nil},
		{"target over defaults", nil, "fast", 5 * time.Second, "laptop.example", []string{"X-A: 1", "X-B: 2"}},
		{"command line over both", []string{"--timeout", "1s", "--ehlo", "cli.example"}, "fast", time.Second, "cli.example", []string{"X-A: 1", "X-B: 2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			timeout := fs.Duration("timeout", time.Minute, "")
			ehlo := fs.String("ehlo", "", "")
			headers := fs.StringArray("header", nil, "")
			fs.Bool("starttls", false, "")
			fs.Bool("lmtp", false, "")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := ApplyFlags(fs, "defaults", c.Defaults); err != nil {
				t.Fatal(err)
			}
			if tc.target != "" {
				tg, _ := c.Target(tc.target)
				if err := ApplyFlags(fs, "targets."+tc.target, tg.Flags); err != nil {
					t.Fatal(err)
				}
			}
			if *timeout != tc.timeout || *ehlo != tc.ehlo || strings.Join(*headers, "|") != strings.Join(tc.headers, "|") {
				t.Errorf("timeout %v ehlo %q headers %q; want %v %q %q", *timeout, *ehlo, *headers, tc.timeout, tc.ehlo, tc.headers)
			}
		})
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.Bool("starttls", false, "")
	if err := ApplyFlags(fs, "targets.x", map[string]any{"startls": true}); err == nil || !strings.Contains(err.Error(), "targets.x.startls: not a flag") {
		t.Errorf("misspelt flag: %v", err)
	}
	if err := ApplyFlags(fs, "targets.x", map[string]any{"starttls": "maybe"}); err == nil || !strings.Contains(err.Error(), "targets.x.starttls") {
		t.Errorf("bad value: %v", err)
	}
}
