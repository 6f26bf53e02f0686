package smtp

import "fmt"

// SyntaxError reports malformed protocol input and where it went wrong.
type SyntaxError struct {
	// What names the thing being parsed: "reply", "command", "mailbox", ….
	What string
	// Column is the 1-based byte column of the first offending byte
	// within the line; 0 when no single position applies.
	Column int
	// Msg says what is wrong, in words a user can act on.
	Msg string
}

func (e *SyntaxError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("%s: column %d: %s", e.What, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.What, e.Msg)
}

func syntaxErr(what string, col int, format string, args ...any) *SyntaxError {
	return &SyntaxError{What: what, Column: col, Msg: fmt.Sprintf(format, args...)}
}
