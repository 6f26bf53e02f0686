package shell

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/transcripts"
)

// TestPipelineLab pipelines a transaction to the lab, which advertises
// PIPELINING, as in RFC 2920 §3.2's example: the replies come in order,
// each shown with the command it answers, a refused recipient does not
// stop the others, and the message is delivered.
func TestPipelineLab(t *testing.T) {
	addr, st := startLab(t, "default")
	out, s, err := runLines(t, addr, Config{NoExplain: true},
		"EHLO client.example", ":pipeline",
		"MAIL FROM:<a@client.example>", "RCPT TO:<bob@lab.smtpsh.test>", "RCPT TO:<nobody@lab.smtpsh.test>", "DATA", "",
		"expect 354", "Subject: pipelined", "", "hi", ".", "expect 250", "QUIT")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	order := []string{
		"4 commands sent in one write",
		"[1/4] MAIL FROM:<a@client.example>", "S: 250 2.1.0",
		"[2/4] RCPT TO:<bob@lab.smtpsh.test>", "S: 250 2.1.5",
		"[3/4] RCPT TO:<nobody@lab.smtpsh.test>", "S: 550 5.1.1",
		"[4/4] DATA", "S: 354",
		"S: 250 2.0.0 Ok: queued",
	}
	at := 0
	for _, w := range order {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Fatalf("output lacks %q after byte %d:\n%s", w, at, out)
		}
		at += i + len(w)
	}
	if strings.Contains(out, "should be the last command") {
		t.Errorf("a well-formed group got a warning:\n%s", out)
	}
	if msgs := st.Mailbox("bob"); len(msgs) != 1 || !strings.Contains(string(msgs[0].Data), "Subject: pipelined") {
		t.Errorf("bob's mailbox: %d messages\n%s", len(msgs), out)
	}
	var sent []string
	for _, e := range s.Transcript().Events {
		if e.Kind.String() == "client" {
			sent = append(sent, e.Text)
		}
	}
	if got := strings.Join(sent, "|"); !strings.Contains(got, "MAIL FROM:<a@client.example>|RCPT TO:<bob@lab.smtpsh.test>|RCPT TO:<nobody@lab.smtpsh.test>|DATA") {
		t.Errorf("transcript client lines: %s", got)
	}
}

