package render

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/glamour"
)

// Renderer renders Markdown for one Terminal. Build it once at start: the
// glamour style is chosen here from the Terminal facts, never by querying
// the terminal (glamour's WithAutoStyle would, and inside the shell its
// answer would arrive as typed input).
type Renderer struct {
	term Terminal
	tr   *glamour.TermRenderer
}

// NewRenderer builds a Renderer: the "dark" or "light" style when t.Color,
// "notty" (plain text, no escape sequences) otherwise, wrapping at t.Width.
func NewRenderer(t Terminal) (*Renderer, error) {
	style := "notty"
	if t.Color {
		style = "dark"
		if t.Light {
			style = "light"
		}
	}
	width := t.Width
	if width <= 0 || width > MaxWidth {
		width = DefaultWidth
	}
	tr, err := glamour.NewTermRenderer(glamour.WithStandardStyle(style), glamour.WithWordWrap(width))
	if err != nil {
		return nil, fmt.Errorf("render: glamour style %q: %w", style, err)
	}
	return &Renderer{term: t, tr: tr}, nil
}

// Terminal returns the facts the Renderer was built for.
func (r *Renderer) Terminal() Terminal { return r.term }

// Markdown renders md for the terminal. Text from the network must already
// be escaped and fenced (see AnswerMarkdown); md is trusted.
func (r *Renderer) Markdown(md string) (string, error) {
	out, err := r.tr.Render(md)
	if err != nil {
		return "", fmt.Errorf("render: markdown: %w", err)
	}
	return trimLines(out, r.term.Color), nil
}

// trimLines removes the padding glamour writes to the right of every line
// (spaces, wrapped in colour codes when styled) and the blank lines around
// the whole. When a styled line had codes removed it ends with a reset, so
// no colour leaks into the next line.
func trimLines(s string, styled bool) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		t := trimRightPadding(l)
		if styled && t != l && strings.Contains(l, "\x1b[") && t != "" {
			t += "\x1b[0m"
		}
		lines[i] = t
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// trimRightPadding drops trailing spaces and the SGR sequences (ESC [ … m)
// among them.
func trimRightPadding(l string) string {
	for {
		n := len(l)
		l = strings.TrimRight(l, " ")
		if strings.HasSuffix(l, "m") {
			if i := strings.LastIndex(l, "\x1b["); i >= 0 && isSGRParams(l[i+2:len(l)-1]) {
				l = l[:i]
			}
		}
		if len(l) == n {
			return l
		}
	}
}

func isSGRParams(p string) bool {
	for i := 0; i < len(p); i++ {
		if (p[i] < '0' || p[i] > '9') && p[i] != ';' {
			return false
		}
	}
	return true
}
