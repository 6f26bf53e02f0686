package capture

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// RFC 5321 Appendix D.1, "A Typical SMTP Transaction Scenario", with the
// message lines as they go on the wire.
const rfc5321D1 = `
S: 220 foo.com Simple Mail Transfer Service Ready
C: EHLO bar.com
S: 250-foo.com greets bar.com
S: 250-8BITMIME
S: 250-SIZE
S: 250-DSN
S: 250 HELP
C: MAIL FROM:<Smith@bar.com>
S: 250 OK
C: RCPT TO:<Jones@foo.com>
S: 250 OK
C: RCPT TO:<Green@foo.com>
S: 550 No such user here
C: RCPT TO:<Brown@foo.com>
S: 250 OK
C: DATA
S: 354 Start mail input; end with <CRLF>.<CRLF>
C: Blah blah blah...
C: ...etc. etc. etc.
C: .
S: 250 OK
C: QUIT
S: 221 foo.com Service closing transmission channel
`

func TestRFC5321D1(t *testing.T) {
	conv := decodeSteps(t, testInfo(25), keepAll, rfcSteps(rfc5321D1))
	if conv.Helo != "bar.com" || conv.HeloVerb != "EHLO" || conv.LMTP {
		t.Errorf("helo = %q %q lmtp=%v", conv.HeloVerb, conv.Helo, conv.LMTP)
	}
	if conv.Greeting != "220 foo.com Simple Mail Transfer Service Ready" {
		t.Errorf("greeting = %q", conv.Greeting)
	}
	if len(conv.Transactions) != 1 {
		t.Fatalf("%d transactions, want 1", len(conv.Transactions))
	}
	tx := conv.Transactions[0]
	wantRcpts := []Recipient{{"Jones@foo.com", 250}, {"Green@foo.com", 550}, {"Brown@foo.com", 250}}
	if tx.MailFrom != "Smith@bar.com" || tx.MailCode != 250 || !slices.Equal(tx.Rcpts, wantRcpts) {
		t.Errorf("transaction = %+v", tx)
	}
	if tx.DataCode != 354 || tx.ResultCode != 250 || tx.Result != "250 OK" || tx.Method != "DATA" {
		t.Errorf("data: code %d, result %q (%d), method %q", tx.DataCode, tx.Result, tx.ResultCode, tx.Method)
	}
	// RFC 5321 §4.5.2: the leading dot of "...etc." was stuffed; the
	// CRLF before the "." belongs to the message.
	want := "Blah blah blah...\r\n..etc. etc. etc.\r\n"
	if len(conv.Messages) != 1 || string(conv.Messages[0].Data) != want || !conv.Messages[0].Complete || conv.Messages[0].Size != int64(len(want)) {
		t.Errorf("messages = %+v, want one of %q", conv.Messages, want)
	}
	if conv.Result != "250 OK" || conv.ResultCode != 250 {
		t.Errorf("result = %q", conv.Result)
	}
	if len(conv.Warnings) != 0 {
		t.Errorf("warnings: %q", conv.Warnings)
	}
	wantEx := []string{"220"[:0] + "EHLO bar.com 250", "MAIL FROM:<Smith@bar.com> 250", "RCPT TO:<Jones@foo.com> 250",
		"RCPT TO:<Green@foo.com> 550", "RCPT TO:<Brown@foo.com> 250", "DATA 354", ". 250", "QUIT 221"}
	if got := exchangeCodes(conv); !slices.Equal(got, wantEx) {
		t.Errorf("exchanges:\n got %q\nwant %q", got, wantEx)
	}
	golden(t, "rfc5321-d1", transcriptText(t, conv.Transcript))
}

// The transcript of RFC 5321 D.1 is the one in transcripts/testdata, as
// written by hand in RFC notation and marked with MarkData: the decoder
// records a capture with the live shell's conventions.
func TestTranscriptMatchesRFCNotation(t *testing.T) {
	conv := decodeSteps(t, testInfo(25), keepAll, rfcSteps(rfc5321D1))
	var got []string
	for _, e := range conv.Transcript.Events {
		switch e.Kind.String() {
		case "client":
			got = append(got, "C: "+e.Text)
		case "server":
			got = append(got, "S: "+e.Text)
		case "data":
			got = append(got, "C: "+e.Text)
		}
	}
	want := strings.Split(strings.TrimSpace(rfc5321D1), "\n")
	if !slices.Equal(got, want) {
		t.Errorf("protocol lines:\n got %q\nwant %q", got, want)
	}
}

