package render

import (
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"
)

// Terminal is what smtpsh may assume about where its output goes, decided
// once at start with Detect and then passed around.
type Terminal struct {
	TTY   bool // output is a terminal
	Color bool // ANSI colour and styles may be written
	Width int  // columns to wrap at: the terminal's width capped at MaxWidth, else DefaultWidth
	Light bool // the terminal has a light background (from COLORFGBG)
}

// Output widths.
const (
	DefaultWidth = 80  // when the width is unknown (not a terminal)
	MaxWidth     = 120 // wider lines are hard to read, as glow also decides
)

// Detect decides the Terminal facts for w. getenv is os.Getenv in main and a
// map lookup in tests. Colour needs a terminal, NO_COLOR unset or empty
// (https://no-color.org) and TERM other than "dumb". It sends no queries to
// the terminal: a reply to one would be read as typed input.
func Detect(w io.Writer, getenv func(string) string) Terminal {
	t := Terminal{Width: DefaultWidth}
	if f, ok := w.(*os.File); ok {
		fd := int(f.Fd())
		if term.IsTerminal(fd) {
			t.TTY = true
			if cols, _, err := term.GetSize(fd); err == nil && cols > 0 {
				t.Width = min(cols, MaxWidth)
			}
		}
	}
	t.Color = t.TTY && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
	t.Light = lightBackground(getenv("COLORFGBG"))
	return t
}

// lightBackground reads COLORFGBG ("fg;bg" or "fg;default;bg", set by rxvt,
// Konsole and others): background colours 7 and 9–15 are light.
func lightBackground(v string) bool {
	if v == "" {
		return false
	}
	f := strings.Split(v, ";")
	bg, err := strconv.Atoi(f[len(f)-1])
	if err != nil {
		return false
	}
	return bg == 7 || bg >= 9 && bg <= 15
}
