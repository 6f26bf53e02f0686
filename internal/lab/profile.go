package lab

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

//go:embed profiles/*.toml
var profileFiles embed.FS

// baseProfile is the built-in every other profile, built-in or user file,
// starts from unless it names another one with "base".
const baseProfile = "default"

// maxProfileBytes bounds a user profile file: profiles are a few kilobytes.
const maxProfileBytes = 1 << 20

// Profile is a lab server's personality: every knob is a field, and a TOML
// file sets them (see the embedded profiles/default.toml, which documents
// each one). A Profile is read-only once loaded; a test may change a copy's
// fields before passing it to New.
type Profile struct {
	// Name is the profile's short name ("default", "htb", …).
	Name string `toml:"name"`
	// Description is one line, printed by `smtpsh lab --profile list`.
	Description string `toml:"description"`
	// Base names the built-in profile this one starts from; every key the
	// file sets overrides it. Empty means "default"; "default" itself has
	// no base.
	Base string `toml:"base"`

	// Hostname is the name the server gives in its banner, in HELO/EHLO
	// replies and in Received: headers.
	Hostname string `toml:"hostname"`
	// Domain is the lab's mail domain: alice@Domain is a local mailbox.
	Domain string `toml:"domain"`
	// LocalDomains are other domains whose mail is local too (Postfix's
	// mydestination). Hostname and Domain are always local.
	LocalDomains []string `toml:"local_domains"`

	SMTP     SMTPSettings     `toml:"smtp"`
	TLS      TLSSettings      `toml:"tls"`
	Auth     AuthSettings     `toml:"auth"`
	Policy   PolicySettings   `toml:"policy"`
	Limits   LimitSettings    `toml:"limits"`
	Greylist GreylistSettings `toml:"greylist"`

	// Users maps each user name to its password (for AUTH) and is also
	// the set of local mailboxes.
	Users map[string]string `toml:"users"`
	// Aliases maps a local name to a user, list or another alias.
	Aliases map[string]string `toml:"aliases"`
	// Lists maps a list name to its members (users, aliases or lists).
	Lists map[string][]string `toml:"lists"`
}

// SMTPSettings is the protocol's personality: banner, extensions, tolerance.
type SMTPSettings struct {
	// Banner is the text of the greeting after the code: "220 " Banner.
	Banner string `toml:"banner"`
	// GreetingCode is 220 (ready) or 554 (no SMTP service here: the
	// server then answers every command but QUIT with 503, RFC 5321 §3.1).
	GreetingCode int `toml:"greeting_code"`
	// EHLO false makes the server an RFC 821 one: EHLO is an unknown
	// command (500) and HELO is the only greeting (RFC 5321 §4.1.4 tells
	// clients to fall back to HELO).
	EHLO bool `toml:"ehlo"`
	// HELORequired makes MAIL, VRFY, EXPN, ETRN and AUTH before HELO/EHLO
	// a 503 (Postfix's smtpd_helo_required).
	HELORequired bool `toml:"helo_required"`
	// Strict turns off what Postfix tolerates by default: a space after
	// "FROM:", a path without angle brackets, lower-case mechanisms, ….
	Strict bool `toml:"strict"`
	// EnhancedStatusCodes puts RFC 3463 codes in replies (RFC 2034). Old
	// servers had none.
	EnhancedStatusCodes bool `toml:"enhanced_status_codes"`
	// Extensions lists the EHLO keywords advertised, in order. SIZE gets
	// Limits.MessageSize as its value, AUTH the mechanisms; STARTTLS is
	// shown only when the server has a TLS configuration and the session
	// is not yet encrypted, AUTH only when AUTH is allowed at that point.
	// A command or parameter of an extension not listed is refused.
	Extensions []string `toml:"extensions"`
	// ETRNCode is ETRN's answer: 250 (queuing started), 458 (unable to
	// queue) or 459 (not allowed), RFC 1985 §5.
	ETRNCode int `toml:"etrn_code"`
	// Smuggling makes DATA end at the first bare-LF or bare-CR form of
	// "." ("\n.\n", "\n.\r\n", "\r.\r", …), as the servers vulnerable to
	// SMTP smuggling did; otherwise only "\r\n.\r\n" ends DATA (RFC 5321
	// §4.5.2) and such forms are recorded as transcript notes.
	Smuggling bool `toml:"smuggling"`
}

