package explain

import (
	"embed"
	"fmt"
	"strconv"
	"strings"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

//go:embed data/*.tsv
var dataFS embed.FS

// KB is the knowledge base. Its zero value is empty; build one with New.
// A KB is never modified after New, so it is safe for concurrent use.
type KB struct {
	codes      map[int]ReplyCode
	classes    map[int]Digit // first digit of a basic code
	categories map[int]Digit // second digit of a basic code
	contexts   map[contextKey]Context
	enhanced   map[[2]int]EnhancedStatus // keyed by subject, detail; Code.Class is 0
	encClasses map[int]Digit
	subjects   map[int]Digit
	keywords   map[string]Keyword
	mechs      map[string]Mechanism
}

type contextKey struct {
	code  int
	after string // a verb, "greeting" or "*"
}

// Digit is what one digit of a code means: a class or category of a basic
// reply code (RFC 5321 §4.2.1) or a class or subject of an enhanced status
// code (RFC 3463 §2, §3).
type Digit struct {
	Value     int
	Name      string // "Permanent Negative Completion", "Security or Policy Status"
	Meaning   string // in plain words, starting in lower case
	Reference string
}

// DataError reports a broken embedded data file: a bug in smtpsh, found by
// the tests, never by users.
type DataError struct {
	File string
	Line int
	Msg  string
}

func (e *DataError) Error() string {
	return fmt.Sprintf("explain: data/%s:%d: %s", e.File, e.Line, e.Msg)
}

// New parses the embedded data and returns the knowledge base.
func New() (*KB, error) {
	kb := &KB{
		codes:      map[int]ReplyCode{},
		classes:    map[int]Digit{},
		categories: map[int]Digit{},
		contexts:   map[contextKey]Context{},
		enhanced:   map[[2]int]EnhancedStatus{},
		encClasses: map[int]Digit{},
		subjects:   map[int]Digit{},
		keywords:   map[string]Keyword{},
		mechs:      map[string]Mechanism{},
	}
	loaders := []struct {
		file   string
		fields int
		load   func(f []string) error
	}{
		{"reply-codes.tsv", 4, kb.loadReplyCode},
		{"reply-digits.tsv", 5, kb.loadReplyDigit},
		{"context.tsv", 4, kb.loadContext},
		{"enhanced.tsv", 5, kb.loadEnhanced},
		{"enhanced-digits.tsv", 5, kb.loadEnhancedDigit},
		{"keywords.tsv", 4, kb.loadKeyword},
		{"mechanisms.tsv", 4, kb.loadMechanism},
	}
	for _, l := range loaders {
		if err := readTSV(l.file, l.fields, l.load); err != nil {
			return nil, err
		}
	}
	for d := 2; d <= 5; d++ {
		if _, ok := kb.classes[d]; !ok {
			return nil, &DataError{File: "reply-digits.tsv", Msg: fmt.Sprintf("class %d missing", d)}
		}
	}
	for d := 0; d <= 5; d++ {
		if _, ok := kb.categories[d]; !ok {
			return nil, &DataError{File: "reply-digits.tsv", Msg: fmt.Sprintf("category %d missing", d)}
		}
	}
	for _, d := range []int{2, 4, 5} {
		if _, ok := kb.encClasses[d]; !ok {
			return nil, &DataError{File: "enhanced-digits.tsv", Msg: fmt.Sprintf("class %d missing", d)}
		}
	}
	for k := range kb.contexts {
		if _, ok := kb.codes[k.code]; !ok {
			return nil, &DataError{File: "context.tsv", Msg: fmt.Sprintf("code %d has no row in reply-codes.tsv", k.code)}
		}
	}
	return kb, nil
}

// readTSV calls load for each data row of file, which must have exactly
// fields tab-separated fields, after skipping comments and the header row.
func readTSV(file string, fields int, load func([]string) error) error {
	b, err := dataFS.ReadFile("data/" + file)
	if err != nil {
		return &DataError{File: file, Msg: err.Error()}
	}
	header := true
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != fields {
			return &DataError{File: file, Line: i + 1, Msg: fmt.Sprintf("%d fields, want %d", len(f), fields)}
		}
		if header {
			header = false
			continue
		}
		if err := load(f); err != nil {
			return &DataError{File: file, Line: i + 1, Msg: err.Error()}
		}
	}
	return nil
}

func atoiRange(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not a number from %d to %d", s, lo, hi)
	}
	return n, nil
}

func nonEmpty(f []string, names ...string) error {
	for i, n := range names {
		if n != "" && strings.TrimSpace(f[i]) == "" {
			return fmt.Errorf("empty %s", n)
		}
	}
	return nil
}