// TestPipelineOneWrite proves the group is sent without waiting for
// replies: this server answers nothing until it has read every command of
// the group, so a client that waited after the first would time out.
func TestPipelineOneWrite(t *testing.T) {
	group := []string{"MAIL FROM:<a@client.example>", "RCPT TO:<b@server.example>", "RCPT TO:<c@server.example>", "NOOP"}
	addr := fakeServer(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprint(c, "220 fake ESMTP\r\n")
		readLine(c) // EHLO
		fmt.Fprint(c, "250-fake\r\n250 PIPELINING\r\n")
		var got []string
		for range group {
			got = append(got, readLine(c))
		}
		for i, g := range got {
			if g != group[i] {
				fmt.Fprintf(c, "500 got %q\r\n", g)
				return
			}
		}
		fmt.Fprint(c, "250 a\r\n250 b\r\n550 c\r\n250 d\r\n")
		readLine(c) // QUIT
		fmt.Fprint(c, "221 bye\r\n")
	})
	lines := append([]string{"EHLO client.example", ":pipeline"}, group...)
	lines = append(lines, "", "expect 250", "QUIT")
	out, _, err := runLines(t, addr, Config{NoExplain: true, Timeout: 2 * time.Second}, lines...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, w := range []string{"[3/4] RCPT TO:<c@server.example>\nS: 550 c", "[4/4] NOOP\nS: 250 d", "expect 250: ok", "S: 221 bye"} {
		if !strings.Contains(stripNotes(out), w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// stripNotes removes the indentation of the shell's notes so that a note
// and the reply after it can be matched as consecutive lines.
func stripNotes(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		b.WriteString(strings.TrimLeft(l, " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// TestPipelineWarnings: what RFC 2920 §3.1, RFC 3207 §4 and RFC 4954 §4
// say may only end a group, PIPELINING not advertised, and what is not
// taken in a group.
func TestPipelineWarnings(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		lines   []string
		want    []string
		notWant []string
	}{
		{
			name:  "noop in the middle",
			lines: []string{"EHLO client.example", ":pipeline", "NOOP", "MAIL FROM:<a@client.example>", "", "QUIT"},
			want:  []string{"NOOP should be the last command of a group (RFC 2920 §3.1"},
		},
		{
			// AUTH with its initial response is shown redacted.
			name:    "auth in the middle",
			lines:   []string{"EHLO client.example", ":pipeline", "AUTH PLAIN " + plainAlice, "NOOP", "", "QUIT"},
			want:    []string{"AUTH should be the last command of a group (RFC 4954 §4", "C: AUTH PLAIN <redacted>"},
			notWant: []string{plainAlice},
		},
		{
			name:    "ehlo last is fine",
			lines:   []string{"EHLO client.example", ":pipeline", "RSET", "EHLO client.example", "", "QUIT"},
			notWant: []string{"should be the last"},
			want:    []string{"2 commands sent in one write"},
		},
		{
			name:  "bdat refused",
			lines: []string{"EHLO client.example", ":pipeline", "BDAT 3 LAST", "", "QUIT"},
			want:  []string{"BDAT is not taken in a group", "empty group: nothing sent"},
		},
		{
			name:    "cancel",
			lines:   []string{"EHLO client.example", ":pipeline", "MAIL FROM:<a@client.example>", ":cancel", "QUIT"},
			want:    []string{"group dropped: nothing was sent"},
			notWant: []string{"C: MAIL"},
		},
		{
			name:  "meta inside a group",
			lines: []string{"EHLO client.example", ":pipeline", ":info", "", "QUIT"},
			want:  []string{"meta-commands cannot be part of a group"},
		},
		{
			// The legacy profile knows HELO only: no extensions at all.
			name:    "not advertised",
			profile: "legacy",
			lines:   []string{"HELO client.example", ":pipeline", "NOOP", "", "QUIT"},
			want:    []string{"PIPELINING is an extension, offered only in a reply to EHLO"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.profile
			if p == "" {
				p = "default"
			}
			addr, _ := startLab(t, p)
			out, _, _ := runLines(t, addr, Config{NoExplain: true}, tc.lines...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestReconnectScript: :reconnect sends QUIT, waits for the close and
// connects again; the new connection starts over (greeting, helo phase, no
// capabilities) and the transcript holds both connections.
func TestReconnectScript(t *testing.T) {
	addr, _ := startLab(t, "default")
	out, s, err := runLines(t, addr, Config{NoExplain: true},
		"EHLO first.example", "MAIL FROM:<a@client.example>", ":reconnect", "MAIL FROM:<a@client.example>", "expect 503",
		"EHLO second.example", "expect 250", "QUIT")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	order := []string{"C: EHLO first.example", ":reconnect", "C: QUIT", "S: 221", "connected to", "S: 220",
		"C: MAIL FROM:<a@client.example>", "MAIL is out of place in phase helo", "S: 503", "expect 503: ok", "C: EHLO second.example", "S: 250", "S: 221"}
	at := 0
	for _, w := range order {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Fatalf("output lacks %q after byte %d:\n%s", w, at, out)
		}
		at += i + len(w)
	}
	var connects, closes int
	for _, e := range s.Transcript().Events {
		switch e.Kind.String() {
		case "connect":
			connects++
		case "close":
			closes++
		}
	}
	if connects != 2 || closes != 2 {
		t.Errorf("transcript has %d connect and %d close events, want 2 and 2", connects, closes)
	}
	// Both connections in one transcript file that reads back the same.
	var b bytes.Buffer
	if err := transcripts.Write(&b, s.Transcript(), transcripts.WriteOptions{Times: true}); err != nil {
		t.Fatal(err)
	}
	back, err := transcripts.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Events) != len(s.Transcript().Events) {
		t.Errorf("read back %d events, wrote %d", len(back.Events), len(s.Transcript().Events))
	}
}