func TestPipelining(t *testing.T) {
	tests := []struct {
		name    string
		steps   []step
		ex      []string
		rcpts   []Recipient
		message string // "" for none
		result  string
		warn    string // a warning that must be present
	}{{
		// RFC 2920 §3.1: the client pipelines MAIL, RCPTs and DATA in one
		// segment; the server's replies come in one segment too.
		name: "rfc2920 3.1 accepted",
		steps: []step{
			s("220 innovation.fictitious.com SMTP service ready\r\n"),
			c("EHLO dbc.mtview.ca.us\r\n"),
			s("250-innovation.fictitious.com\r\n250 PIPELINING\r\n"),
			c("MAIL FROM:<mrose@dbc.mtview.ca.us>\r\nRCPT TO:<ned@innovation.fictitious.com>\r\nRCPT TO:<dan@innovation.fictitious.com>\r\nRCPT TO:<kvc@innovation.fictitious.com>\r\nDATA\r\n"),
			s("250 sender <mrose@dbc.mtview.ca.us> OK\r\n250 recipient <ned@innovation.fictitious.com> OK\r\n250 recipient <dan@innovation.fictitious.com> OK\r\n250 recipient <kvc@innovation.fictitious.com> OK\r\n354 enter mail, end with line containing only \".\"\r\n"),
			c("Subject: pipelined\r\n\r\nhello\r\n.\r\nQUIT\r\n"),
			s("250 message sent\r\n221 goodbye\r\n"),
		},
		ex: []string{"EHLO dbc.mtview.ca.us 250", "MAIL FROM:<mrose@dbc.mtview.ca.us> 250", "RCPT TO:<ned@innovation.fictitious.com> 250",
			"RCPT TO:<dan@innovation.fictitious.com> 250", "RCPT TO:<kvc@innovation.fictitious.com> 250", "DATA 354", ". 250", "QUIT 221"},
		rcpts:   []Recipient{{"ned@innovation.fictitious.com", 250}, {"dan@innovation.fictitious.com", 250}, {"kvc@innovation.fictitious.com", 250}},
		message: "Subject: pipelined\r\n\r\nhello\r\n",
		result:  "250 message sent",
	}, {
		// RFC 2920 §3.2: one recipient refused, the rest go on.
		name: "rfc2920 3.2 one recipient refused",
		steps: []step{
			s("220 innovation.fictitious.com SMTP service ready\r\n"),
			c("EHLO dbc.mtview.ca.us\r\n"),
			s("250-innovation.fictitious.com\r\n250 PIPELINING\r\n"),
			c("MAIL FROM:<mrose@dbc.mtview.ca.us>\r\nRCPT TO:<ned@innovation.fictitious.com>\r\nRCPT TO:<dan@innovation.fictitious.com>\r\nRCPT TO:<kvc@innovation.fictitious.com>\r\nDATA\r\n"),
			s("250 sender <mrose@dbc.mtview.ca.us> OK\r\n550 remote mail to <ned@innovation.fictitious.com> not allowed\r\n250 recipient <dan@innovation.fictitious.com> OK\r\n250 recipient <kvc@innovation.fictitious.com> OK\r\n354 enter mail, end with line containing only \".\"\r\n"),
			c("hi\r\n.\r\nQUIT\r\n"),
			s("250 message sent\r\n221 goodbye\r\n"),
		},
		ex: []string{"EHLO dbc.mtview.ca.us 250", "MAIL FROM:<mrose@dbc.mtview.ca.us> 250", "RCPT TO:<ned@innovation.fictitious.com> 550",
			"RCPT TO:<dan@innovation.fictitious.com> 250", "RCPT TO:<kvc@innovation.fictitious.com> 250", "DATA 354", ". 250", "QUIT 221"},
		rcpts:   []Recipient{{"ned@innovation.fictitious.com", 550}, {"dan@innovation.fictitious.com", 250}, {"kvc@innovation.fictitious.com", 250}},
		message: "hi\r\n",
		result:  "250 message sent",
	}, {
		// RFC 2920 §3.3: every recipient refused, DATA gets 554 and no
		// message follows; QUIT is a command (tshark 4.0 reads it as body).
		name: "rfc2920 3.3 no valid recipients",
		steps: []step{
			s("220 innovation.fictitious.com SMTP service ready\r\n"),
			c("EHLO dbc.mtview.ca.us\r\n"),
			s("250-innovation.fictitious.com\r\n250 PIPELINING\r\n"),
			c("MAIL FROM:<mrose@dbc.mtview.ca.us>\r\nRCPT TO:<ned@innovation.fictitious.com>\r\nRCPT TO:<dan@innovation.fictitious.com>\r\nDATA\r\n"),
			s("250 sender <mrose@dbc.mtview.ca.us> OK\r\n550 remote mail to <ned@innovation.fictitious.com> not allowed\r\n550 remote mail to <dan@innovation.fictitious.com> not allowed\r\n554 no valid recipients given\r\n"),
			c("QUIT\r\n"),
			s("221 goodbye\r\n"),
		},
		ex: []string{"EHLO dbc.mtview.ca.us 250", "MAIL FROM:<mrose@dbc.mtview.ca.us> 250", "RCPT TO:<ned@innovation.fictitious.com> 550",
			"RCPT TO:<dan@innovation.fictitious.com> 550", "DATA 554", "QUIT 221"},
		rcpts:  []Recipient{{"ned@innovation.fictitious.com", 550}, {"dan@innovation.fictitious.com", 550}},
		result: "554 no valid recipients given",
	}, {
		// The capture shows the client's body before the 354 (the two
		// directions interleaved differently than they happened): the
		// bytes after DATA are held until the reply says what they are.
		name: "body before 354 in capture order",
		steps: []step{
			s("220 mx.example.org ESMTP Postfix\r\n"),
			c("HELO client.example\r\n"),
			s("250 mx.example.org\r\n"),
			c("MAIL FROM:<a@example.com>\r\n"),
			s("250 2.1.0 Ok\r\n"),
			c("RCPT TO:<b@example.org>\r\n"),
			s("250 2.1.5 Ok\r\n"),
			c("DATA\r\nSubject: early\r\n\r\n..dot\r\n.\r\n"),
			s("354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as 4F2A1\r\n"),
			c("QUIT\r\n"),
			s("221 2.0.0 Bye\r\n"),
		},
		ex:      []string{"HELO client.example 250", "MAIL FROM:<a@example.com> 250", "RCPT TO:<b@example.org> 250", "DATA 354", ". 250", "QUIT 221"},
		rcpts:   []Recipient{{"b@example.org", 250}},
		message: "Subject: early\r\n\r\n.dot\r\n",
		result:  "250 2.0.0 Ok: queued as 4F2A1",
	}, {
		// DATA refused with 503 (no valid RCPT, Postfix's wording) and
		// the client goes on at once: the held lines are commands.
		name: "DATA 503 then commands",
		steps: []step{
			s("220 mx.example.org ESMTP Postfix\r\n"),
			c("EHLO client.example\r\n"),
			s("250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
			c("MAIL FROM:<a@example.com>\r\nRCPT TO:<nobody@example.org>\r\nDATA\r\nRSET\r\nQUIT\r\n"),
			s("250 2.1.0 Ok\r\n550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table\r\n554 5.5.1 Error: no valid recipients\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n"),
		},
		ex: []string{"EHLO client.example 250", "MAIL FROM:<a@example.com> 250", "RCPT TO:<nobody@example.org> 550",
			"DATA 554", "RSET 250", "QUIT 221"},
		rcpts:  []Recipient{{"nobody@example.org", 550}},
		result: "250 2.0.0 Ok",
		warn:   "pipelining error",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conv := decodeSteps(t, testInfo(25), keepAll, tt.steps)
			if got := exchangeCodes(conv); !slices.Equal(got, tt.ex) {
				t.Errorf("exchanges:\n got %q\nwant %q", got, tt.ex)
			}
			if len(conv.Transactions) != 1 || !slices.Equal(conv.Transactions[0].Rcpts, tt.rcpts) {
				t.Errorf("transactions = %+v", conv.Transactions)
			}
			switch {
			case tt.message == "" && len(conv.Messages) != 0:
				t.Errorf("got %d messages, want none", len(conv.Messages))
			case tt.message != "" && (len(conv.Messages) != 1 || string(conv.Messages[0].Data) != tt.message):
				t.Errorf("messages = %q, want %q", messagesData(conv), tt.message)
			}
			if conv.Result != tt.result {
				t.Errorf("result = %q, want %q", conv.Result, tt.result)
			}
			if tt.warn != "" && !hasWarning(conv, tt.warn) {
				t.Errorf("no warning %q in %q", tt.warn, conv.Warnings)
			}
		})
	}
}

