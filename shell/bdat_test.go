package shell

import (
	"strings"
	"testing"
)

// TestTypedBDAT types BDAT chunks by hand (RFC 3030 §2 and its §4.2
// example: a chunk, then "BDAT n LAST") against the lab, which counts the
// octets itself: what it stores is the only truth about the chunk sizes.
func TestTypedBDAT(t *testing.T) {
	head := []string{"EHLO client.example", "MAIL FROM:<a@client.example>", "RCPT TO:<bob@lab.smtpsh.test>"}
	tests := []struct {
		name    string
		lines   []string
		want    []string
		stored  string // the message the lab keeps; "" for none
		phase   Phase
		wantErr bool
	}{
		{
			name: "two chunks, the last without CR LF",
			// "Subject: x\r\n" is 12 octets; "hi\r\n" 4, "abc" fills 3.
			lines:  append(head, "BDAT 12", "Subject: x", "expect 250", "BDAT 7 LAST", "hi", "abc", "expect 250", "QUIT"),
			want:   []string{"type the next 12 octets", "sent without CR LF", "expect 250: ok"},
			stored: "Subject: x\r\nhi\r\nabc",
			phase:  PhaseClosed,
		},
		{
			// A dot line goes as typed: BDAT has no dot-stuffing.
			name:   "a lone dot is data",
			lines:  append(head, "BDAT 8 LAST", ".", "x:y", "expect 250", "QUIT"),
			stored: ".\r\nx:y\r\n",
			phase:  PhaseClosed,
		},
		{
			name:    "a line longer than the chunk is not sent",
			lines:   append(head, "BDAT 4 LAST", "too long", "ab", "expect 250", "QUIT"),
			want:    []string{"not sent: this line is 10 octets with its CR LF and the chunk has 4 left"},
			stored:  "ab\r\n",
			wantErr: true,
		},
		{
			// RFC 3030 §3: DATA may not follow BDAT in a transaction; the
			// shell warns and sends it anyway.
			name:   "DATA after a chunk is out of place",
			lines:  append(head, "BDAT 4", "ab", "expect 250", "DATA", "expect 5", "RSET", "QUIT"),
			want:   []string{"DATA is out of place in phase rcpt (expected BDAT"},
			phase:  PhaseClosed,
			stored: "",
		},
		{
			// An expectation cannot be met before the chunk is complete:
			// the server has not answered yet.
			name:  "expect inside a chunk",
			lines: append(head, "BDAT 10 LAST", "ab", "expect 250", "QUIT"),
			want:  []string{"expect 250: the BDAT chunk still needs 6 octets"},
			// "QUIT\r\n" is 6 octets: it completes the chunk, as it would
			// over telnet, and becomes message text.
			stored:  "ab\r\nQUIT\r\n",
			wantErr: true,
		},
		{
			name:    "input ends inside a chunk",
			lines:   append(head, "BDAT 100", "ab"),
			want:    []string{"input ended inside a BDAT chunk"},
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, st := startLab(t, "default")
			out, s, err := runLines(t, addr, Config{NoExplain: true}, tc.lines...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v\n%s", err, tc.wantErr, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if !tc.wantErr && s.Phase() != tc.phase {
				t.Errorf("phase %v, want %v", s.Phase(), tc.phase)
			}
			msgs := st.Mailbox("bob")
			if tc.stored == "" {
				if len(msgs) != 0 {
					t.Errorf("bob has %d messages, want none", len(msgs))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("bob has %d messages, want 1\n%s", len(msgs), out)
			}
			// The lab prepends its Received line (RFC 5321 §4.4).
			if got := string(msgs[0].Data); !strings.HasSuffix(got, "\r\n"+tc.stored) {
				t.Errorf("stored %q, want it to end with %q", got, tc.stored)
			}
		})
	}
}

// TestBDATPhase checks the phase after the reply to BDAT LAST: the
// transaction is over (RFC 3030 §2) and MAIL is legal again.
func TestBDATPhase(t *testing.T) {
	addr, _ := startLab(t, "default")
	out, s, err := runLines(t, addr, Config{NoExplain: true},
		"EHLO client.example", "MAIL FROM:<a@client.example>", "RCPT TO:<bob@lab.smtpsh.test>", "BDAT 0 LAST", "expect 250")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(out, "type the next") {
		t.Errorf("BDAT 0 asked for octets:\n%s", out)
	}
	if got := s.Phase(); got != PhaseClosed {
		t.Fatalf("phase %v after QUIT", got)
	}
	// The prompt of the last state before QUIT: read from the transcript.
	if !strings.Contains(out, "S: 250") {
		t.Errorf("no 250 to BDAT 0 LAST:\n%s", out)
	}
}

// TestDataHint: a DATA typed by hand gets the invitation to type the
// message after 354; :send's DATA does not (TestSendLab).
func TestDataHint(t *testing.T) {
	addr, _ := startLab(t, "default")
	out, _, err := runLines(t, addr, Config{NoExplain: true},
		"EHLO client.example", "MAIL FROM:<a@client.example>", "RCPT TO:<bob@lab.smtpsh.test>", "DATA", "hi", ".", "expect 250", "QUIT")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "type the message") {
		t.Errorf("no hint after 354:\n%s", out)
	}
}

// TestTypedFromNote: a message typed after DATA whose From header differs
// from MAIL FROM gets the spoofing note, as :send and :compose do, and a
// note in the transcript; a matching From, or From in the body, does not.
func TestTypedFromNote(t *testing.T) {
	tests := []struct {
		name  string
		body  []string
		noted bool
	}{
		{"spoofed", []string{"From: CEO <ceo@bank.example>", "Subject: pay", "", "now"}, true},
		{"same address", []string{"from: Mallory <mallory@evil.example>", "", "hi"}, false},
		{"From in the body", []string{"Subject: x", "", "From: ceo@bank.example"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := startLab(t, "default")
			lines := append([]string{"EHLO client.example", "MAIL FROM:<mallory@evil.example>", "RCPT TO:<bob@lab.smtpsh.test>", "DATA"}, tc.body...)
			lines = append(lines, ".", "expect 250", "QUIT")
			out, s, err := runLines(t, addr, Config{NoExplain: true}, lines...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got := strings.Contains(out, "differs from MAIL FROM <mallory@evil.example>"); got != tc.noted {
				t.Errorf("noted %v, want %v:\n%s", got, tc.noted, out)
			}
			var note bool
			for _, e := range s.Transcript().Events {
				if e.Kind.String() == "note" && strings.Contains(e.Text, "header From differs") {
					note = true
				}
			}
			if note != tc.noted {
				t.Errorf("transcript note %v, want %v", note, tc.noted)
			}
		})
	}
}