// TLSSettings is the TLS policy (RFC 3207).
type TLSSettings struct {
	// Required makes MAIL and AUTH before STARTTLS a 530 5.7.0 (RFC 3207
	// §4; Postfix's smtpd_tls_security_level = encrypt).
	Required bool `toml:"required"`
}

// AuthSettings is the AUTH policy (RFC 4954).
type AuthSettings struct {
	// Mechanisms are the SASL mechanisms offered: PLAIN, LOGIN, CRAM-MD5.
	// Empty means no AUTH at all.
	Mechanisms []string `toml:"mechanisms"`
	// TLSOnly offers AUTH only on an encrypted session; before it, AUTH
	// is answered 538 5.7.11 (Postfix's smtpd_tls_auth_only).
	TLSOnly bool `toml:"tls_only"`
	// Required makes MAIL before a successful AUTH a 530 5.7.0
	// (RFC 4954 §6).
	Required bool `toml:"required"`
	// Tokens maps a user to the OAuth bearer token XOAUTH2 and
	// OAUTHBEARER accept for it (RFC 7628); the lab has no
	// authorization server, so tokens are fixed strings.
	Tokens map[string]string `toml:"tokens"`
}

// PolicySettings are the answers that make a server leak or relay.
type PolicySettings struct {
	// VRFY is "cannot-verify" (252 for every name, as Postfix), "reveal"
	// (250 for users, 550 5.1.1 for others) or "disabled" (502).
	VRFY string `toml:"vrfy"`
	// EXPN is like VRFY; "reveal" lists a list's members.
	EXPN string `toml:"expn"`
	// Relay governs recipients outside the local domains: "open" (accept
	// from anyone), "authenticated" (after AUTH; 554 5.7.1 Relay access
	// denied otherwise) or "none".
	Relay string `toml:"relay"`
	// UnknownRecipients is "reject" (550 5.1.1 User unknown) or "accept"
	// (delivered to the postmaster's mailbox).
	UnknownRecipients string `toml:"unknown_recipients"`
}

// LimitSettings bounds what a client may send, and how long it may wait.
type LimitSettings struct {
	// MessageSize is the SIZE limit in octets (RFC 1870); 0 for none.
	MessageSize int64 `toml:"message_size"`
	// Recipients is the most RCPTs per message (452 4.5.3 beyond).
	Recipients int `toml:"recipients"`
	// CommandLine is the longest command line with its CRLF (RFC 5321
	// §4.5.3.1.4: 512). AUTH lines may be up to 12288 (RFC 4954 §4).
	CommandLine int `toml:"command_line"`
	// TextLine is the longest line of message text with its CRLF (RFC
	// 5321 §4.5.3.1.6: 1000).
	TextLine int `toml:"text_line"`
	// LongTextLines is "accept" (recorded as a transcript note, as
	// Postfix accepts them) or "reject" (500 5.5.2 after the data).
	LongTextLines string `toml:"long_text_lines"`
	// CommandTimeout bounds each read while waiting for a command, and
	// DataTimeout each read of message text (Postfix: smtpd_timeout).
	CommandTimeout time.Duration `toml:"command_timeout"`
	DataTimeout    time.Duration `toml:"data_timeout"`
	// MaxErrors closes the session with 421 4.7.0 after that many error
	// replies (Postfix's smtpd_hard_error_limit); 0 for no limit.
	MaxErrors int `toml:"max_errors"`
	// SoftErrors is the error count from which each error reply is
	// delayed by ErrorDelay (Postfix's smtpd_soft_error_limit and
	// smtpd_error_sleep_time): a tarpit.
	SoftErrors int           `toml:"soft_errors"`
	ErrorDelay time.Duration `toml:"error_delay"`
	// MessagesPerMinute limits MAIL commands per client address (450
	// 4.7.1 beyond, Postfix's smtpd_client_message_rate_limit); 0 for none.
	MessagesPerMinute int `toml:"messages_per_minute"`
	// Sessions bounds concurrent sessions (421 4.3.2 beyond).
	Sessions int `toml:"sessions"`
}

// GreylistSettings configures greylisting: the first attempt of a (client
// address, sender, recipient) triple is answered 450 4.7.1, and a retry
// after Delay is accepted.
type GreylistSettings struct {
	Enabled bool          `toml:"enabled"`
	Delay   time.Duration `toml:"delay"`
}

// The values of the enumerated knobs.
const (
	AnswerCannotVerify = "cannot-verify"
	AnswerReveal       = "reveal"
	AnswerDisabled     = "disabled"

	RelayOpen          = "open"
	RelayAuthenticated = "authenticated"
	RelayNone          = "none"

	UnknownReject = "reject"
	UnknownAccept = "accept"
)

