package render

import (
	"strings"
	"testing"
)

func TestServerLineColour(t *testing.T) {
	colour := Terminal{TTY: true, Color: true}
	tests := []struct {
		name string
		t    Terminal
		code int
		raw  string
		want string
	}{
		{"2xx-green", colour, 250, "250 2.1.0 Ok", "\x1b[32mS: 250 2.1.0 Ok\x1b[0m"},
		{"3xx-cyan", colour, 354, "354 End data with <CR><LF>.<CR><LF>", "\x1b[36mS: 354 End data with <CR><LF>.<CR><LF>\x1b[0m"},
		{"4xx-yellow", colour, 421, "421 4.4.2 mx.example Error: timeout exceeded", "\x1b[33mS: 421 4.4.2 mx.example Error: timeout exceeded\x1b[0m"},
		{"5xx-red", colour, 554, "554 5.7.1 <bob@example.net>: Relay access denied", "\x1b[31mS: 554 5.7.1 <bob@example.net>: Relay access denied\x1b[0m"},
		{"no-colour", Terminal{TTY: true}, 554, "554 5.7.1 Relay access denied", "S: 554 5.7.1 Relay access denied"},
		{"escaped-in-colour", colour, 220, "220 \x1b[2J", "\x1b[32mS: 220 \\x1b[2J\x1b[0m"},
		{"escaped-plain", Terminal{}, 220, "220 \x1b]0;t\x07", `S: 220 \x1b]0;t\x07`},
		{"unknown-class-uncoloured", colour, 0, "garbage", "S: garbage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ServerLine(tt.t, tt.code, "S: ", tt.raw); got != tt.want {
				t.Errorf("ServerLine = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNoteAndWarningPlainWithoutColour(t *testing.T) {
	for _, s := range []string{Note(Terminal{TTY: true}, "x"), Warning(Terminal{}, "x"), ClientLine("C: ", "QUIT")} {
		if strings.Contains(s, "\x1b") {
			t.Errorf("escape code without colour: %q", s)
		}
	}
	if got := Note(Terminal{Color: true}, "x"); got != "\x1b[2mx\x1b[0m" {
		t.Errorf("Note = %q", got)
	}
	if got := ClientLine("C: ", "a\x1bb"); got != `C: a\x1bb` {
		t.Errorf("ClientLine = %q", got)
	}
}
