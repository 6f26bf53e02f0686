package smtp

// ReplyLine is one line of a server reply, without its line ending.
type ReplyLine struct {
	Code int  // the three-digit reply code
	More bool // true for "250-…": more lines of the same reply follow
	// Enhanced is the RFC 3463 code that begins the text, when present and
	// of the same class as Code (RFC 2034 §4); zero otherwise.
	Enhanced EnhancedCode
	// Text follows the separator, with the enhanced code and the one space
	// after it removed when Enhanced is set.
	Text string
}

// ParseReplyLine parses one reply line (no CR or LF) per RFC 5321 §4.2:
//
//	Reply-line = *( Reply-code "-" [ textstring ] CRLF )
//	             Reply-code [ SP textstring ] CRLF
//	Reply-code = %x32-35 %x30-35 %x30-39
//
// An enhanced status code is split out of the text only when it is followed
// by a space or ends the line, and its class matches the reply's first digit.
func ParseReplyLine(line string) (ReplyLine, error) {
	var rl ReplyLine
	if err := parseReplyLine(&rl, line, false); err != nil {
		return ReplyLine{}, err
	}
	return rl, nil
}

// parseReplyLine is ParseReplyLine; plain says the caller has checked that
// line holds no byte below 0x20 or above 0x7e (see hasNonText), so the text
// need not be scanned again. It fills *rl, which must be zero, rather than
// return a copy: a reader calls it for every line.
func parseReplyLine(rl *ReplyLine, line string, plain bool) error {
	const what = "reply"
	if len(line) < 3 {
		return syntaxErr(what, len(line)+1, "a reply line starts with a three-digit code; got %d byte(s)", len(line))
	}
	if line[0] < '2' || line[0] > '5' {
		return syntaxErr(what, 1, "reply code must start with 2, 3, 4 or 5")
	}
	if line[1] < '0' || line[1] > '5' {
		return syntaxErr(what, 2, "second digit of a reply code must be 0 to 5")
	}
	if line[2] < '0' || line[2] > '9' {
		return syntaxErr(what, 3, "third digit of a reply code must be 0 to 9")
	}
	rl.Code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 {
		return nil
	}
	switch line[3] {
	case '-':
		rl.More = true
	case ' ':
	default:
		return syntaxErr(what, 4, "expected a space or '-' after the reply code, found %q", line[3:4])
	}
	text := line[4:]
	if !plain {
		if i := indexControl(text); i >= 0 {
			return syntaxErr(what, 5+i, "control character %q in reply text", text[i])
		}
	}
	rl.Text = text
	if len(text) > 0 && text[0] == line[0] {
		if ec, n, err := scanEnhancedCode(text); err == nil && (n == len(text) || text[n] == ' ') {
			rl.Enhanced = ec
			if n < len(text) {
				n++
			}
			rl.Text = text[n:]
		}
	}
	return nil
}

// Masks for testing the eight bytes of a word at once (see "Bit Twiddling
// Hacks", hasless and haszero).
const (
	lsb64 = 0x0101010101010101
	msb64 = 0x8080808080808080
)

// load64 reads the first 8 bytes of s, little-endian; the compiler merges
// the loads into one.
func load64(s string) uint64 {
	s = s[:8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// indexControl returns the index of the first control character other than
// HT (RFC 5321 §4.2 textstring = 1*(%d09 / %d32-126), bytes >= 0x80 being
// left to the caller), or -1. Reply text is read at line rate, so it tests
// eight bytes at a time and looks closer only at a word that may hold one.
func indexControl(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := load64(s[i:])
		// Some byte < 0x20, or some byte == 0x7f.
		y := x ^ (0x7f * lsb64)
		if (x-0x20*lsb64)&^x&msb64 == 0 && (y-lsb64)&^y&msb64 == 0 {
			continue
		}
		for j := i; j < i+8; j++ {
			if isControl(s[j]) {
				return j
			}
		}
	}
	for ; i < len(s); i++ {
		if isControl(s[i]) {
			return i
		}
	}
	return -1
}

func isControl(c byte) bool { return c < ' ' && c != '\t' || c == 0x7f }

// indexNonASCII returns the index of the first byte >= 0x80 in s, or -1.
func indexNonASCII(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if load64(s[i:])&msb64 != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= 0x80 {
			return i
		}
	}
	return -1
}

// hasNonText reports whether s may hold a byte outside %d32-126: exactly,
// except that a word holding HT (allowed in text) also reports true. It lets
// a reader check a whole reply in one pass and skip the per-line scans.
func hasNonText(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := load64(s[i:])
		// Some byte < 0x20 (hasless), or some byte >= 0x7f: adding 1 sets
		// its top bit (a carry out of 0xff only follows a byte that is
		// itself >= 0x7f).
		if (x-0x20*lsb64)&^x&msb64 != 0 || (x|(x+lsb64))&msb64 != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return true
		}
	}
	return false
}