func (kb *KB) loadReplyCode(f []string) error {
	if err := nonEmpty(f, "code", "text", "meaning", "reference"); err != nil {
		return err
	}
	// RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39.
	if _, err := smtp.ParseReplyLine(f[0]); err != nil {
		return err
	}
	code, _ := strconv.Atoi(f[0])
	if _, dup := kb.codes[code]; dup {
		return fmt.Errorf("duplicate code %d", code)
	}
	kb.codes[code] = ReplyCode{Code: code, Defined: true, Text: f[1], Meaning: f[2], Reference: f[3]}
	return nil
}

func loadDigit(f []string, into map[string]map[int]Digit, hi int) error {
	if err := nonEmpty(f, "part", "value", "name", "meaning", "reference"); err != nil {
		return err
	}
	m, ok := into[f[0]]
	if !ok {
		return fmt.Errorf("unknown part %q", f[0])
	}
	v, err := atoiRange(f[1], 0, hi)
	if err != nil {
		return err
	}
	if _, dup := m[v]; dup {
		return fmt.Errorf("duplicate %s %d", f[0], v)
	}
	m[v] = Digit{Value: v, Name: f[2], Meaning: f[3], Reference: f[4]}
	return nil
}

func (kb *KB) loadReplyDigit(f []string) error {
	return loadDigit(f, map[string]map[int]Digit{"class": kb.classes, "category": kb.categories}, 9)
}

func (kb *KB) loadEnhancedDigit(f []string) error {
	return loadDigit(f, map[string]map[int]Digit{"class": kb.encClasses, "subject": kb.subjects}, 999)
}

func (kb *KB) loadContext(f []string) error {
	if err := nonEmpty(f, "code", "after", "meaning", "reference"); err != nil {
		return err
	}
	code, err := atoiRange(f[0], 200, 599)
	if err != nil {
		return err
	}
	after := f[1]
	if after != greeting && after != anyCommand && !smtp.Verb(after).Known() {
		return fmt.Errorf("%q is not a known verb, %q or %q", after, greeting, anyCommand)
	}
	k := contextKey{code, after}
	if _, dup := kb.contexts[k]; dup {
		return fmt.Errorf("duplicate context %d after %s", code, after)
	}
	kb.contexts[k] = Context{Code: code, After: after, Meaning: f[2], Reference: f[3]}
	return nil
}

func (kb *KB) loadEnhanced(f []string) error {
	if err := nonEmpty(f, "code", "name", "", "reference", "meaning"); err != nil {
		return err
	}
	sd, ok := strings.CutPrefix(f[0], "X.")
	if !ok {
		return fmt.Errorf("code %q does not start with \"X.\"", f[0])
	}
	c, err := smtp.ParseEnhancedCode("2." + sd)
	if err != nil {
		return err
	}
	var basic []int
	anyBasic := f[2] == "any"
	if !anyBasic {
		for _, b := range strings.Fields(f[2]) {
			n, err := atoiRange(b, 200, 599)
			if err != nil {
				return err
			}
			basic = append(basic, n)
		}
	}
	k := [2]int{c.Subject, c.Detail}
	if _, dup := kb.enhanced[k]; dup {
		return fmt.Errorf("duplicate code %s", f[0])
	}
	kb.enhanced[k] = EnhancedStatus{
		Code:       smtp.EnhancedCode{Subject: c.Subject, Detail: c.Detail},
		Registered: true,
		Name:       f[1],
		Basic:      basic,
		AnyBasic:   anyBasic,
		Reference:  f[3],
		Meaning:    f[4],
	}
	return nil
}

func (kb *KB) loadKeyword(f []string) error {
	if err := nonEmpty(f, "keyword", "reference", "meaning", ""); err != nil {
		return err
	}
	name := strings.ToUpper(f[0])
	if _, dup := kb.keywords[name]; dup {
		return fmt.Errorf("duplicate keyword %s", name)
	}
	kb.keywords[name] = Keyword{Name: name, Known: true, Reference: f[1], Meaning: f[2], Warning: f[3]}
	return nil
}

func (kb *KB) loadMechanism(f []string) error {
	if err := nonEmpty(f, "mechanism", "reference", "meaning", ""); err != nil {
		return err
	}
	name := strings.ToUpper(f[0])
	if _, dup := kb.mechs[name]; dup {
		return fmt.Errorf("duplicate mechanism %s", name)
	}
	kb.mechs[name] = Mechanism{Name: name, Known: true, Reference: f[1], Meaning: f[2], Warning: f[3]}
	return nil
}
