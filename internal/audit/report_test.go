package audit

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/render"
)

// sampleReport is a report with every section, whose server text tries
// to be Markdown (emphasis, a table pipe, a heading, HTML) and a terminal
// escape, as a hostile server's replies would.
func sampleReport() *Report {
	hostile := "550 5.1.1 *em* _u_ a|b `t` <script> [l](http://x) #h \x1b[31mred"
	return &Report{
		Target: "127.0.0.1:2525",
		Fingerprint: &Fingerprint{
			Product: ProductPostfix, Score: 5, Reason: "2 matching rule(s), ahead of Exim (2)",
			Evidence: []Match{
				{Probe: ProbeBanner, Line: "220 mx.example.org ESMTP Postfix (Debian/GNU)", Weight: 3, Source: "Postfix src/smtpd/smtpd.c"},
				{Probe: ProbeUnknown, Line: "502 5.5.2 Error: command not recognized", Weight: 2, Source: "Postfix src/smtpd/smtpd.c"},
			},
			Banner: []string{"220 mx.example.org ESMTP Postfix (Debian/GNU)"},
		},
		Enum: &Enumeration{
			Method: MethodAuto, Domain: "example.org",
			Steps: []string{"VRFY: answers 252 even for the random name smtpsh-zzqxjw: it will not verify (RFC 5321 §3.5.3); moving on"},
			Users: []UserResult{
				{User: "alice", Status: Exists, Method: MethodRCPT, Exchange: Exchange{Command: "RCPT TO:<alice@example.org>", Code: 250, Reply: []string{"250 2.1.5 Ok"}}, Why: "250: the server knows this mailbox"},
				{User: "mallory", Status: NotExists, Method: MethodRCPT, Exchange: Exchange{Command: "RCPT TO:<mallory@example.org>", Code: 550, Reply: []string{hostile}}, Why: "550: mailbox unavailable or unknown (RFC 5321 §4.2.2)"},
			},
		},
		Relay: &RelayResult{
			Verdict: VerdictOpenRelay, Accepted: []string{"plain"}, Reason: "1/16 patterns accepted at RCPT: plain",
			Attempts: []RelayAttempt{
				{Pattern: RelayPattern{Name: "null-sender"}, Mail: Exchange{Command: "MAIL FROM:<>", Code: 250}, Rcpt: &Exchange{Command: "RCPT TO:<relaytest@nmap.scanme.org>", Code: 554, Reply: []string{"554 5.7.1 <relaytest@nmap.scanme.org>: Relay access denied"}}},
				{Pattern: RelayPattern{Name: "plain"}, Mail: Exchange{Command: "MAIL FROM:<antispam@nmap.scanme.org>", Code: 250}, Rcpt: &Exchange{Command: "RCPT TO:<relaytest@nmap.scanme.org>", Code: 250, Reply: []string{"250 2.1.5 Ok"}}, Accepted: true},
			},
			Controls: []Exchange{{Command: nonsenseCommand, Code: 502, Reply: []string{"502 5.5.2 Error: command not recognized"}}},
		},
		Smuggle: &SmuggleResult{
			Verdict: VerdictNotVuln, Reason: "every form was read as message text or refused",
			Attempts: []SmuggleAttempt{{Form: `\n.\n`, Outcome: FormRejected, Why: "the server refused the message: \x1b[2J" + Exchange{Command: ".", Code: 550, Reply: []string{hostile}}.String()}},
		},
		// More than one key, so map order would show.
		Skipped: map[Check]string{
			CheckSmuggle: "refusing the smuggling probe", CheckRelay: "no relay", CheckEnum: "no users to look for", "later": "a check from a newer smtpsh",
		},
		Tarpits: []string{"tarpit: the reply to RCPT TO:<alice@example.org> took 6.0s; slowing down"},
	}
}

// sgr matches the terminal styling glamour writes.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestReportSkippedOrder: the Skipped section lists checks in the order
// Run does them (unknown names last), the same every time.
func TestReportSkippedOrder(t *testing.T) {
	want := []string{"enum: no users to look for", "relay: no relay", "smuggle: refusing the smuggling probe", "later: a check from a newer smtpsh"}
	for _, md := range []bool{false, true} {
		var first string
		for i := range 20 {
			var b bytes.Buffer
			if err := sampleReport().write(&b, md); err != nil {
				t.Fatal(err)
			}
			_, skipped, ok := strings.Cut(b.String(), "Skipped\n")
			if !ok {
				t.Fatalf("md=%v: no Skipped section:\n%s", md, b.String())
			}
			skipped, _, _ = strings.Cut(skipped, "Tarpits")
			last := -1
			for _, w := range want {
				at := strings.Index(skipped, w)
				if at < last {
					t.Fatalf("md=%v: %q out of order (want %q):\n%s", md, w, want, skipped)
				}
				last = at
			}
			if i == 0 {
				first = b.String()
			} else if b.String() != first {
				t.Fatalf("md=%v: report %d differs from the first", md, i)
			}
		}
	}
}

