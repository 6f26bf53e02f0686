// Package config reads smtpsh's configuration file,
// $XDG_CONFIG_HOME/smtpsh/config.toml (~/.config/smtpsh/config.toml by
// default): defaults for command-line flags and named targets that
// `smtpsh @NAME` and `smtpsh send --target NAME` use. Flags given on the
// command line always win over the file. The file never holds a secret:
// a target names the environment variable its password comes from.
//
//	[defaults]              # any flag of the shell or send, by its long name
//	timeout = "30s"
//	ehlo = "laptop.example"
//
//	[targets.work]
//	server = "mail.example:587"
//	starttls = true          # other keys are flags too
//	user = "me"
//	auth = "plain"
//	password_env = "WORK_PASS"
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"
)

// maxFile bounds the configuration file, in bytes.
const maxFile = 1 << 20

// Config is the decoded file.
type Config struct {
	// Path is the file read, "" when there was none.
	Path string
	// Defaults are flag values by long flag name.
	Defaults map[string]any
	// Targets are the named targets.
	Targets map[string]*Target
}

// Target is one [targets.NAME] table.
type Target struct {
	Name string
	// Server is what the shell takes as its host argument: host[:port]
	// or unix:/path.
	Server string
	// User and Auth are the AUTH user and mechanism (":auth Auth User").
	User, Auth string
	// PasswordEnv and TokenEnv name the environment variables holding
	// the password and the OAuth token.
	PasswordEnv, TokenEnv string
	// Flags are the other keys: flag values by long flag name.
	Flags map[string]any
}

// Path returns where the file is: $XDG_CONFIG_HOME/smtpsh/config.toml, or
// $HOME/.config/smtpsh/config.toml when XDG_CONFIG_HOME is unset or not
// absolute (XDG Base Directory Specification). "" when neither is set.
func Path(getenv func(string) string) string {
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home := getenv("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "smtpsh", "config.toml")
}

// Load reads the file at Path(getenv). A missing file is an empty Config,
// not an error.
func Load(getenv func(string) string) (*Config, error) {
	p := Path(getenv)
	if p == "" {
		return &Config{}, nil
	}
	c, err := LoadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return &Config{}, nil
	}
	return c, err
}

// secretKeys may not appear in the file: secrets come from the
// environment.
var secretKeys = []string{"password", "pass", "token", "oauth-token", "oauth_token", "secret"}

// LoadFile reads and checks the file at path.
func LoadFile(path string) (*Config, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.Path = path
	return c, nil
}

// Parse decodes the file's text. Unknown top-level tables, a target
// without a server and any key that would hold a secret are errors.
func Parse(text string) (*Config, error) {
	var raw map[string]any
	_, err := toml.Decode(text, &raw)
	if err != nil {
		return nil, err
	}
	c := &Config{Defaults: map[string]any{}, Targets: map[string]*Target{}}
	for k, v := range raw {
		switch k {
		case "defaults":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, errors.New("defaults: want a table")
			}
			if err := checkSecrets("defaults", m); err != nil {
				return nil, err
			}
			c.Defaults = m
		case "targets":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, errors.New("targets: want tables [targets.NAME]")
			}
			for name, tv := range m {
				t, err := parseTarget(name, tv)
				if err != nil {
					return nil, err
				}
				c.Targets[name] = t
			}
		default:
			return nil, fmt.Errorf("unknown table or key %q: the file has [defaults] and [targets.NAME]", k)
		}
	}
	return c, nil
}

func checkSecrets(where string, m map[string]any) error {
	for _, s := range secretKeys {
		if _, ok := m[s]; ok {
			return fmt.Errorf("%s: %q: the file holds no secrets; name an environment variable with password_env (or token_env) instead", where, s)
		}
	}
	return nil
}

func parseTarget(name string, v any) (*Target, error) {
	where := "targets." + name
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a table", where)
	}
	if err := checkSecrets(where, m); err != nil {
		return nil, err
	}
	t := &Target{Name: name, Flags: map[string]any{}}
	for k, v := range m {
		str := func() (string, error) {
			s, ok := v.(string)
			if !ok {
				return "", fmt.Errorf("%s.%s: want a string", where, k)
			}
			return s, nil
		}
		var err error
		switch k {
		case "server":
			t.Server, err = str()
		case "user":
			t.User, err = str()
		case "auth":
			t.Auth, err = str()
		case "password_env":
			t.PasswordEnv, err = str()
		case "token_env":
			t.TokenEnv, err = str()
		default:
			t.Flags[k] = v
		}
		if err != nil {
			return nil, err
		}
	}
	if t.Server == "" {
		return nil, fmt.Errorf("%s: no server (server = \"host[:port]\" or \"unix:/path\")", where)
	}
	return t, nil
}

// Target returns the target called name ("@work" or "work").
func (c *Config) Target(name string) (*Target, error) {
	name = strings.TrimPrefix(name, "@")
	if t, ok := c.Targets[name]; ok {
		return t, nil
	}
	names := make([]string, 0, len(c.Targets))
	for n := range c.Targets {
		names = append(names, n)
	}
	sort.Strings(names)
	where := c.Path
	if where == "" {
		where = "the configuration file (none found)"
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no target %q: %s defines none ([targets.%s] server = \"…\")", name, where, name)
	}
	return nil, fmt.Errorf("no target %q in %s (it has %s)", name, where, strings.Join(names, ", "))
}

// Secret returns the target's password (or token, token true) from the
// environment variable the file names; "" when it names none or the
// variable is unset.
func (t *Target) Secret(getenv func(string) string, token bool) string {
	env := t.PasswordEnv
	if token {
		env = t.TokenEnv
	}
	if env == "" {
		return ""
	}
	return getenv(env)
}

// ApplyFlags sets each flag named in values that the command line did not
// set; apply Defaults first, then a Target's Flags, so the target wins over
// the defaults and the command line over both. It
// looks at cobra/pflag's Changed. A name that is not
// a flag of fs, or a value the flag does not take, is an error naming the
// key. Lists (repeatable flags) are set one element at a time.
func ApplyFlags(fs *pflag.FlagSet, where string, values map[string]any) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := strings.ReplaceAll(k, "_", "-")
		f := fs.Lookup(name)
		if f == nil {
			return fmt.Errorf("%s.%s: not a flag of this command", where, k)
		}
		if f.Changed {
			continue
		}
		vals := []any{values[k]}
		if list, ok := values[k].([]any); ok {
			vals = list
		}
		for _, v := range vals {
			if err := fs.Set(name, fmt.Sprint(v)); err != nil {
				return fmt.Errorf("%s.%s: %w", where, k, err)
			}
		}
		// Set marks the flag changed; a value from the file is not from
		// the command line, but a later ApplyFlags (a target after the
		// defaults) must still be able to override it.
		f.Changed = false
	}
	return nil
}
