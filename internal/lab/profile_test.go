package lab

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBuiltinProfilesLoad loads every embedded profile and checks the
// directory they all share (issue 3: lessons and tests rely on it).
func TestBuiltinProfilesLoad(t *testing.T) {
	names := ProfileNames()
	want := []string{"default", "enum", "hardened", "htb", "legacy", "open-relay", "smuggling"}
	if !slices.Equal(names, want) {
		t.Fatalf("ProfileNames() = %q, want %q", names, want)
	}
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			p, err := LoadProfile(n)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != n {
				t.Errorf("name = %q in %s.toml", p.Name, n)
			}
			if p.Description == "" || strings.Contains(p.Description, "\n") {
				t.Errorf("description %q: want one line", p.Description)
			}
			d := p.Directory()
			if d.Domain != "lab.smtpsh.test" || p.Hostname != "lab.smtpsh.test" {
				t.Errorf("domain %q hostname %q", d.Domain, p.Hostname)
			}
			if got := d.String(); got != shared {
				t.Errorf("directory:\n%s\nwant:\n%s", got, shared)
			}
		})
	}
}

const shared = `users:   alice@lab.smtpsh.test (password wonderland), bob@lab.smtpsh.test (password builder)
aliases: admin → alice, postmaster → alice, root → alice
lists:   team → alice bob
`

// TestProfileKnobs checks that each built-in sets what issue 3 asks of it.
func TestProfileKnobs(t *testing.T) {
	load := func(n string) *Profile {
		p, err := LoadProfile(n)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	d := load("default")
	if d.Policy.Relay != RelayAuthenticated || d.Policy.VRFY != AnswerCannotVerify || !d.Auth.TLSOnly || !d.hasExtension("STARTTLS") {
		t.Errorf("default: %+v %+v", d.Policy, d.Auth)
	}
	if p := load("open-relay"); p.Policy.Relay != RelayOpen {
		t.Errorf("open-relay relay = %q", p.Policy.Relay)
	}
	if p := load("enum"); p.Policy.VRFY != AnswerReveal || p.Policy.EXPN != AnswerReveal || p.Policy.UnknownRecipients != UnknownReject {
		t.Errorf("enum policy %+v", p.Policy)
	}
	if p := load("htb"); p.SMTP.Banner != "ESMTP Server" || p.Policy.Relay != RelayOpen || p.Policy.VRFY != AnswerCannotVerify {
		t.Errorf("htb %+v %+v", p.SMTP, p.Policy)
	}
	if p := load("hardened"); !p.TLS.Required || !p.Auth.Required || p.Policy.VRFY != AnswerDisabled || p.Policy.EXPN != AnswerDisabled ||
		!p.Greylist.Enabled || p.Limits.MessagesPerMinute == 0 || p.Limits.ErrorDelay == 0 {
		t.Errorf("hardened %+v", p)
	}
	if p := load("legacy"); p.SMTP.EHLO || len(p.SMTP.Extensions) != 0 || p.SMTP.EnhancedStatusCodes {
		t.Errorf("legacy %+v", p.SMTP)
	}
	if p := load("smuggling"); !p.SMTP.Smuggling {
		t.Error("smuggling profile does not set smtp.smuggling")
	}
	if d.SMTP.Smuggling {
		t.Error("default profile is vulnerable to smuggling")
	}
}

// TestLoadProfileFile checks user files: a base, overrides, and errors
// that name the key and the file.
func TestLoadProfileFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("overrides its base", func(t *testing.T) {
		p, err := LoadProfile(write("mine.toml", "name = \"mine\"\nbase = \"htb\"\n[limits]\ncommand_timeout = \"30s\"\n[users]\ncarol = \"secret\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if p.SMTP.Banner != "ESMTP Server" || p.Limits.CommandTimeout != 30*time.Second || p.Users["carol"] != "secret" || p.Users["alice"] != "wonderland" {
			t.Errorf("got %+v", p)
		}
		if h, _ := LoadProfile("htb"); h.Users["carol"] != "" {
			t.Error("loading a file changed its base")
		}
	})
	for _, tc := range []struct{ name, text, want string }{
		{"unknown key", "name = \"x\"\n[smtp]\nbaner = \"typo\"\n", `unknown key "smtp.baner"`},
		{"unknown top-level key", "name = \"x\"\nrelay = \"open\"\n", `unknown key "relay"`},
		{"bad enum", "name = \"x\"\n[policy]\nvrfy = \"yes\"\n", `policy.vrfy = "yes"`},
		{"bad extension", "name = \"x\"\n[smtp]\nextensions = [\"XYZZY\"]\n", `"XYZZY" is not an extension`},
		{"dangling alias", "name = \"x\"\n[aliases]\nsales = \"carol\"\n", `"sales" resolves to "carol"`},
		{"alias loop", "name = \"x\"\n[aliases]\nx1 = \"x2\"\nx2 = \"x1\"\n", "nest deeper"},
		{"unsafe name", "name = \"x\"\n[users]\n\"../etc\" = \"pw\"\n", `"../etc"`},
		{"banner with CRLF", "name = \"x\"\n[smtp]\nbanner = \"a\\r\\n250 forged\"\n", "control character"},
		{"bad base", "name = \"x\"\nbase = \"nope\"\n", `base "nope" is not a built-in`},
		{"bad duration", "name = \"x\"\n[limits]\ncommand_timeout = \"soon\"\n", "command_timeout"},
		{"not TOML", "name = \n", "mine.toml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write("mine.toml", tc.text)
			_, err := LoadProfile(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "mine.toml") {
				t.Errorf("error %v; want one naming %s and containing %q", err, path, tc.want)
			}
		})
	}
	if _, err := LoadProfile("nosuch"); err == nil || !strings.Contains(err.Error(), "built-ins: default,") {
		t.Errorf("unknown built-in: %v", err)
	}
	if _, err := LoadProfile(filepath.Join(dir, "missing.toml")); err == nil {
		t.Error("missing file: no error")
	}
}

// TestProfileSourceLoadsBack checks that the text ProfileSource gives a
// user, saved to a file, loads as the same profile: what `smtpsh lab
// --print-profile` prints is a working starting point.
func TestProfileSourceLoadsBack(t *testing.T) {
	for _, name := range ProfileNames() {
		src, err := ProfileSource(name)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "mine.toml")
		if err := os.WriteFile(file, src, 0o600); err != nil {
			t.Fatal(err)
		}
		fromFile, err := LoadProfile(file)
		if err != nil {
			t.Fatalf("%s: the printed profile does not load: %v", name, err)
		}
		builtin, err := LoadProfile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fromFile, builtin) {
			t.Errorf("%s: loaded from its printed text it differs from the built-in:\n%+v\n%+v", name, fromFile, builtin)
		}
	}
	if _, err := ProfileSource("../default"); err == nil {
		t.Error("ProfileSource accepted a path")
	}
}
