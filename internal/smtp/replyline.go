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
	const what = "reply"
	if len(line) < 3 {
		return ReplyLine{}, syntaxErr(what, len(line)+1, "a reply line starts with a three-digit code; got %d byte(s)", len(line))
	}
	if line[0] < '2' || line[0] > '5' {
		return ReplyLine{}, syntaxErr(what, 1, "reply code must start with 2, 3, 4 or 5")
	}
	if line[1] < '0' || line[1] > '5' {
		return ReplyLine{}, syntaxErr(what, 2, "second digit of a reply code must be 0 to 5")
	}
	if line[2] < '0' || line[2] > '9' {
		return ReplyLine{}, syntaxErr(what, 3, "third digit of a reply code must be 0 to 9")
	}
	rl := ReplyLine{Code: int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')}
	if len(line) == 3 {
		return rl, nil
	}
	switch line[3] {
	case '-':
		rl.More = true
	case ' ':
	default:
		return ReplyLine{}, syntaxErr(what, 4, "expected a space or '-' after the reply code, found %q", line[3:4])
	}
	text := line[4:]
	for i := 0; i < len(text); i++ {
		if c := text[i]; c < ' ' && c != '\t' || c == 0x7f {
			return ReplyLine{}, syntaxErr(what, 5+i, "control character %q in reply text", c)
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
	return rl, nil
}
