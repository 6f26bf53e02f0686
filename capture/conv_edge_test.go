package capture

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/transcripts"
)

func TestGaps(t *testing.T) {
	tests := []struct {
		name     string
		steps    []step
		ex       []string
		messages []string
		complete []bool
		gapEvent transcripts.Side
	}{{
		// A hole in a command line: the rest of that line and any line
		// that is not a command are skipped until a known verb.
		name: "client gap in a command",
		steps: []step{
			s("220 mx ESMTP\r\n"), c("HELO c\r\n"), s("250 mx\r\n"),
			c("MAIL FROM:<a@example.com>\r\nRCPT TO:<lo"),
			{dir: ClientToServer, gap: 20},
			c("st@example.org>\r\nRCPT TO:<b@example.org>\r\n"),
			s("250 ok\r\n250 ok\r\n"),
		},
		ex:       []string{"HELO c 250", "MAIL FROM:<a@example.com> 250", "RCPT TO:<b@example.org> 250"},
		gapEvent: transcripts.SideClient,
	}, {
		// A hole in DATA: the message is incomplete, the scan goes on to
		// CRLF.CRLF and QUIT is still a command.
		name: "client gap in DATA",
		steps: []step{
			s("220 mx ESMTP\r\n"), c("HELO c\r\n"), s("250 mx\r\n"),
			c("MAIL FROM:<a@example.com>\r\n"), s("250 ok\r\n"),
			c("RCPT TO:<b@example.org>\r\n"), s("250 ok\r\n"),
			c("DATA\r\n"), s("354 go ahead\r\n"),
			c("Subject: x\r\n\r\nfirst"),
			{dir: ClientToServer, gap: 1000},
			c("last line\r\n.\r\n"), s("250 2.0.0 Ok: queued as ABC\r\n"),
			c("QUIT\r\n"), s("221 bye\r\n"),
		},
		ex:       []string{"HELO c 250", "MAIL FROM:<a@example.com> 250", "RCPT TO:<b@example.org> 250", "DATA 354", ". 250", "QUIT 221"},
		messages: []string{"Subject: x\r\n\r\nfirstlast line\r\n"},
		complete: []bool{false},
		gapEvent: transcripts.SideClient,
	}, {
		// A hole inside a BDAT chunk (zeek's smtp-bdat-gap): the chunk
		// still ends where its size says.
		name: "client gap in a BDAT chunk",
		steps: []step{
			s("220 mx ESMTP\r\n"), c("EHLO c\r\n"), s("250 CHUNKING\r\n"),
			c("MAIL FROM:<a@example.com>\r\n"), s("250 ok\r\n"),
			c("RCPT TO:<b@example.org>\r\n"), s("250 ok\r\n"),
			c("BDAT 100 LAST\r\n" + strings.Repeat("a", 40)),
			{dir: ClientToServer, gap: 30},
			c(strings.Repeat("b", 30) + "QUIT\r\n"),
			s("250 2.0.0 Ok: 100 bytes queued\r\n221 bye\r\n"),
		},
		ex:       []string{"EHLO c 250", "MAIL FROM:<a@example.com> 250", "RCPT TO:<b@example.org> 250", "BDAT 100 LAST 250", "QUIT 221"},
		messages: []string{strings.Repeat("a", 40) + strings.Repeat("b", 30)},
		complete: []bool{false},
		gapEvent: transcripts.SideClient,
	}, {
		// A hole in the replies: the next reply line resynchronises.
		name: "server gap",
		steps: []step{
			s("220 mx ESMTP\r\n"), c("EHLO c\r\n"),
			s("250-mx\r\n250-PIPE"), {dir: ServerToClient, gap: 10}, s("LINING\r\n250 8BITMIME\r\n"),
			c("QUIT\r\n"), s("221 bye\r\n"),
		},
		ex:       []string{"EHLO c 250", "QUIT 221"},
		gapEvent: transcripts.SideServer,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conv := decodeSteps(t, testInfo(25), keepAll, tt.steps)
			if got := exchangeCodes(conv); !slices.Equal(got, tt.ex) {
				t.Errorf("exchanges:\n got %q\nwant %q", got, tt.ex)
			}
			if got := messagesData(conv); !slices.Equal(got, tt.messages) {
				t.Errorf("messages %q, want %q", got, tt.messages)
			}
			for i, m := range conv.Messages {
				if m.Complete != tt.complete[i] {
					t.Errorf("message %d complete = %v", i+1, m.Complete)
				}
			}
			if conv.Gaps != 1 {
				t.Errorf("gaps = %d", conv.Gaps)
			}
			found := false
			for _, e := range conv.Transcript.Events {
				if e.Kind == transcripts.Gap && e.Side == tt.gapEvent && e.Bytes > 0 {
					found = true
				}
			}
			if !found {
				t.Errorf("no gap event on the %v side", tt.gapEvent)
			}
		})
	}
}