func messagesData(conv *Conversation) []string {
	var out []string
	for _, m := range conv.Messages {
		out = append(out, string(m.Data))
	}
	return out
}

func hasWarning(conv *Conversation, sub string) bool {
	for _, w := range conv.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

func TestBDAT(t *testing.T) {
	bin := make([]byte, 100000)
	for i := range bin {
		bin[i] = byte(i * 7) // binary, with CR, LF and "." all over (RFC 3030 §3: BINARYMIME)
	}
	rest := strings.Repeat("z", 323) + "\n"
	tests := []struct {
		name    string
		steps   []step
		ex      []string
		message string
		result  string
	}{{
		// RFC 3030 §4.1, example 1.
		name: "rfc3030 example 1",
		steps: rfcSteps(`
S: 220 cnri.reston.va.us SMTP service ready
C: EHLO ymir.claremont.edu
S: 250-cnri.reston.va.us says hello
S: 250 CHUNKING
C: MAIL FROM:<Sam@Random.com>
S: 250 <Sam@Random.com> Sender ok
C: RCPT TO:<Susan@Random.com>
S: 250 <Susan@random.com> Recipient ok
C: BDAT 86 LAST
C: To: Susan@random.com
C: From: Sam@random.com
C: Subject: This is a bodyless test message
S: 250 Message OK, 86 octets received
C: QUIT
S: 221 Goodbye`),
		ex:      []string{"EHLO ymir.claremont.edu 250", "MAIL FROM:<Sam@Random.com> 250", "RCPT TO:<Susan@Random.com> 250", "BDAT 86 LAST 250", "QUIT 221"},
		message: "To: Susan@random.com\r\nFrom: Sam@random.com\r\nSubject: This is a bodyless test message\r\n",
		result:  "250 Message OK, 86 octets received",
	}, {
		// RFC 3030 §4.2, example 2: pipelined, two chunks then BDAT 0 LAST,
		// each chunk in the same segment as its command.
		name: "rfc3030 example 2",
		steps: []step{
			s("220 cnri.reston.va.us SMTP service ready\r\n"),
			c("EHLO ymir.claremont.edu\r\n"),
			s("250-cnri.reston.va.us says hello\r\n250-PIPELINING\r\n250-BINARYMIME\r\n250 CHUNKING\r\n"),
			c("MAIL FROM:<ned@ymir.claremont.edu> BODY=BINARYMIME\r\nRCPT TO:<gvaudre@cnri.reston.va.us>\r\nRCPT TO:<jstewart@cnri.reston.va.us>\r\n"),
			s("250 <ned@ymir.claremont.edu>... Sender and BINARYMIME ok\r\n250 <gvaudre@cnri.reston.va.us>... Recipient ok\r\n250 <jstewart@cnri.reston.va.us>... Recipient ok\r\n"),
			c("BDAT 100000\r\n" + string(bin[:60000])),
			c(string(bin[60000:]) + "BDAT 324\r\n" + rest + "BDAT 0 LAST\r\n"),
			s("250 100000 bytes received\r\n250 324 bytes received\r\n250 Message OK, 100324 octets received\r\n"),
			c("QUIT\r\n"),
			s("221 Goodbye\r\n"),
		},
		ex: []string{"EHLO ymir.claremont.edu 250", "MAIL FROM:<ned@ymir.claremont.edu> BODY=BINARYMIME 250",
			"RCPT TO:<gvaudre@cnri.reston.va.us> 250", "RCPT TO:<jstewart@cnri.reston.va.us> 250",
			"BDAT 100000 250", "BDAT 324 250", "BDAT 0 LAST 250", "QUIT 221"},
		message: string(bin) + rest,
		result:  "250 Message OK, 100324 octets received",
	}, {
		// A chunk size that does not parse (zeek's smtp-bdat-cmd-invalid):
		// the server answers 501 and reads commands again.
		name: "invalid chunk size",
		steps: rfcSteps(`
S: 220 mail.target.example ESMTP ready
C: EHLO x
S: 250 CHUNKING
C: MAIL FROM:<a@x>
S: 250 ok
C: RCPT TO:<b@y>
S: 250 ok
C: BDAT -1
S: 501 5.5.4 Syntax: BDAT count [LAST]
C: QUIT
S: 221 bye`),
		ex:     []string{"EHLO x 250", "MAIL FROM:<a@x> 250", "RCPT TO:<b@y> 250", "BDAT -1 501", "QUIT 221"},
		result: "501 5.5.4 Syntax: BDAT count [LAST]",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conv := decodeSteps(t, testInfo(25), keepAll, tt.steps)
			if got := exchangeCodes(conv); !slices.Equal(got, tt.ex) {
				t.Errorf("exchanges:\n got %q\nwant %q", got, tt.ex)
			}
			switch {
			case tt.message == "" && len(conv.Messages) != 0:
				t.Errorf("got %d messages, want none", len(conv.Messages))
			case tt.message != "":
				if len(conv.Messages) != 1 {
					t.Fatalf("got %d messages, want 1", len(conv.Messages))
				}
				m := conv.Messages[0]
				if !bytes.Equal(m.Data, []byte(tt.message)) || m.Size != int64(len(tt.message)) || !m.Complete || m.Method != "BDAT" {
					t.Errorf("message: %d bytes (size %d, complete %v, %s), want %d", len(m.Data), m.Size, m.Complete, m.Method, len(tt.message))
				}
			}
			if conv.Result != tt.result {
				t.Errorf("result = %q, want %q", conv.Result, tt.result)
			}
		})
	}
}

