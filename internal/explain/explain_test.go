package explain

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

func newKB(t testing.TB) *KB {
	t.Helper()
	kb, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return kb
}

// rfc5321Codes is the numeric list of RFC 5321 §4.2.3, typed from the RFC.
var rfc5321Codes = []int{211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 455,
	500, 501, 502, 503, 504, 550, 551, 552, 553, 554, 555}

func TestEveryRFCCodeIsDefined(t *testing.T) {
	kb := newKB(t)
	extra := map[int]string{521: "7504", 556: "7504", 454: "3207", 334: "4954", 235: "4954",
		432: "4954", 530: "4954", 534: "4954", 535: "4954", 538: "4954"}
	for _, c := range rfc5321Codes {
		extra[c] = "5321"
	}
	for code, rfc := range extra {
		rc := kb.Code(code)
		if !rc.Defined || rc.Text == "" || rc.Meaning == "" {
			t.Errorf("%d: not defined: %+v", code, rc)
		}
		if !strings.Contains(rc.Reference, "RFC "+rfc) {
			t.Errorf("%d: reference %q does not cite RFC %s", code, rc.Reference, rfc)
		}
		if rc.Class.Value != code/100 || rc.Class.Name == "" {
			t.Errorf("%d: class %+v", code, rc.Class)
		}
	}
}

func TestUndefinedCodeDigits(t *testing.T) {
	kb := newKB(t)
	tests := []struct {
		name string
		code int
		want []string
	}{
		{"599 permanent, category outside grammar", 599, []string{"Not defined", "Permanent Negative Completion", "x9z is not a category"}},
		{"259 positive, mail system", 259, []string{"Positive Completion", `"Mail system"`}},
		{"432 is defined by RFC 4954", 432, []string{"plain-text mechanism"}},
		{"431 transient, unspecified", 431, []string{"Transient Negative Completion", `"Unspecified"`}},
		{"600 is no reply code", 600, []string{"not an SMTP reply code"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := kb.Code(tt.code)
			for _, w := range tt.want {
				if !strings.Contains(rc.Meaning, w) {
					t.Errorf("Code(%d).Meaning = %q, want it to contain %q", tt.code, rc.Meaning, w)
				}
			}
		})
	}
}

// sharedTSV is the compiled registry the data was built from; CI has it at
// ../shared relative to the repository root.
const sharedTSV = "../../../shared/data/enhanced-status-codes.tsv"

func TestEnhancedMatchesSharedRegistry(t *testing.T) {
	f, err := os.Open(sharedTSV)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s not present: %v", sharedTSV, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kb := newKB(t)
	// Entries where our data deliberately differs; see data/README.md.
	corrected := map[string]bool{"X.7.28": true, "X.6.10": true}
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.HasPrefix(line, "code\t") {
			continue
		}
		fld := strings.Split(line, "\t")
		n++
		c, err := smtp.ParseEnhancedCode("5" + strings.TrimPrefix(fld[0], "X"))
		if err != nil {
			t.Fatalf("shared TSV: %q: %v", line, err)
		}
		es := kb.Enhanced(c)
		if !es.Registered {
			t.Errorf("%s: missing from our data", fld[0])
			continue
		}
		if corrected[fld[0]] {
			continue
		}
		if !strings.EqualFold(es.Name, fld[1]) {
			t.Errorf("%s: name %q, shared TSV has %q", fld[0], es.Name, fld[1])
		}
		if !strings.Contains(es.Reference, "RFC "+strings.Fields(fld[3])[0]) {
			t.Errorf("%s: reference %q, shared TSV has RFC %s", fld[0], es.Reference, fld[3])
		}
		var basic []string
		for _, b := range es.Basic {
			basic = append(basic, itoa(b))
		}
		if es.AnyBasic {
			basic = []string{"any"}
		}
		if got := strings.Join(basic, " "); got != fld[2] {
			t.Errorf("%s: basic codes %q, shared TSV has %q", fld[0], got, fld[2])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != kb.EnhancedCount() {
		t.Errorf("shared TSV has %d entries, our data %d", n, kb.EnhancedCount())
	}
}

func itoa(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}

// TestEnhancedCount pins the number of registry entries: 81 rows in the
// shared TSV (86 lines less 4 comment lines and the header).
func TestEnhancedCount(t *testing.T) {
	if got := newKB(t).EnhancedCount(); got != 81 {
		t.Errorf("EnhancedCount() = %d, want 81", got)
	}
}

func TestEveryEnhancedEntryExplains(t *testing.T) {
	kb := newKB(t)
	for _, c := range kb.EnhancedCodes() {
		for _, class := range []int{0, 2, 4, 5} {
			c.Class = class
			es := kb.Enhanced(c)
			if !es.Registered || es.Name == "" || es.Meaning == "" || es.Reference == "" {
				t.Errorf("%s: incomplete %+v", es.CodeString(), es)
			}
			if class != 0 && es.Class.Name == "" {
				t.Errorf("%s: no class meaning", es.CodeString())
			}
			if es.Subject.Name == "" {
				t.Errorf("%s: no subject meaning", es.CodeString())
			}
		}
	}
}

func TestEnhancedCorrections(t *testing.T) {
	kb := newKB(t)
	if es := kb.Enhanced(smtp.EnhancedCode{Class: 5, Subject: 7, Detail: 28}); strings.Contains(es.Reference, "8650") {
		t.Errorf("5.7.28 still cites RFC 8650 (a YANG/RESTCONF RFC): %q", es.Reference)
	}
	x68 := kb.Enhanced(smtp.EnhancedCode{Class: 5, Subject: 6, Detail: 8})
	x610 := kb.Enhanced(smtp.EnhancedCode{Class: 5, Subject: 6, Detail: 10})
	if x610.Name != x68.Name || !strings.Contains(x610.Meaning, "duplicate") {
		t.Errorf("X.6.10 = %q / %q, want X.6.8's name %q and a duplicate note", x610.Name, x610.Meaning, x68.Name)
	}
}

func TestUnregisteredEnhanced(t *testing.T) {
	kb := newKB(t)
	tests := []struct {
		name string
		code smtp.EnhancedCode
		want []string
	}{
		{"5.9.99 undefined subject", smtp.EnhancedCode{Class: 5, Subject: 9, Detail: 99},
			[]string{"5.9.99 is not in the registry", "Permanent Failure", "Subject 9 is not defined"}},
		{"4.7.99 security subject", smtp.EnhancedCode{Class: 4, Subject: 7, Detail: 99},
			[]string{"Persistent Transient Failure", "Security or Policy Status"}},
		{"X.1.99 no class", smtp.EnhancedCode{Subject: 1, Detail: 99},
			[]string{"X.1.99 is not in the registry", "Addressing Status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := kb.Enhanced(tt.code)
			if es.Registered {
				t.Fatalf("%v registered", tt.code)
			}
			for _, w := range tt.want {
				if !strings.Contains(es.Meaning, w) {
					t.Errorf("Meaning %q lacks %q", es.Meaning, w)
				}
			}
		})
	}
}