// Only client→server captured (as zeek's smtp-one-side-only.pcap): the
// commands and the message still come out.
func TestOneSided(t *testing.T) {
	conv := decodeSteps(t, testInfo(25), keepAll, []step{
		c("EHLO client.example\r\n"),
		c("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"),
		c("From: a@example.com\r\nSubject: one side\r\n\r\nbody\r\n.\r\n"),
		c("QUIT\r\n"),
	})
	want := []string{"EHLO client.example", "MAIL FROM:<a@example.com>", "RCPT TO:<b@example.org>", "DATA", ".", "QUIT"}
	if got := exchangeCodes(conv); !slices.Equal(got, want) {
		t.Errorf("exchanges %q, want %q", got, want)
	}
	if got := messagesData(conv); !slices.Equal(got, []string{"From: a@example.com\r\nSubject: one side\r\n\r\nbody\r\n"}) || !conv.Messages[0].Complete {
		t.Errorf("messages %q", got)
	}
	if conv.Result != "no reply" || conv.ResultCode != 0 {
		t.Errorf("result %q", conv.Result)
	}
	if !hasWarning(conv, "took the bytes after DATA as the message") {
		t.Errorf("no warning about the guess: %q", conv.Warnings)
	}
}

// The held bytes after DATA are bounded: past MaxHold the decoder guesses.
func TestHoldBounded(t *testing.T) {
	opts := keepAll
	opts.MaxHold = 4096
	body := strings.Repeat("line of the body\r\n", 1000)
	d := NewDecoder(testInfo(25), opts, nil)
	d.Data(ServerToClient, testStart, []byte("220 mx\r\n"))
	d.Data(ClientToServer, testStart, []byte("HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"))
	for i := 0; i < len(body); i += 1000 {
		d.Data(ClientToServer, testStart, []byte(body[i:min(i+1000, len(body))]))
		if d.holdN > opts.MaxHold+1000 {
			t.Fatalf("holding %d bytes, bound %d", d.holdN, opts.MaxHold)
		}
	}
	if d.cmode != clientData {
		t.Fatalf("mode %d after the hold overflowed, want the message", d.cmode)
	}
	d.Data(ClientToServer, testStart, []byte(".\r\n"))
	// The replies come late: they agree with the guess, no warning.
	d.Data(ServerToClient, testStart, []byte("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n"))
	d.End(testStart, "fin")
	conv := d.Conversation()
	if len(conv.Messages) != 1 || string(conv.Messages[0].Data) != body || conv.Result != "250 queued" {
		t.Errorf("messages %d, result %q", len(conv.Messages), conv.Result)
	}
	if hasWarning(conv, "wrongly") {
		t.Errorf("warned of a wrong guess: %q", conv.Warnings)
	}
}

