package render

import (
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/smtpsh/smtpsh/internal/explain"
	"github.com/smtpsh/smtpsh/internal/smtp"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDetectNotATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var sb strings.Builder
	for name, out := range map[string]any{"pipe": w, "buffer": &sb} {
		t.Run(name, func(t *testing.T) {
			got := Detect(out.(interface{ Write([]byte) (int, error) }), env(map[string]string{"TERM": "xterm-256color"}))
			if got.TTY || got.Color || got.Width != DefaultWidth {
				t.Errorf("Detect = %+v, want no TTY, no colour, width %d", got, DefaultWidth)
			}
		})
	}
}

func TestLightBackground(t *testing.T) {
	tests := []struct {
		name, v string
		want    bool
	}{
		{"unset", "", false},
		{"rxvt dark", "15;0", false},
		{"rxvt light", "0;15", true},
		{"three fields light", "0;default;7", true},
		{"dark grey is dark", "7;8", false},
		{"default", "15;default", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lightBackground(tt.v); got != tt.want {
				t.Errorf("lightBackground(%q) = %v, want %v", tt.v, got, tt.want)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain ASCII kept", "250 mx.example.org ESMTP Postfix", "250 mx.example.org ESMTP Postfix"},
		{"UTF-8 kept", "250 Grüße, 世界", "250 Grüße, 世界"},
		{"ANSI colour", "\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"CR LF tab", "a\r\nb\tc", `a\r\nb\tc`},
		{"NUL and DEL", "a\x00b\x7f", `a\x00b\x7f`},
		{"backslash doubled", `C:\mail`, `C:\\mail`},
		{"C1 CSI as UTF-8", "a\u009b31mb", `a\u009b31mb`},
		{"NEL", "a\u0085b", `a\u0085b`},
		{"bidi override", "\u202egnp.exe", `\u202egnp.exe`},
		{"invalid UTF-8", "a\xff\xc3b", `a\xff\xc3b`},
		{"OSC 52 clipboard write", "\x1b]52;c;ZXZpbA==\x07", `\x1b]52;c;ZXZpbA==\x07`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Escape(tt.in); got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "250 OK", "\x1b[2J", "a\u009bb", "\xff\xfe", `\`, "\u202e", "日本\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Escape(s)
		for i := 0; i < len(out); i++ {
			if c := out[i]; c < 0x20 || c == 0x7f {
				t.Fatalf("Escape(%q) = %q has byte %#x", s, out, c)
			}
		}
		if !utf8.ValidString(out) {
			t.Fatalf("Escape(%q) = %q is not valid UTF-8", s, out)
		}
		for _, r := range out {
			if r >= 0x80 && r <= 0x9f {
				t.Fatalf("Escape(%q) = %q has C1 control %U", s, out, r)
			}
		}
		if len(out) > 4*len(s) {
			t.Fatalf("Escape grew %d bytes to %d", len(s), len(out))
		}
	})
}

func BenchmarkEscape(b *testing.B) {
	for _, bc := range []struct{ name, s string }{
		{"clean", "250-mx.example.org Hello client.example [192.0.2.1], pleased to meet you"},
		{"hostile", strings.Repeat("\x1b[31m\xff\u202eabc", 8)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.s)))
			b.ReportAllocs()
			for b.Loop() {
				_ = Escape(bc.s)
			}
		})
	}
}

func answer(t *testing.T, q string) explain.Answer {
	t.Helper()
	kb, err := explain.New()
	if err != nil {
		t.Fatal(err)
	}
	a, err := kb.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestRendererPlainHasNoEscapes(t *testing.T) {
	for _, tt := range []struct {
		name string
		term Terminal
	}{
		{"not a terminal", Terminal{Width: 80}},
		{"terminal with NO_COLOR", Terminal{TTY: true, Width: 100}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRenderer(tt.term)
			if err != nil {
				t.Fatal(err)
			}
			var sb strings.Builder
			if err := r.Answer(&sb, answer(t, "550 5.7.1 <bob@example.org>: Relay access denied")); err != nil {
				t.Fatal(err)
			}
			out := sb.String()
			if strings.Contains(out, "\x1b") {
				t.Errorf("plain output has an escape byte: %q", out)
			}
			if !strings.Contains(out, "<bob@example.org>: Relay access denied") {
				t.Errorf("server text lost: %q", out)
			}
			for _, l := range strings.Split(out, "\n") {
				if strings.HasSuffix(l, " ") || utf8.RuneCountInString(l) > tt.term.Width {
					t.Errorf("line %q: trailing space or wider than %d", l, tt.term.Width)
				}
			}
		})
	}
}

func TestRendererColourTrimsPadding(t *testing.T) {
	r, err := NewRenderer(Terminal{TTY: true, Color: true, Width: 60})
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Markdown(AnswerMarkdown(answer(t, "5.7.1")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "\x1b[") {
		t.Fatalf("colour output has no styles: %q", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasSuffix(l, " ") || strings.HasSuffix(l, " \x1b[0m") {
			t.Errorf("line ends in padding: %q", l)
		}
	}
}

func TestExplanationLine(t *testing.T) {
	kb, err := explain.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		line  smtp.ReplyLine
		after smtp.Verb
		want  string
	}{
		{"LOGIN challenge decoded", smtp.ReplyLine{Code: 334, Text: "VXNlcm5hbWU6"}, smtp.AUTH, `Decoded: "Username:"`},
		{"hostile challenge escaped", smtp.ReplyLine{Code: 334, Text: "G1sySg=="}, smtp.AUTH, `Decoded: "\x1b[2J"`},
		{"enhanced name", smtp.ReplyLine{Code: 550, Enhanced: smtp.EnhancedCode{Class: 5, Subject: 1, Detail: 1}}, smtp.RCPT, "[5.1.1: Bad destination mailbox address]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ExplanationLine(kb.Reply(tt.line, tt.after))
			if !strings.Contains(got, tt.want) || strings.Contains(got, "\x1b") {
				t.Errorf("ExplanationLine = %q, want it to contain %q and no ESC", got, tt.want)
			}
		})
	}
}