// TestReportMarkdownInGlamour renders the Markdown report as glow would
// (internal/render's glamour renderer, plain and styled, at the default
// and the widest width): the headings are headings, the relay attempts,
// users, evidence and smuggling forms are tables with their rows, no
// header is truncated, and the server's text stays text.
func TestReportMarkdownInGlamour(t *testing.T) {
	var src bytes.Buffer
	if err := sampleReport().WriteMarkdown(&src); err != nil {
		t.Fatal(err)
	}
	for _, term := range []render.Terminal{
		{Width: render.DefaultWidth},
		{Width: render.MaxWidth},
		{Width: render.DefaultWidth, TTY: true, Color: true},
	} {
		r, err := render.NewRenderer(term)
		if err != nil {
			t.Fatal(err)
		}
		out, err := r.Markdown(src.String())
		if err != nil {
			t.Fatal(err)
		}
		plain := sgr.ReplaceAllString(out, "")
		lines := strings.Split(plain, "\n")
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		has := func(re string) bool {
			rx := regexp.MustCompile(re)
			for _, l := range lines {
				if rx.MatchString(l) {
					return true
				}
			}
			return false
		}
		name := "notty"
		if term.Color {
			name = "dark"
		}
		t.Run(fmt.Sprintf("%s-%d", name, term.Width), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("source:\n%s\nrendered:\n%s", src.String(), plain)
				}
			}()
			// Headings: a line of their own, "## " kept by both styles
			// (the styled one colours the title instead of its "#").
			hmark := "## "
			for _, h := range []string{"Fingerprint: Postfix", "Users (method auto, domain example.org)", "Open relay: open relay", "SMTP smuggling: not vulnerable", "Skipped", "Tarpits"} {
				if !has("^" + regexp.QuoteMeta(hmark+h) + "$") {
					t.Errorf("no heading %q", h)
				}
			}
			if !has(`^#? ?smtpsh audit of 127\.0\.0\.1:2525$`) {
				t.Error("no title heading")
			}
			// Tables: header, rule, rows (cells separated by | or │).
			sep := `\s*[|│]\s*`
			for _, row := range []string{
				"#" + sep + "pattern" + sep + "result" + sep + "reply",
				`1` + sep + `null-sender` + sep + `refused` + sep + `RCPT TO:<relaytest@nmap\.scanme\.org>`,
				`2` + sep + `plain` + sep + `ACCEPTED` + sep + `RCPT TO:<relaytest@nmap\.scanme\.org>`,
				"user" + sep + "status" + sep + "reply" + sep + "why",
				`alice` + sep + `exists` + sep + `RCPT`,
				"probe" + sep + "reply line" + sep + "wording from",
				`banner \+3` + sep + `220 mx\.example\.org`,
				"form" + sep + "outcome" + sep + "why",
				`\\n\.\\n` + sep + `rejected` + sep + `the server refused`,
			} {
				if !has("^" + row) {
					t.Errorf("no table row %q", row)
				}
			}
			if !has(`^[-─]+([|┼][-─]+){2,3}$`) {
				t.Error("no table rule under a header")
			}
			// The server's text is text: no emphasis taken, no column
			// split at its pipe, no escape left over, no raw ESC.
			for _, lit := range []string{"*em*", "_u_", "a|b", "`t`", "<script>", "[l](http://x)", "#h", `\x1b[31mred`, `refused the message: \x1b[2J`} {
				if !strings.Contains(plain, lit) {
					t.Errorf("server text %q not shown as it is", lit)
				}
			}
			for _, bad := range []string{`\|`, `\<`, `\*`, "…"} {
				if strings.Contains(plain, bad) {
					t.Errorf("rendered report contains %q (a Markdown escape shown, or a truncated cell)", bad)
				}
			}
			if strings.Contains(out, "\x1b[31m") || strings.Contains(out, "\x1b[2J") {
				t.Error("an escape sequence from the report's text reached the terminal")
			}
		})
	}
}
