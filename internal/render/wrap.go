package render

import (
	"strings"

	"github.com/mattn/go-runewidth"
)

// Wrap breaks text into lines of at most width display columns, at spaces,
// for a terminal: the first line is prefixed with first, the others with
// rest (a hanging indent). A word longer than a line is cut. With width
// too small for the prefixes, text comes back on one line.
func Wrap(text, first, rest string, width int) []string {
	avail := width - max(runewidth.StringWidth(first), runewidth.StringWidth(rest))
	if avail < 20 {
		return []string{first + text}
	}
	var lines []string
	var cur strings.Builder
	curW := 0
	flush := func() {
		p := rest
		if len(lines) == 0 {
			p = first
		}
		lines = append(lines, p+cur.String())
		cur.Reset()
		curW = 0
	}
	for _, w := range strings.Fields(text) {
		ww := runewidth.StringWidth(w)
		for ww > avail {
			// A word longer than a line: cut it where the line ends.
			if curW > 0 {
				flush()
			}
			head := runewidth.Truncate(w, avail, "")
			if head == "" {
				break
			}
			cur.WriteString(head)
			flush()
			w = w[len(head):]
			ww = runewidth.StringWidth(w)
		}
		if w == "" {
			continue
		}
		if curW > 0 && curW+1+ww > avail {
			flush()
		}
		if curW > 0 {
			cur.WriteByte(' ')
			curW++
		}
		cur.WriteString(w)
		curW += ww
	}
	if curW > 0 || len(lines) == 0 {
		flush()
	}
	return lines
}
