package render

// ANSI SGR sequences used by the shell. They are written only when
// Terminal.Color is set; everything else gets plain text.
const (
	sgrReset  = "\x1b[0m"
	sgrGreen  = "\x1b[32m"
	sgrCyan   = "\x1b[36m"
	sgrYellow = "\x1b[33m"
	sgrRed    = "\x1b[31m"
	sgrDim    = "\x1b[2m"
)

// classColor is the colour of a reply class (RFC 5321 §4.2.1): 2yz positive
// completion green, 3yz intermediate cyan, 4yz transient failure yellow,
// 5yz permanent failure red; anything else none.
func classColor(code int) string {
	switch code / 100 {
	case 2:
		return sgrGreen
	case 3:
		return sgrCyan
	case 4:
		return sgrYellow
	case 5:
		return sgrRed
	}
	return ""
}

// ServerLine returns one line a server sent, as received, for display:
// escaped with Escape (it comes from the network) and, when t.Color, coloured
// by the class of code. prefix (such as "S: ") is ours and is not escaped.
func ServerLine(t Terminal, code int, prefix, raw string) string {
	s := prefix + Escape(raw)
	if c := classColor(code); t.Color && c != "" {
		return c + s + sgrReset
	}
	return s
}

// ClientLine returns a line the client sent, for display: escaped, since a
// script file or piped input can hold control bytes too.
func ClientLine(prefix, raw string) string {
	return prefix + Escape(raw)
}

// Note returns text of ours that comments on the conversation, such as an
// explanation or a warning: dimmed when t.Color. s must not hold text from
// the network unless it went through Escape.
func Note(t Terminal, s string) string {
	if t.Color && s != "" {
		return sgrDim + s + sgrReset
	}
	return s
}

// Warning returns a warning of ours, in yellow when t.Color.
func Warning(t Terminal, s string) string {
	if t.Color && s != "" {
		return sgrYellow + s + sgrReset
	}
	return s
}