// ProfileNames returns the names of the built-in profiles, sorted.
func ProfileNames() []string {
	entries, err := fs.ReadDir(profileFiles, "profiles")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".toml"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// LoadProfile returns a built-in profile by name, or loads a TOML file when
// nameOrPath contains a path separator or ends in ".toml". A file starts
// from its base profile ("default" unless it says otherwise) and overrides
// what it sets. Unknown keys are an error naming the key and the file.
func LoadProfile(nameOrPath string) (*Profile, error) {
	if strings.ContainsRune(nameOrPath, os.PathSeparator) || strings.Contains(nameOrPath, "/") || strings.HasSuffix(nameOrPath, ".toml") {
		f, err := os.Open(nameOrPath)
		if err != nil {
			return nil, fmt.Errorf("lab profile: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxProfileBytes+1))
		if err != nil {
			return nil, fmt.Errorf("lab profile %s: %w", nameOrPath, err)
		}
		if len(b) > maxProfileBytes {
			return nil, fmt.Errorf("lab profile %s: larger than %d bytes", nameOrPath, maxProfileBytes)
		}
		return loadProfile(nameOrPath, string(b), "")
	}
	return builtin(nameOrPath)
}

// ProfileSource returns the text of a built-in profile file, comments
// included, for users to copy and edit (`smtpsh lab --print-profile NAME`).
func ProfileSource(name string) ([]byte, error) {
	b, err := profileFiles.ReadFile(path.Join("profiles", name+".toml"))
	if err != nil || strings.ContainsAny(name, "/\\") {
		return nil, fmt.Errorf("lab profile %q: no such built-in profile (built-ins: %s)", name, strings.Join(ProfileNames(), ", "))
	}
	return b, nil
}

// builtin loads an embedded profile.
func builtin(name string) (*Profile, error) {
	b, err := profileFiles.ReadFile(path.Join("profiles", name+".toml"))
	if err != nil || strings.ContainsAny(name, "/\\") {
		return nil, fmt.Errorf("lab profile %q: no such built-in profile (built-ins: %s; or give a path to a .toml file)", name, strings.Join(ProfileNames(), ", "))
	}
	return loadProfile("profiles/"+name+".toml", string(b), name)
}

// loadProfile decodes text (from file) over its base, then validates.
func loadProfile(file, text, builtinName string) (*Profile, error) {
	// Read "base" first, so the base's values are in place before the
	// file's own keys override them.
	var head struct {
		Base string `toml:"base"`
	}
	if _, err := toml.Decode(text, &head); err != nil {
		return nil, fmt.Errorf("lab profile %s: %w", file, err)
	}
	p := &Profile{}
	base := head.Base
	if base == "" && builtinName != baseProfile {
		base = baseProfile
	}
	if base != "" {
		if base == builtinName {
			return nil, fmt.Errorf("lab profile %s: base %q is the profile itself", file, base)
		}
		b, err := profileFiles.ReadFile(path.Join("profiles", base+".toml"))
		if err != nil || strings.ContainsAny(base, "/\\") {
			return nil, fmt.Errorf("lab profile %s: base %q is not a built-in profile (built-ins: %s)", file, base, strings.Join(ProfileNames(), ", "))
		}
		bp, err := loadProfile("profiles/"+base+".toml", string(b), base)
		if err != nil {
			return nil, err
		}
		p = bp.clone()
	}
	md, err := toml.Decode(text, p)
	if err != nil {
		return nil, fmt.Errorf("lab profile %s: %w", file, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("lab profile %s: unknown key %q (see profiles/default.toml for every knob)", file, strings.Join(keys, `", "`))
	}
	p.Base = head.Base
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("lab profile %s: %w", file, err)
	}
	return p, nil
}

// clone returns a deep copy, so that decoding a file over a base does not
// change the base.
func (p *Profile) clone() *Profile {
	c := *p
	c.LocalDomains = slices.Clone(p.LocalDomains)
	c.SMTP.Extensions = slices.Clone(p.SMTP.Extensions)
	c.Auth.Mechanisms = slices.Clone(p.Auth.Mechanisms)
	c.Auth.Tokens = maps.Clone(p.Auth.Tokens)
	c.Users = make(map[string]string, len(p.Users))
	for k, v := range p.Users {
		c.Users[k] = v
	}
	c.Aliases = make(map[string]string, len(p.Aliases))
	for k, v := range p.Aliases {
		c.Aliases[k] = v
	}
	c.Lists = make(map[string][]string, len(p.Lists))
	for k, v := range p.Lists {
		c.Lists[k] = slices.Clone(v)
	}
	return &c
}

// knownExtensions are the EHLO keywords the lab implements.
var knownExtensions = []string{"PIPELINING", "SIZE", "VRFY", "ETRN", "STARTTLS", "AUTH", "ENHANCEDSTATUSCODES", "8BITMIME", "BINARYMIME", "DSN", "SMTPUTF8", "CHUNKING", "HELP", "EXPN"}

// knownMechanisms are the SASL mechanisms the lab implements.
var knownMechanisms = []string{"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER", "SCRAM-SHA-1", "SCRAM-SHA-256"}

// validate checks the knobs' values and the directory's consistency.
func (p *Profile) validate() error {
	oneOf := func(key, v string, allowed ...string) error {
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("%s = %q: want one of %q", key, v, allowed)
		}
		return nil
	}
	if p.Name == "" {
		return errors.New("name is empty")
	}
	if !validHost(p.Hostname) {
		return fmt.Errorf("hostname = %q is not a domain name", p.Hostname)
	}
	if !validHost(p.Domain) {
		return fmt.Errorf("domain = %q is not a domain name", p.Domain)
	}
	for _, d := range p.LocalDomains {
		if !validHost(d) {
			return fmt.Errorf("local_domains: %q is not a domain name", d)
		}
	}
	if err := printable("smtp.banner", p.SMTP.Banner); err != nil {
		return err
	}
	if p.SMTP.GreetingCode != 220 && p.SMTP.GreetingCode != 554 {
		return fmt.Errorf("smtp.greeting_code = %d: want 220 or 554 (RFC 5321 §3.1)", p.SMTP.GreetingCode)
	}
	if c := p.SMTP.ETRNCode; c != 250 && c != 458 && c != 459 {
		return fmt.Errorf("smtp.etrn_code = %d: want 250, 458 or 459 (RFC 1985 §5)", c)
	}
	for i, e := range p.SMTP.Extensions {
		u := strings.ToUpper(e)
		if !slices.Contains(knownExtensions, u) {
			return fmt.Errorf("smtp.extensions: %q is not an extension the lab implements (%s)", e, strings.Join(knownExtensions, " "))
		}
		p.SMTP.Extensions[i] = u
	}
	for i, m := range p.Auth.Mechanisms {
		u := strings.ToUpper(m)
		if !slices.Contains(knownMechanisms, u) {
			return fmt.Errorf("auth.mechanisms: %q is not a mechanism the lab implements (%s)", m, strings.Join(knownMechanisms, " "))
		}
		p.Auth.Mechanisms[i] = u
	}
	for _, e := range []error{
		oneOf("policy.vrfy", p.Policy.VRFY, AnswerCannotVerify, AnswerReveal, AnswerDisabled),
		oneOf("policy.expn", p.Policy.EXPN, AnswerCannotVerify, AnswerReveal, AnswerDisabled),
		oneOf("policy.relay", p.Policy.Relay, RelayOpen, RelayAuthenticated, RelayNone),
		oneOf("policy.unknown_recipients", p.Policy.UnknownRecipients, UnknownReject, UnknownAccept),
		oneOf("limits.long_text_lines", p.Limits.LongTextLines, "accept", "reject"),
	} {
		if e != nil {
			return e
		}
	}
	l := p.Limits
	switch {
	case l.MessageSize < 0:
		return errors.New("limits.message_size is negative")
	case l.Recipients < 1:
		return errors.New("limits.recipients must be at least 1")
	case l.CommandLine < 512 || l.CommandLine > 65536:
		return fmt.Errorf("limits.command_line = %d: want 512 (RFC 5321 §4.5.3.1.4) to 65536", l.CommandLine)
	case l.TextLine < 1000 || l.TextLine > 1<<20:
		return fmt.Errorf("limits.text_line = %d: want 1000 (RFC 5321 §4.5.3.1.6) to 1048576", l.TextLine)
	case l.CommandTimeout <= 0 || l.DataTimeout <= 0:
		return errors.New("limits.command_timeout and limits.data_timeout must be positive durations such as \"5m\"")
	case l.MaxErrors < 0 || l.SoftErrors < 0 || l.ErrorDelay < 0 || l.MessagesPerMinute < 0:
		return errors.New("limits: max_errors, soft_errors, error_delay and messages_per_minute cannot be negative")
	case l.Sessions < 1:
		return errors.New("limits.sessions must be at least 1")
	case p.Greylist.Enabled && p.Greylist.Delay <= 0:
		return errors.New("greylist.delay must be a positive duration such as \"1m\"")
	}
	return p.validateDirectory()
}

// validateDirectory checks names (they become Maildir directory names) and
// that every alias and list member resolves.
func (p *Profile) validateDirectory() error {
	seen := map[string]string{}
	for kind, names := range map[string][]string{"users": keys(p.Users), "aliases": keys(p.Aliases), "lists": keys(p.Lists)} {
		for _, n := range names {
			if !validLocalName(n) {
				return fmt.Errorf("%s: %q: names are lower-case letters, digits, '.', '-' and '_', not starting with '.'", kind, n)
			}
			if other, dup := seen[n]; dup {
				return fmt.Errorf("%q is in both %s and %s", n, other, kind)
			}
			seen[n] = kind
		}
	}
	for u, pw := range p.Users {
		if pw == "" {
			return fmt.Errorf("users: %q has an empty password", u)
		}
	}
	for a := range p.Aliases {
		if _, err := p.expand(a); err != nil {
			return fmt.Errorf("aliases: %w", err)
		}
	}
	for l := range p.Lists {
		if _, err := p.expand(l); err != nil {
			return fmt.Errorf("lists: %w", err)
		}
	}
	return nil
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// maxExpansion bounds alias and list nesting.
const maxExpansion = 8

// expand resolves a local name (lower-case) to the users it delivers to,
// sorted and without duplicates; an unknown name is an error.
func (p *Profile) expand(name string) ([]string, error) {
	var out []string
	var walk func(n string, depth int) error
	walk = func(n string, depth int) error {
		if depth > maxExpansion {
			return fmt.Errorf("%q: aliases and lists nest deeper than %d (a loop?)", name, maxExpansion)
		}
		if _, ok := p.Users[n]; ok {
			out = append(out, n)
			return nil
		}
		if t, ok := p.Aliases[n]; ok {
			return walk(t, depth+1)
		}
		if ms, ok := p.Lists[n]; ok {
			for _, m := range ms {
				if err := walk(m, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		return fmt.Errorf("%q resolves to %q, which is not a user, alias or list", name, n)
	}
	if err := walk(name, 0); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

func validLocalName(n string) bool {
	if n == "" || len(n) > 64 || n[0] == '.' {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validHost accepts an LDH domain name (RFC 5321 §4.1.2 Domain).
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// printable rejects control characters, which would forge reply lines.
func printable(key, s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return fmt.Errorf("%s: control character %q at byte %d", key, c, i)
		}
	}
	return nil
}

// User is one lab user, for printing at start.
type User struct{ Name, Password string }

// Alias is one alias and what it points to.
type Alias struct{ Name, Target string }

// List is one mailing list and its members as written.
type List struct {
	Name    string
	Members []string
}

// Directory is the lab's users, aliases and lists, sorted by name, for
// printing at start and for lessons.
type Directory struct {
	Domain  string
	Users   []User
	Aliases []Alias
	Lists   []List
}

// Directory returns the profile's users, passwords, aliases and lists.
func (p *Profile) Directory() Directory {
	d := Directory{Domain: p.Domain}
	for _, u := range keys(p.Users) {
		d.Users = append(d.Users, User{u, p.Users[u]})
	}
	for _, a := range keys(p.Aliases) {
		d.Aliases = append(d.Aliases, Alias{a, p.Aliases[a]})
	}
	for _, l := range keys(p.Lists) {
		d.Lists = append(d.Lists, List{l, slices.Clone(p.Lists[l])})
	}
	return d
}

// String formats the directory as a few indented lines:
//
//	users:   alice@lab.smtpsh.test (password wonderland), …
func (d Directory) String() string {
	var b strings.Builder
	b.WriteString("users:  ")
	for i, u := range d.Users {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %s@%s (password %s)", u.Name, d.Domain, u.Password)
	}
	b.WriteString("\naliases:")
	for i, a := range d.Aliases {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %s → %s", a.Name, a.Target)
	}
	b.WriteString("\nlists:  ")
	for i, l := range d.Lists {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %s → %s", l.Name, strings.Join(l.Members, " "))
	}
	b.WriteString("\n")
	return b.String()
}

// hasExtension reports whether the profile advertises keyword.
func (p *Profile) hasExtension(keyword string) bool {
	return slices.Contains(p.SMTP.Extensions, keyword)
}
