package shell

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/transcripts"
)

// parseTranscript parses a transcript given as its event lines.
func parseTranscript(t testing.TB, lines ...string) *transcripts.Transcript {
	t.Helper()
	tr, err := transcripts.Parse(strings.NewReader("# smtpsh transcript v1\n" + strings.Join(lines, "\n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestReplayGolden shows a pipelined Postfix session (RFC 2920 §3: the
// replies come together, in order) decoded from a capture: each reply is
// explained after the command it answers, not after the last one sent.
func TestReplayGolden(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "replay", "pipelined.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transcripts.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Replay(&out, tr, ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "replay", "pipelined.golden")
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, out.String())
	}
	// What the golden file must say, so that -update cannot bless a
	// regression: the 550 is explained as RCPT's reply (user unknown), and
	// the 354 as DATA's.
	for _, w := range []string{
		"connected to 192.0.2.25:25 via socks5://127.0.0.1:1080",
		"TLS: TLSv1.3 TLS_AES_128_GCM_SHA256, certificate CN=mx.example.org",
		"S: 550 5.1.1 <nobody@example.com>",
		"! the capture lost 120 bytes from the server",
		"connection closed by the server",
		"C: AUTH PLAIN <redacted>",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

// TestReplayExplainsInContext: the same code means different things after
// different commands (RFC 5321 §4.2.3, §3.5.3), and replay explains each
// reply after the command it answers, also when pipelined.
func TestReplayExplainsInContext(t *testing.T) {
	tr := parseTranscript(t,
		"S: 220 mx.example.org ESMTP",
		"C: VRFY root",
		"C: RCPT TO:<root@example.org>",
		"S: 252 2.0.0 root",
		"S: 250 2.1.5 Ok",
	)
	var withKB, without bytes.Buffer
	if err := Replay(&withKB, tr, ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(withKB.String(), "\n")
	explained := map[string]string{}
	for i, l := range lines {
		if strings.HasPrefix(l, "S: ") && i+1 < len(lines) {
			explained[l] = lines[i+1]
		}
	}
	if e := explained["S: 252 2.0.0 root"]; !strings.Contains(e, "will not say") {
		t.Errorf("252 after VRFY explained as %q", e)
	}
	if e := explained["S: 250 2.1.5 Ok"]; !strings.Contains(e, "recipient") {
		t.Errorf("250 after RCPT explained as %q", e)
	}
	if err := Replay(&without, tr, ReplayOptions{NoExplain: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(without.String(), "↳") || !strings.Contains(without.String(), "S: 250 2.1.5 Ok") {
		t.Errorf("NoExplain:\n%s", without.String())
	}
}

// TestReplayHostileText: text from a file is escaped, never written raw.
func TestReplayHostileText(t *testing.T) {
	tr := parseTranscript(t,
		`S:"220 \x1b]0;pwned\x07 hi"`,
		`C:"NOOP \x1b[2J"`,
		`*: note "\x1b[31mred"`,
		`S: 250-unfinished multi-line reply`,
	)
	var out bytes.Buffer
	if err := Replay(&out, tr, ReplayOptions{Terminal: render.Terminal{Color: true}}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"\x1b]", "\x1b[2J", "\x1b[31mred", "\x07"} {
		if strings.Contains(out.String(), bad) {
			t.Errorf("raw %q in output:\n%q", bad, out.String())
		}
	}
	if !strings.Contains(out.String(), "unreadable reply") {
		t.Errorf("an unfinished reply is not reported:\n%s", out.String())
	}
}

// TestReplayStep: with a Step reader replay waits for a line before each
// client command after the first, and prints the rest whole when it ends.
func TestReplayStep(t *testing.T) {
	tr := parseTranscript(t, "S: 220 x", "C: EHLO a", "S: 250 x", "C: NOOP", "S: 250 ok", "C: QUIT", "S: 221 bye")
	tests := []struct {
		name    string
		step    string
		prompts int
	}{
		{"enter-each", "\n\n\n", 2},
		{"input-ends-early", "\n", 2}, // the second prompt meets the end
		{"no-input", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Replay(&out, tr, ReplayOptions{Step: strings.NewReader(tt.step), NoExplain: true}); err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(out.String(), "[Enter: next command]"); got != tt.prompts {
				t.Errorf("%d prompts, want %d:\n%s", got, tt.prompts, out.String())
			}
			if !strings.Contains(out.String(), "S: 221 bye") {
				t.Errorf("did not reach the end:\n%s", out.String())
			}
		})
	}
}

func TestReplayLines(t *testing.T) {
	tests := []struct {
		name    string
		events  []string
		want    []string
		wantErr string
	}{
		{"commands-and-data", []string{"S: 220 x", "C: MAIL FROM:<a@example.org>", "C: DATA", "D: Subject: x", "D: ", "D: ..dot", "C: ."},
			[]string{"MAIL FROM:<a@example.org>", "DATA", "Subject: x", "", ".dot", "."}, ""},
		{"course-notes-as-typed", []string{"C: MAIL FROM: <student@inlanefreight.htb>", "C: vrfy root"},
			[]string{"MAIL FROM: <student@inlanefreight.htb>", "vrfy root"}, ""},
		{"redacted-auth", []string{"C: EHLO a", "C: AUTH PLAIN <redacted>", "C: QUIT"},
			[]string{"EHLO a"}, `client line 2, "AUTH PLAIN <redacted>": it was redacted`},
		{"redacted-sasl-response", []string{"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: <redacted>"},
			[]string{"AUTH LOGIN"}, `client line 2, "<redacted>"`},
		{"meta-command", []string{"C: :help"}, nil, "meta-command"},
		{"expect-line", []string{"C: NOOP", "C: expect 250"}, []string{"NOOP"}, "expectations"},
		{"expect-in-data", []string{"C: DATA", "D: expect 250"}, []string{"DATA"}, "expectations"},
		{"lone-dot-in-data", []string{"C: DATA", "D: .."}, []string{"DATA"}, `a lone "."`},
		{"comment-line", []string{"C: # not sent"}, nil, "skips blank and # lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReplayLines(parseTranscript(t, tt.events...))
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("lines %q, want %q", got, tt.want)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one with %q", err, tt.wantErr)
			}
		})
	}
}

func TestCompareReplies(t *testing.T) {
	// Recorded: Postfix, pipelined (RFC 2920 §3).
	recorded := parseTranscript(t,
		"S: 220 mx.example.org ESMTP Postfix",
		"C: MAIL FROM:<a@example.org>", "C: RCPT TO:<b@example.com>", "C: DATA",
		"S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 354 End data with <CR><LF>.<CR><LF>",
		"D: hi", "C: .", "S: 250 2.0.0 Ok: queued as 1",
	)
	tests := []struct {
		name string
		live []string
		n    int
		want []string
	}{
		{"same-codes-other-text", []string{
			"S: 220 mail.example.com Microsoft ESMTP MAIL Service ready",
			"C: MAIL FROM:<a@example.org>", "S: 250 2.1.0 Sender OK",
			"C: RCPT TO:<b@example.com>", "S: 250 2.1.5 Recipient OK",
			"C: DATA", "S: 354 Start mail input; end with <CRLF>.<CRLF>", "D: hi",
			"C: .", "S: 250 2.0.0 <x@y> Queued mail for delivery",
		}, 5, nil},
		{"recipient-refused-and-data-read-as-command", []string{
			"S: 220 mx.example.net ESMTP Exim 4.96",
			"C: MAIL FROM:<a@example.org>", "S: 250 OK",
			"C: RCPT TO:<b@example.com>", "S: 550 5.1.1 <b@example.com>: Recipient address rejected",
			"C: DATA", "S: 503 5.5.1 No valid recipients",
			"C: hi", "S: 500 5.5.2 unrecognized command",
			"C: .", "S: 500 5.5.2 unrecognized command",
		}, 5, []string{
			"MAIL FROM:<a@example.org>: recorded 250 2.1.0, got 250",
			"RCPT TO:<b@example.com>: recorded 250 2.1.5, got 550 5.1.1",
			"DATA: recorded 354, got 503 5.5.1",
			"hi: recorded no reply, got 500 5.5.2",
			".: recorded 250 2.0.0, got 500 5.5.2",
		}},
		{"server-closed-early", []string{
			"S: 554 5.7.1 No SMTP service here",
			"C: MAIL FROM:<a@example.org>",
			"*: close server",
		}, 1, []string{
			"greeting: recorded 220, got 554 5.7.1",
			"MAIL FROM:<a@example.org>: recorded 250 2.1.0, got no reply",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diffs := CompareReplies(recorded, parseTranscript(t, tt.live...), tt.n)
			var got []string
			for _, d := range diffs {
				got = append(got, d.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("diffs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// FuzzReplay: any transcript that parses can be shown and compared without
// panicking, with output bounded by its size.
func FuzzReplay(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "replay", "pipelined.txt"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("# smtpsh transcript v1\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: <redacted>\nS: 535 5.7.8 no\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := transcripts.Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Replay(&out, tr, ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		// Each event prints at most one line plus its explanation, an
		// EHLO keyword list or a warning per line of the reply.
		if limit := 4096 + 600*len(data); out.Len() > limit {
			t.Errorf("%d bytes of output for %d of input", out.Len(), len(data))
		}
		lines, _ := ReplayLines(tr)
		if d := CompareReplies(tr, tr, len(lines)); len(d) != 0 {
			t.Errorf("a transcript differs from itself: %v", d)
		}
	})
}