// RFC 2033 §4.2's example: after DATA's end, one reply per recipient that
// was accepted, in order.
func TestLMTP(t *testing.T) {
	conv := decodeSteps(t, testInfo(24), keepAll, rfcSteps(`
S: 220 foo.edu LMTP server ready
C: LHLO foo.edu
S: 250-foo.edu
S: 250-PIPELINING
S: 250 SIZE
C: MAIL FROM:<chris@bar.com>
S: 250 OK
C: RCPT TO:<pat@foo.edu>
S: 250 OK
C: RCPT TO:<jones@foo.edu>
S: 550 No such user here
C: RCPT TO:<green@foo.edu>
S: 250 OK
C: DATA
S: 354 Start mail input; end with <CRLF>.<CRLF>
C: Blah blah blah...
C: ...etc. etc. etc.
C: .
S: 250 OK
S: 452 <green@foo.edu> is temporarily over quota
C: QUIT
S: 221 foo.edu closing connection`))
	if !conv.LMTP || conv.HeloVerb != "LHLO" || !conv.Pipelining {
		t.Errorf("lmtp=%v verb=%q pipelining=%v", conv.LMTP, conv.HeloVerb, conv.Pipelining)
	}
	want := []string{"LHLO foo.edu 250", "MAIL FROM:<chris@bar.com> 250", "RCPT TO:<pat@foo.edu> 250",
		"RCPT TO:<jones@foo.edu> 550", "RCPT TO:<green@foo.edu> 250", "DATA 354", ". 250 452", "QUIT 221"}
	if got := exchangeCodes(conv); !slices.Equal(got, want) {
		t.Errorf("exchanges:\n got %q\nwant %q", got, want)
	}
	tx := conv.Transactions[0]
	if !slices.Equal(tx.Results, []int{250, 452}) {
		t.Errorf("per-recipient results = %v, want [250 452]", tx.Results)
	}
	if len(conv.Warnings) != 0 {
		t.Errorf("warnings: %q", conv.Warnings)
	}
}

