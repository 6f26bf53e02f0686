package lessons

import (
	"fmt"
	"io"
	"strings"

	"github.com/smtpsh/smtpsh/internal/render"
)

// NewRenderer decides, once, how lessons are rendered on out: glamour's
// dark or light style on a colour terminal, plain text ("notty") when out
// is not a terminal or NO_COLOR is set, wrapped at the terminal's width
// (capped at 120). getenv is os.Getenv outside tests. It never queries the
// terminal: inside the shell the answer would be read as typed input.
func NewRenderer(out io.Writer, getenv func(string) string) (*render.Renderer, error) {
	return render.NewRenderer(render.Detect(out, getenv))
}

// markdown renders md with r, or returns it as it is when r is nil or
// glamour fails (the lesson must still be readable).
func markdown(r *render.Renderer, md string) string {
	if r != nil {
		if s, err := r.Markdown(md); err == nil {
			return s
		}
	}
	if md == "" {
		return ""
	}
	return strings.TrimRight(md, "\n") + "\n"
}

// checkMark formats "✓ step N/M: TITLE", green on a colour terminal.
func checkMark(r *render.Renderer, format string, args ...any) string {
	s := fmt.Sprintf(format, args...)
	if r != nil && r.Terminal().Color {
		return "\x1b[1;32m" + s + "\x1b[0m"
	}
	return s
}

// introMarkdown is what a lesson shows first: its title, summary,
// objectives and introduction.
func introMarkdown(l *Lesson) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", l.Title)
	if l.Summary != "" {
		fmt.Fprintf(&b, "*%s*\n\n", l.Summary)
	}
	if len(l.Objectives) > 0 {
		b.WriteString("**By the end you will be able to:**\n\n")
		for _, o := range l.Objectives {
			fmt.Fprintf(&b, "- %s\n", o)
		}
		b.WriteString("\n")
	}
	b.WriteString(l.Intro)
	return b.String()
}

// stepMarkdown is step i (0-based) of l with its heading.
func stepMarkdown(l *Lesson, i int) string {
	s := l.Steps[i]
	return fmt.Sprintf("## Step %d/%d: %s\n\n%s", i+1, len(l.Steps), s.Title, s.Text)
}
