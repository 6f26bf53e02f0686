package render

import (
	"strings"
	"testing"

	"github.com/mattn/go-runewidth"
)

func TestWrap(t *testing.T) {
	long := "The client may send several commands (MAIL, RCPT, ..., DATA) without waiting for each reply, saving round trips; the replies come back in order."
	tests := []struct {
		name         string
		text         string
		first, rest  string
		width        int
		lines        int // 0: do not check the count
		wantOneLine  bool
		containsWord string
	}{
		{name: "hanging indent", text: long, first: "   PIPELINING  ", rest: "               ", width: 60},
		{name: "fits", text: "short text", first: "> ", rest: "  ", width: 80, lines: 1},
		{name: "too narrow keeps one line", text: long, first: strings.Repeat(" ", 70), rest: "", width: 80, wantOneLine: true},
		{name: "long word cut", text: strings.Repeat("x", 130), first: "", rest: "", width: 50, lines: 3},
		{name: "wide runes", text: strings.Repeat("日本語 ", 40), first: "", rest: "  ", width: 40},
		{name: "empty", text: "", first: "> ", rest: "", width: 40, lines: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Wrap(tc.text, tc.first, tc.rest, tc.width)
			if tc.lines > 0 && len(got) != tc.lines {
				t.Errorf("%d lines, want %d: %q", len(got), tc.lines, got)
			}
			if tc.wantOneLine {
				if len(got) != 1 {
					t.Errorf("%d lines, want 1", len(got))
				}
				return
			}
			for i, l := range got {
				if w := runewidth.StringWidth(l); w > tc.width {
					t.Errorf("line %d is %d columns, width %d: %q", i, w, tc.width, l)
				}
				p := tc.rest
				if i == 0 {
					p = tc.first
				}
				if !strings.HasPrefix(l, p) {
					t.Errorf("line %d lacks its prefix: %q", i, l)
				}
			}
			// Nothing lost: the words come back in order.
			var words []string
			for i, l := range got {
				p := tc.rest
				if i == 0 {
					p = tc.first
				}
				words = append(words, strings.Fields(strings.TrimPrefix(l, p))...)
			}
			if j := strings.Join(words, ""); j != strings.Join(strings.Fields(tc.text), "") {
				t.Errorf("text changed: %q", j)
			}
		})
	}
}