// Terminator-like forms with bare CR or LF (SMTP smuggling, SEC Consult
// 2023) do not end the data here, as in internal/smtp's DotReader, and
// are reported.
func TestSmugglingForms(t *testing.T) {
	// want is what internal/smtp's DotReader returns for the same text:
	// after CRLF a leading "." is stuffing, even in ".\n".
	for _, tt := range []struct{ name, body, want, form string }{
		{"LF.CRLF", "a\n.\r\nMAIL FROM:<evil@example.com>\r\n", "a\n.\r\nMAIL FROM:<evil@example.com>\r\n", `"\n.\r\n"`},
		{"CRLF.LF", "a\r\n.\nMAIL FROM:<evil@example.com>\r\n", "a\r\n\nMAIL FROM:<evil@example.com>\r\n", `"\r\n.\n"`},
		{"LF.LF", "a\n.\nMAIL FROM:<evil@example.com>\r\n", "a\n.\nMAIL FROM:<evil@example.com>\r\n", `"\n.\n"`},
		{"CR.CR", "a\r.\rMAIL FROM:<evil@example.com>\r\n", "a\r.\rMAIL FROM:<evil@example.com>\r\n", `bare CRs`},
		{"CRLF.CR", "a\r\n.\r\r\nMAIL FROM:<evil@example.com>\r\n", "a\r\n\r\r\nMAIL FROM:<evil@example.com>\r\n", `bare CRs`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conv := decodeSteps(t, testInfo(25), keepAll, []step{
				s("220 mx\r\n"), c("HELO c\r\n"), s("250 mx\r\n"),
				c("MAIL FROM:<a@example.com>\r\n"), s("250 ok\r\n"),
				c("RCPT TO:<b@example.org>\r\n"), s("250 ok\r\n"),
				c("DATA\r\n"), s("354 go\r\n"),
				c(tt.body + "real end\r\n.\r\n"), s("250 queued\r\n"),
			})
			if len(conv.Transactions) != 1 {
				t.Errorf("%d transactions: the smuggled MAIL was read as a command", len(conv.Transactions))
			}
			if got := messagesData(conv); !slices.Equal(got, []string{tt.want + "real end\r\n"}) {
				t.Errorf("message %q", got)
			}
			if !hasWarning(conv, "SMTP smuggling") || !hasWarning(conv, tt.form) {
				t.Errorf("no smuggling warning naming %s: %q", tt.form, conv.Warnings)
			}
		})
	}
}

// A capture that starts after the handshake: with a greeting, and without.
func TestNoSYN(t *testing.T) {
	info := testInfo(25)
	info.SawSYN = false
	conv := decodeSteps(t, info, keepAll, []step{
		s("220 mx ESMTP\r\n"), c("EHLO c\r\n"), s("250 mx\r\n"),
	})
	if conv.Greeting != "220 mx ESMTP" || !slices.Equal(exchangeCodes(conv), []string{"EHLO c 250"}) {
		t.Errorf("with greeting: %q %q", conv.Greeting, exchangeCodes(conv))
	}
	conv = decodeSteps(t, info, keepAll, []step{
		c("RCPT TO:<b@example.org>\r\n"), s("250 2.1.5 Ok\r\n"),
		c("DATA\r\n"), s("354 go\r\n"), c("hi\r\n.\r\n"), s("250 queued\r\n"),
	})
	if conv.Greeting != "" || !slices.Equal(exchangeCodes(conv), []string{"RCPT TO:<b@example.org> 250", "DATA 354", ". 250"}) {
		t.Errorf("mid-stream: %q %q", conv.Greeting, exchangeCodes(conv))
	}
	if got := messagesData(conv); !slices.Equal(got, []string{"hi\r\n"}) {
		t.Errorf("message %q", got)
	}
}