func TestSTARTTLS(t *testing.T) {
	hello := "\x16\x03\x01\x00\x05hello"
	tests := []struct {
		name           string
		port           uint16
		steps          []step
		tls            string
		client, server int64
		ex             []string
	}{{
		// RFC 3207 §4 (the example of RFC 4954 §4 up to the TLS layer).
		name: "starttls 220",
		port: 25,
		steps: []step{
			s("220 smtp.example.com ESMTP Server\r\n"),
			c("EHLO client.example.com\r\n"),
			s("250-smtp.example.com Hello client.example.com\r\n250-AUTH GSSAPI DIGEST-MD5\r\n250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n"),
			c("STARTTLS\r\n"),
			s("220 Ready to start TLS\r\n\x16\x03\x03\x00\x02ab"), // ServerHello in the same segment
			c(hello),
			c("\x17\x03\x03\x00\x01z"),
		},
		tls: "starttls", client: int64(len(hello)) + 6, server: 7,
		ex: []string{"EHLO client.example.com 250", "STARTTLS 220"},
	}, {
		// The ClientHello seen before the 220 in capture order is held.
		name: "client hello before the 220",
		port: 587,
		steps: []step{
			s("220 smtp.example.com ESMTP\r\n"),
			c("EHLO c\r\n"),
			s("250 STARTTLS\r\n"),
			c("STARTTLS\r\n" + hello),
			s("220 2.0.0 Ready to start TLS\r\n"),
		},
		tls: "starttls", client: int64(len(hello)), server: 0,
		ex: []string{"EHLO c 250", "STARTTLS 220"},
	}, {
		// STARTTLS refused: the client goes on in the clear.
		name: "starttls refused",
		port: 25,
		steps: rfcSteps(`
S: 220 mx ESMTP
C: EHLO c
S: 250 mx
C: STARTTLS
S: 454 4.7.0 TLS not available due to local problem
C: QUIT
S: 221 bye`),
		ex: []string{"EHLO c 250", "STARTTLS 454", "QUIT 221"},
	}, {
		name:  "implicit tls on 465",
		port:  465,
		steps: []step{c(hello), s("\x16\x03\x03\x00\x02ab")},
		tls:   "implicit", client: int64(len(hello)), server: 7,
	}, {
		name:  "implicit tls by the first byte",
		port:  25,
		steps: []step{c(hello), s("\x16\x03\x03\x00\x02ab")},
		tls:   "implicit", client: int64(len(hello)), server: 7,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conv := decodeSteps(t, testInfo(tt.port), keepAll, tt.steps)
			if conv.TLS != tt.tls || conv.TLSClientBytes != tt.client || conv.TLSServerBytes != tt.server {
				t.Errorf("tls %q client %d server %d, want %q %d %d", conv.TLS, conv.TLSClientBytes, conv.TLSServerBytes, tt.tls, tt.client, tt.server)
			}
			if got := exchangeCodes(conv); !slices.Equal(got, tt.ex) {
				t.Errorf("exchanges:\n got %q\nwant %q", got, tt.ex)
			}
			nTLS := 0
			for _, e := range conv.Transcript.Events {
				if e.Kind.String() == "tls" {
					nTLS++
				}
				if e.Kind.String() == "client" && strings.Contains(e.Text, "hello") {
					t.Errorf("encrypted bytes decoded as a line: %q", e.Text)
				}
			}
			if want := map[bool]int{true: 1}[tt.tls != ""]; nTLS != want {
				t.Errorf("%d TLS events, want %d", nTLS, want)
			}
		})
	}
}

func TestSTARTTLSGolden(t *testing.T) {
	conv := decodeSteps(t, testInfo(25), keepAll, []step{
		s("220 smtp.example.com ESMTP Server\r\n"),
		c("EHLO client.example.com\r\n"),
		s("250-smtp.example.com Hello client.example.com\r\n250 STARTTLS\r\n"),
		c("STARTTLS\r\n"),
		s("220 Ready to start TLS\r\n"),
		c("\x16\x03\x01\x00\x05hello"),
		s("\x16\x03\x03\x00\x02ab"),
	})
	golden(t, "starttls", transcriptText(t, conv.Transcript))
}
