package transcripts

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

// Limits that bound what Parse and ParseJSONL accept and what the writers
// agree to write, so that everything written can be read back.
const (
	// MaxTextBytes bounds the decoded text of one line (Client, Server,
	// Data, a Note or a Close reason). RFC 5321 §4.5.3.1.6 limits a text
	// line to 1000 octets, but real message data breaks that, so the
	// bound is generous.
	MaxTextBytes = 64 << 10
	// MaxWordBytes bounds an address, a TLS attribute or a metadata value.
	MaxWordBytes = 4 << 10
	// MaxLineBytes bounds one line of a file, line ending included: the
	// quoted form of a MaxTextBytes text is at most four times as long.
	MaxLineBytes = 4*MaxTextBytes + 1<<10
	// MaxEvents bounds the events of one transcript.
	MaxEvents = 1 << 21
	// MaxBytes bounds the size of one file.
	MaxBytes = 256 << 20
	// MaxMeta bounds the number of extra metadata keys.
	MaxMeta = 64
	// maxOffset bounds a relative time, so that it fits a time.Duration
	// with room to spare: about 31 years.
	maxOffset = 1_000_000_000 // seconds
)

// redactedMark replaces a secret; Redact writes it and Parse recognises it.
const redactedMark = "<redacted>"

// rawSafe reports whether s can be written as it is after "C: ": valid
// UTF-8, only printable characters and tabs, and no trailing blank that an
// editor would strip.
func rawSafe(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return false
			}
		}
		if r != '\t' && !strconv.IsPrint(r) {
			return false
		}
	}
	return s == "" || s[len(s)-1] != ' ' && s[len(s)-1] != '\t'
}

// rawAcceptable reports the first byte of s (0-based) that a raw line may
// not contain, or -1: control characters other than tab (C0, DEL, C1) and
// invalid UTF-8 only appear in the quoted form.
func rawAcceptable(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return i
			}
		}
		if r < ' ' && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return i
		}
	}
	return -1
}

// redactedForm reports whether s is what Redact leaves in place of a secret:
// "<redacted>" alone, or an AUTH command whose last argument is "<redacted>"
// (RFC 4954 §4: AUTH mechanism [initial-response]).
func redactedForm(s string) bool {
	if s == redactedMark {
		return true
	}
	if !strings.HasSuffix(s, " "+redactedMark) || !rawSafe(s) {
		return false
	}
	verb, _ := smtp.SplitVerb(s)
	return verb == smtp.AUTH
}

// appendLineText appends a line's text after its "C:" prefix: " text" when
// the text is safe raw, the quoted form `"…"` otherwise, and nothing for an
// empty text. literal forces the quoted form, which Parse never marks
// as redacted.
func appendLineText(b []byte, s string, literal bool) []byte {
	if s == "" {
		return b
	}
	if !literal && rawSafe(s) {
		return append(append(b, ' '), s...)
	}
	return strconv.AppendQuote(b, s)
}

// appendFreeText appends a Note's text or a Close reason after a space: raw
// when safe and not starting with a quote, quoted otherwise.
func appendFreeText(b []byte, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, ' ')
	if rawSafe(s) && s[0] != '"' {
		return append(b, s...)
	}
	return strconv.AppendQuote(b, s)
}

// bareWord reports whether s can be written as a bare word: printable ASCII
// without spaces or quotes, and not "-", which stands for empty.
func bareWord(s string) bool {
	if s == "" || s == "-" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' {
			return false
		}
	}
	return true
}

// appendWord appends s as a word: bare, "-" when empty, quoted otherwise.
func appendWord(b []byte, s string) []byte {
	switch {
	case s == "":
		return append(b, '-')
	case bareWord(s):
		return append(b, s...)
	}
	return strconv.AppendQuote(b, s)
}

// bareMetaValue reports whether a metadata value can be written unquoted:
// printable, no tab, no leading, trailing or double space (two spaces
// separate fields), and not starting with a quote.
func bareMetaValue(s string) bool {
	if s == "" || s[0] == ' ' || s[0] == '"' || s[len(s)-1] == ' ' || strings.Contains(s, "  ") {
		return false
	}
	for _, r := range s {
		if r == '\t' || !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

func appendMetaValue(b []byte, s string) []byte {
	if bareMetaValue(s) {
		return append(b, s...)
	}
	return strconv.AppendQuote(b, s)
}

// validMetaKey reports whether k is a metadata key: a lower-case letter, then
// lower-case letters, digits, '-', '_' or '.', at most 64 bytes.
func validMetaKey(k string) bool {
	if k == "" || len(k) > 64 || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for i := 1; i < len(k); i++ {
		if c := k[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// unquotePrefix decodes the Go double-quoted string at the start of s and
// returns it and its length in s.
func unquotePrefix(s string) (string, int, bool) {
	if s == "" || s[0] != '"' {
		return "", 0, false
	}
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", 0, false
	}
	v, err := strconv.Unquote(q)
	if err != nil {
		return "", 0, false
	}
	return v, len(q), true
}