// Hostile sizes: memory stays bounded and the decoder goes on.
func TestHostileSizes(t *testing.T) {
	t.Run("10 MB command line", func(t *testing.T) {
		d := NewDecoder(testInfo(25), keepAll, nil)
		d.Data(ServerToClient, testStart, []byte("220 mx\r\n"))
		chunk := bytes.Repeat([]byte("A"), 64<<10)
		for range 160 {
			d.Data(ClientToServer, testStart, chunk)
			if cap(d.cline.b) > 2*DefaultMaxLine {
				t.Fatalf("line buffer grew to %d", cap(d.cline.b))
			}
		}
		d.Data(ClientToServer, testStart, []byte("\r\nQUIT\r\n"))
		d.Data(ServerToClient, testStart, []byte("500 5.5.2 Error: line too long\r\n221 bye\r\n"))
		d.End(testStart, "fin")
		conv := d.Conversation()
		if got := exchangeCodes(conv); len(got) != 2 || !strings.HasSuffix(got[0], " 500") || got[1] != "QUIT 221" {
			t.Errorf("exchanges %.80q", got)
		}
		if !hasWarning(conv, "truncated") {
			t.Errorf("no truncation warning: %q", conv.Warnings)
		}
		if err := conv.Transcript.Validate(); err != nil {
			t.Error(err)
		}
	})
	t.Run("endless multi-line reply", func(t *testing.T) {
		opts := keepAll
		opts.MaxEvents = 1000
		d := NewDecoder(testInfo(25), opts, nil)
		d.Data(ClientToServer, testStart, []byte("EHLO c\r\n"))
		line := bytes.Repeat([]byte("250-AUTH PLAIN LOGIN\r\n"), 1000)
		for range 100 {
			d.Data(ServerToClient, testStart, line)
		}
		d.End(testStart, "fin")
		conv := d.Conversation()
		if n := len(conv.Transcript.Events); n > 1010 {
			t.Errorf("%d events, bound 1000", n)
		}
		if err := conv.Transcript.Validate(); err != nil {
			t.Error(err)
		}
	})
	t.Run("long message line and MaxMessage", func(t *testing.T) {
		opts := keepAll
		opts.MaxMessage = 100000
		long := strings.Repeat("x", 200000)
		conv := decodeSteps(t, testInfo(25), opts, []step{
			s("220 mx\r\n"), c("HELO c\r\n"), s("250 mx\r\n"),
			c("MAIL FROM:<a@b>\r\n"), s("250 ok\r\n"), c("RCPT TO:<c@d>\r\n"), s("250 ok\r\n"),
			c("DATA\r\n"), s("354 go\r\n"),
			c(".." + long[:100000]), c(long[100000:] + "\r\n.\r\n"), s("250 queued\r\n"),
		})
		m := conv.Messages[0]
		if m.Size != int64(len(long))+3 || len(m.Data) != 100000 || !m.Truncated || !m.Complete || m.Data[0] != '.' || m.Data[1] != 'x' {
			t.Errorf("size %d kept %d truncated %v complete %v start %q", m.Size, len(m.Data), m.Truncated, m.Complete, m.Data[:2])
		}
		if len(m.Warnings) == 0 || !strings.Contains(m.Warnings[0], "longer than") {
			t.Errorf("warnings %q", m.Warnings)
		}
	})
}

// Nothing is kept that was not asked for: the --summary path.
func TestSummaryOnly(t *testing.T) {
	conv := decodeSteps(t, testInfo(25), DecoderOptions{}, rfcSteps(rfc5321D1))
	if conv.Transcript != nil {
		t.Error("a transcript was kept")
	}
	if len(conv.Messages) != 1 || conv.Messages[0].Data != nil || conv.Messages[0].Size != 37 {
		t.Errorf("message %+v", conv.Messages[0])
	}
	if conv.ClientBytes == 0 || conv.ServerBytes == 0 || conv.End.Sub(conv.Start) <= 0 || conv.EndReason != "fin" {
		t.Errorf("bytes %d/%d, %v–%v %q", conv.ClientBytes, conv.ServerBytes, conv.Start, conv.End, conv.EndReason)
	}
}

// Lenient line endings: bare LF ends reply and command lines, with a
// warning for the client's.
func TestBareLF(t *testing.T) {
	conv := decodeSteps(t, testInfo(25), keepAll, []step{
		s("220 mx\n"), c("HELO c\n"), s("250-mx\n250 ok\n"), c("QUIT\n"), s("221 bye\n"),
	})
	if got := exchangeCodes(conv); !slices.Equal(got, []string{"HELO c 250", "QUIT 221"}) {
		t.Errorf("exchanges %q", got)
	}
	if !hasWarning(conv, "bare LF") {
		t.Errorf("warnings %q", conv.Warnings)
	}
}

// Events carry the time of the bytes that completed them.
func TestEventTimes(t *testing.T) {
	conv := decodeSteps(t, testInfo(25), keepAll, rfcSteps(rfc5321D1))
	prev := time.Time{}
	for _, e := range conv.Transcript.Events {
		if e.Time.Before(prev) {
			t.Errorf("event %v at %v before %v", e.Kind, e.Time, prev)
		}
		prev = e.Time
	}
}
