package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/smtpsh/smtpsh/internal/explain"
)

// Answer renders an explain.Answer for the terminal and writes it to w.
func (r *Renderer) Answer(w io.Writer, a explain.Answer) error {
	out, err := r.Markdown(AnswerMarkdown(a))
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, out)
	return err
}

// AnswerMarkdown writes the Markdown for one answer of `smtpsh explain`.
// Text from the network (a reply's text) is escaped with Escape and fenced,
// so it is shown, never interpreted as Markdown or by the terminal.
func AnswerMarkdown(a explain.Answer) string {
	var b strings.Builder
	if a.Line != nil {
		b.WriteString("## Reply\n\n")
		fence(&b, a.Query)
		if a.Line.Text != "" {
			b.WriteString("The text after the code")
			if !a.Line.Enhanced.IsZero() {
				b.WriteString(" and the enhanced status code")
			}
			b.WriteString(" is the server's own wording: servers choose it freely, so read the codes first.\n\n")
		}
	}
	if a.Code != nil {
		writeCode(&b, *a.Code, a.Contexts)
	}
	if a.Enhanced != nil {
		writeEnhanced(&b, *a.Enhanced, a.EnhancedClasses)
	}
	if a.Keyword != nil {
		writeKeyword(&b, *a.Keyword)
	}
	if a.Mechanism != nil {
		b.WriteString("## SASL mechanism " + md(a.Mechanism.Name) + "\n\n")
		writeMechanism(&b, *a.Mechanism, false)
	}
	return b.String()
}

func writeCode(b *strings.Builder, rc explain.ReplyCode, contexts []explain.Context) {
	fmt.Fprintf(b, "## Reply code %d\n\n", rc.Code)
	if rc.Defined {
		fmt.Fprintf(b, "%s says: \"%s\"\n\n", md(rc.Reference), md(rc.Text))
	}
	b.WriteString(md(rc.Meaning) + "\n\n")
	if rc.Class.Name != "" {
		fmt.Fprintf(b, "- %dyz, %s: %s.\n", rc.Class.Value, md(rc.Class.Name), md(rc.Class.Meaning))
	}
	if rc.Category.Name != "" {
		fmt.Fprintf(b, "- x%dz, %s: %s.\n", rc.Category.Value, md(rc.Category.Name), md(rc.Category.Meaning))
	}
	b.WriteString("\n")
	if len(contexts) > 0 {
		b.WriteString("### After each command\n\n")
		for _, c := range contexts {
			after := c.After
			switch after {
			case "greeting":
				after = "As the greeting"
			case "*":
				after = "After any command"
			default:
				after = "After " + after
			}
			fmt.Fprintf(b, "- %s: %s (%s)\n", after, md(c.Meaning), md(c.Reference))
		}
		b.WriteString("\n")
	}
}

func writeEnhanced(b *strings.Builder, es explain.EnhancedStatus, classes []explain.Digit) {
	fmt.Fprintf(b, "## Enhanced status code %s", es.CodeString())
	if es.Registered {
		b.WriteString(": " + md(es.Name))
	}
	b.WriteString("\n\n")
	b.WriteString(md(es.Meaning))
	if es.Registered {
		b.WriteString(" (" + md(es.Reference) + ")")
	}
	b.WriteString("\n\n")
	if es.Class.Name != "" {
		classes = append([]explain.Digit{es.Class}, classes...)
	}
	for _, c := range classes {
		fmt.Fprintf(b, "- Class %d, %s: %s.\n", c.Value, md(c.Name), md(c.Meaning))
	}
	if es.Subject.Name != "" {
		fmt.Fprintf(b, "- Subject %d, %s: %s.\n", es.Subject.Value, md(es.Subject.Name), md(es.Subject.Meaning))
	}
	switch {
	case es.AnyBasic:
		b.WriteString("- Registered for use with any basic reply code.\n")
	case len(es.Basic) > 0:
		codes := make([]string, len(es.Basic))
		for i, c := range es.Basic {
			codes[i] = strconv.Itoa(c)
		}
		b.WriteString("- Registered for use with basic reply codes " + strings.Join(codes, ", ") + ".\n")
	}
	b.WriteString("\n")
}

func writeKeyword(b *strings.Builder, k explain.Keyword) {
	b.WriteString("## EHLO keyword " + md(Escape(k.Name)) + "\n\n")
	b.WriteString(md(k.Meaning))
	if k.Known {
		b.WriteString(" (" + md(k.Reference) + ")")
	}
	b.WriteString("\n\n")
	if k.Warning != "" {
		b.WriteString("Warning: " + md(k.Warning) + "\n\n")
	}
	if len(k.Mechanisms) > 0 {
		b.WriteString("### Mechanisms offered\n\n")
		for _, m := range k.Mechanisms {
			writeMechanism(b, m, true)
		}
		b.WriteString("\n")
	} else if len(k.Params) > 0 {
		b.WriteString("Parameters given:\n\n")
		fence(b, strings.Join(k.Params, " "))
	}
}

func writeMechanism(b *strings.Builder, m explain.Mechanism, item bool) {
	s := md(m.Meaning)
	if m.Known {
		s += " (" + md(m.Reference) + ")"
	}
	if m.Warning != "" {
		s += " Warning: " + md(m.Warning)
	}
	if item {
		fmt.Fprintf(b, "- %s: %s\n", md(Escape(m.Name)), s)
		return
	}
	b.WriteString(s + "\n\n")
}

// fence writes network text as an escaped code block, whose fence is longer
// than any run of backticks inside it.
func fence(b *strings.Builder, text string) {
	text = Escape(text)
	f := "```"
	for strings.Contains(text, f) {
		f += "`"
	}
	b.WriteString(f + "\n" + text + "\n" + f + "\n\n")
}

// md escapes the characters Markdown would read as markup in our own text
// (RFC texts hold "<domain>", "<CRLF>.<CRLF>" and "*").
func md(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '#', '|', '~':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ExplanationLine is the one line the shell prints after a reply: the
// meaning in context, the enhanced code's name, and for a SASL challenge
// what it decodes to (escaped: it comes from the network). No Markdown.
func ExplanationLine(e explain.Explanation) string {
	s := e.Summary
	if e.Enhanced != nil && e.Enhanced.Registered {
		s += " [" + e.Enhanced.CodeString() + ": " + e.Enhanced.Name + "]"
	}
	if ch := e.Challenge; ch != nil {
		switch {
		case ch.Err != nil:
			s += " (challenge is not valid base64)"
		case ch.Decoded == "":
			s += " (empty challenge: send the initial response)"
		default:
			s += ` Decoded: "` + Escape(ch.Decoded) + `"`
		}
	}
	return s
}
