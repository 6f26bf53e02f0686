package lab

import (
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

// step sends raw text (one write; several lines are a pipelined batch) and
// expects reply lines in order.
type step struct {
	send string
	want []string
}

// lines joins command lines with CRLF, as a client sends them.
func lines(ls ...string) string { return strings.Join(ls, "\r\n") + "\r\n" }

func s(send string, want ...string) step { return step{send: send, want: want} }

// c is one command line and its expected reply lines.
func c(cmd string, want ...string) step { return step{send: cmd + "\r\n", want: want} }

const (
	host     = "lab.smtpsh.test"
	ehloDflt = "250-lab.smtpsh.test"
)

// ehloDefault is the default profile's EHLO reply before TLS: no AUTH
// (tls_only), STARTTLS offered.
var ehloDefault = []string{ehloDflt, "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN", "250-STARTTLS",
	"250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING"}

// TestSessions drives the server over loopback with raw lines, profile by
// profile. Expected texts are Postfix's where the lab follows it (checked
// against Postfix 3.x in the postfix-lab peer) and the RFCs' otherwise.
func TestSessions(t *testing.T) {
	relayDenied := "554 5.7.1 <x@example.org>: Relay access denied"
	tests := []struct {
		name    string
		profile string
		edit    func(*Profile)
		banner  string
		steps   []step
	}{
		{name: "state machine", profile: "default", steps: []step{
			c("RCPT TO:<alice@lab.smtpsh.test>", "503 5.5.1 Error: need MAIL command"),
			c("MAIL FROM:<a@example.org>", "503 5.5.1 Error: send HELO/EHLO first"),
			c("DATA", "503 5.5.1 Error: need MAIL command"),
			c("HELO client.example", "250 lab.smtpsh.test"),
			c("DATA", "503 5.5.1 Error: need MAIL command"),
			c("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
			c("MAIL FROM:<a@example.org>", "503 5.5.1 Error: nested MAIL command"),
			c("DATA", "503 5.5.1 Error: need RCPT command"),
			c("RCPT TO:<alice@lab.smtpsh.test>", "250 2.1.5 Ok"),
			c("DATA", "354 End data with <CR><LF>.<CR><LF>"),
			s("Subject: hi\r\n\r\nhello\r\n.\r\n", "250 2.0.0 Ok: queued as *"),
			c("RSET", "250 2.0.0 Ok"),
			c("NOOP", "250 2.0.0 Ok"),
			c("QUIT", "221 2.0.0 Bye"),
		}},
		{name: "EHLO capabilities and reset", profile: "default", steps: []step{
			c("EHLO client.example", ehloDefault...),
			c("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
			// RFC 5321 §4.1.4: EHLO again resets the transaction.
			c("EHLO client.example", ehloDefault...),
			c("RCPT TO:<alice@lab.smtpsh.test>", "503 5.5.1 Error: need MAIL command"),
		}},
		{name: "unknown and unimplemented commands", profile: "default", steps: []step{
			c("FOO bar", "500 5.5.2 Error: command not recognized"),
			c("TURN", "502 5.5.1 Error: command not implemented"),
			c("XCLIENT ADDR=1.2.3.4", "502 5.5.1 Error: command not implemented"),
			s("\r\n", "500 5.5.2 Error: bad syntax"),
			// The parser's detail, in US-ASCII as reply text must be (RFC 5321 §4.2).
			c("HELO", "501 5.5.4 Syntax: HELO hostname (column 5: HELO needs a domain or address literal (RFC 5321 section 4.1.1.1))"),
			c("STARTTLS now", "501 5.5.4 Syntax: STARTTLS*"),
			c("HELP", "214-2.0.0 Commands: *", "214 2.0.0 smtpsh lab, profile default: *"),
		}},
		{name: "HELP lists what the default profile offers", profile: "default", steps: []step{
			c("HELP", "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH ETRN", "214 2.0.0 *"),
		}},
		{name: "HELP on hardened leaves out VRFY and EXPN", profile: "hardened", steps: []step{
			c("HELP", "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP STARTTLS AUTH", "214 2.0.0 *"),
		}},
		{name: "HELP on legacy has no ESMTP commands", profile: "legacy", banner: "220 lab.smtpsh.test Sendmail 8.6.12/8.6.9 ready", steps: []step{
			c("HELP", "214-Commands: HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP", "214 *"),
		}},
		{name: "HTTP request is not SMTP", profile: "default", steps: []step{
			c("GET / HTTP/1.1", "221 2.7.0 Error: I can break rules, too. Goodbye."),
		}},
		{name: "tolerated and strict syntax", profile: "default", steps: []step{
			c("helo client.example", "250 lab.smtpsh.test"),
			// Postfix tolerates a space after FROM: by default.
			c("mail from: <a@example.org>", "250 2.1.0 Ok"),
			c("RCPT TO:alice@lab.smtpsh.test", "250 2.1.5 Ok"),
			c("RCPT TO:<bob@lab.smtpsh.test", "501 5.5.4 Syntax: RCPT TO:<address> (column *"),
		}},
		{name: "strict profile refuses the space after FROM:", profile: "default", edit: func(p *Profile) { p.SMTP.Strict = true }, steps: []step{
			c("HELO client.example", "250 lab.smtpsh.test"),
			c("MAIL FROM: <a@example.org>", "501 5.5.4 Syntax: MAIL FROM:<address> (column 11: *"),
		}},
		{name: "command line too long", profile: "default", steps: []step{
			c("NOOP "+strings.Repeat("x", 600), "500 5.5.2 Error: line too long"),
			c("NOOP "+strings.Repeat("x", 20000), "500 5.5.2 Error: line too long"),
			c("NOOP", "250 2.0.0 Ok"),
		}},
		{name: "relay policy authenticated", profile: "default", steps: []step{
			c("EHLO client.example", ehloDefault...),
			c("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
			c("RCPT TO:<x@example.org>", relayDenied),
			c("RCPT TO:<nobody@lab.smtpsh.test>", "550 5.1.1 <nobody@lab.smtpsh.test>: Recipient address rejected: User unknown in local recipient table"),
			c("RCPT TO:<ROOT@LAB.SMTPSH.TEST>", "250 2.1.5 Ok"),
			c("RCPT TO:<Postmaster>", "250 2.1.5 Ok"),
			c("RCPT TO:<team@localhost>", "250 2.1.5 Ok"),
		}},
		{name: "unknown parameters and extensions", profile: "default", steps: []step{
			c("EHLO client.example", ehloDefault...),
			c("MAIL FROM:<a@example.org> FOO=bar", "555 5.5.4 Unsupported option: FOO=bar"),
			c("MAIL FROM:<a@example.org> BODY=BINARYMIME", "555 5.5.4 Unsupported option: BODY=BINARYMIME"),
			c("MAIL FROM:<a@example.org> SIZE=99999999", "552 5.3.4 Message size exceeds fixed limit"),
			c("MAIL FROM:<a@example.org> SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=abc", "250 2.1.0 Ok"),
			c("RCPT TO:<bob@lab.smtpsh.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@lab.smtpsh.test", "250 2.1.5 Ok"),
			c("RCPT TO:<alice@lab.smtpsh.test> FOO=1", "555 5.5.4 Unsupported option: FOO=1"),
		}},
		{name: "parameters need EHLO", profile: "default", steps: []step{
			c("HELO client.example", "250 lab.smtpsh.test"),
			c("MAIL FROM:<a@example.org> SIZE=10", "555 5.5.4 Unsupported option: SIZE=10"),
		}},
		{name: "VRFY cannot verify, EXPN disabled", profile: "default", steps: []step{
			c("VRFY alice", "503 5.5.1 Error: send HELO/EHLO first"),
			c("HELO client.example", "250 lab.smtpsh.test"),
			c("VRFY alice", "252 2.0.0 alice"),
			c("VRFY nobody", "252 2.0.0 nobody"),
			c("EXPN team", "502 5.5.1 EXPN command is disabled"),
			c("VRFY", "501 5.5.4 Syntax: VRFY address*"),
		}},
		{name: "enum reveals", profile: "enum", steps: []step{
			c("EHLO client.example", "250-lab.smtpsh.test*", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-EXPN", "250-ETRN",
				"250-STARTTLS", "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING"),
			c("VRFY alice", "250 2.0.0 <alice@lab.smtpsh.test>"),
			c("VRFY root", "250 2.0.0 <alice@lab.smtpsh.test>"),
			c("VRFY <bob@lab.smtpsh.test>", "250 2.0.0 <bob@lab.smtpsh.test>"),
			c("VRFY nobody", "550 5.1.1 <nobody@lab.smtpsh.test>: Recipient address rejected: User unknown in local recipient table"),
			c("VRFY team", "550 5.1.1 <team@lab.smtpsh.test>: That is a mailing list, not a user; try EXPN"),
			c("EXPN team", "250-2.0.0 <alice@lab.smtpsh.test>", "250 2.0.0 <bob@lab.smtpsh.test>"),
			c("EXPN admin", "250 2.0.0 <alice@lab.smtpsh.test>"),
			c("EXPN nobody", "550 5.1.1 <nobody@lab.smtpsh.test>: *"),
			c("VRFY x@example.org", "252 2.0.0 x@example.org"),
		}},
		{name: "open relay", profile: "open-relay", steps: []step{
			c("HELO client.example", "250 lab.smtpsh.test"),
			c("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
			c("RCPT TO:<x@example.org>", "250 2.1.5 Ok"),
		}},
		{name: "htb banner and EHLO", profile: "htb", banner: "220 ESMTP Server", steps: []step{
			c("EHLO client.example", "250-lab.smtpsh.test", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN",
				"250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING"),
			c("VRFY root", "252 2.0.0 root"),
			c("VRFY nosuchuser", "252 2.0.0 nosuchuser"),
			c("AUTH PLAIN", "503 5.5.1 Error: authentication not enabled"),
			c("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
			c("RCPT TO:<x@example.org>", "250 2.1.5 Ok"),
		}},
		{name: "hardened before TLS", profile: "hardened", steps: []step{
			c("EHLO client.example", "250-lab.smtpsh.test", "250-PIPELINING", "250-SIZE 10240000", "250-STARTTLS",
				"250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING"),
			c("VRFY alice", "502 5.5.1 VRFY command is disabled"),
			c("EXPN team", "502 5.5.1 EXPN command is disabled"),
			c("MAIL FROM:<a@example.org>", "530 5.7.0 Must issue a STARTTLS command first"),
			c("AUTH PLAIN", "530 5.7.0 Must issue a STARTTLS command first"),
		}},
		{name: "legacy", profile: "legacy", banner: "220 lab.smtpsh.test Sendmail 8.6.12/8.6.9 ready", steps: []step{
			c("EHLO client.example", "500 Error: command not recognized"),
			c("HELO client.example", "250 lab.smtpsh.test"),
			c("MAIL FROM:<a@example.org>", "250 Ok"),
			c("MAIL FROM:<a@example.org>", "503 Error: nested MAIL command"),
			c("RCPT TO:<bob@lab.smtpsh.test>", "250 Ok"),
			c("BDAT 3 LAST", "502 Error: command not implemented"),
			c("STARTTLS", "502 Error: command not implemented"),
			c("DATA", "354 End data with <CR><LF>.<CR><LF>"),
			s("hi\r\n.\r\n", "250 Ok: queued as *"),
		}},
		{name: "ETRN", profile: "default", steps: []step{
			c("ETRN lab.smtpsh.test", "503 5.5.1 Error: send HELO/EHLO first"),
			c("EHLO client.example", ehloDefault...),
			c("ETRN lab.smtpsh.test", "250 2.0.0 Queuing started"),
			c("ETRN #queue", "250 2.0.0 Queuing started"),
		}},
		{name: "ETRN 459", profile: "default", edit: func(p *Profile) { p.SMTP.ETRNCode = 459 }, steps: []step{
			c("HELO client.example", "250 lab.smtpsh.test"),
			c("ETRN lab.smtpsh.test", "459 4.3.0 <lab.smtpsh.test>: service unavailable"),
		}},
		{name: "554 greeting", profile: "default", edit: func(p *Profile) { p.SMTP.GreetingCode = 554; p.SMTP.Banner = "lab.smtpsh.test no SMTP service here" },
			banner: "554 lab.smtpsh.test no SMTP service here", steps: []step{
				c("HELO client.example", "503 5.5.1 Error: no SMTP service here"),
				c("QUIT", "221 2.0.0 Bye"),
			}},
		{name: "too many recipients", profile: "default", edit: func(p *Profile) { p.Limits.Recipients = 2 }, steps: []step{
			c("HELO client.example", "250 lab.smtpsh.test"),
			c("MAIL FROM:<>", "250 2.1.0 Ok"),
			c("RCPT TO:<alice@lab.smtpsh.test>", "250 2.1.5 Ok"),
			c("RCPT TO:<bob@lab.smtpsh.test>", "250 2.1.5 Ok"),
			c("RCPT TO:<root@lab.smtpsh.test>", "452 4.5.3 Error: too many recipients"),
		}},
		{name: "too many errors", profile: "default", edit: func(p *Profile) { p.Limits.MaxErrors = 3 }, steps: []step{
			c("FOO", "500 5.5.2 Error: command not recognized"),
			c("BAR", "500 5.5.2 Error: command not recognized"),
			c("BAZ", "500 5.5.2 Error: command not recognized", "421 4.7.0 lab.smtpsh.test Error: too many errors"),
		}},
		{name: "unknown recipients accepted", profile: "default", edit: func(p *Profile) { p.Policy.UnknownRecipients = UnknownAccept }, steps: []step{
			c("HELO client.example", "250 lab.smtpsh.test"),
			c("MAIL FROM:<>", "250 2.1.0 Ok"),
			c("RCPT TO:<nobody@lab.smtpsh.test>", "250 2.1.5 Ok"),
		}},
		{name: "pipelined batch answered in order", profile: "default", steps: []step{
			s(lines("EHLO client.example", "MAIL FROM:<a@example.org>", "RCPT TO:<alice@lab.smtpsh.test>", "RCPT TO:<x@example.org>",
				"RCPT TO:<bob@lab.smtpsh.test>", "DATA"),
				append(append([]string{}, ehloDefault...), "250 2.1.0 Ok", "250 2.1.5 Ok", relayDenied, "250 2.1.5 Ok",
					"354 End data with <CR><LF>.<CR><LF>")...),
			s(lines("Subject: pipelined", "", "body", ".", "MAIL FROM:<b@example.org>", "RCPT TO:<team@lab.smtpsh.test>", "RSET", "QUIT"),
				"250 2.0.0 Ok: queued as *", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok", "221 2.0.0 Bye"),
		}},
		{name: "DATA size limit then still usable", profile: "default", edit: func(p *Profile) { p.Limits.MessageSize = 2000 }, steps: []step{
			c("EHLO client.example", ehloDflt, "250-PIPELINING", "250-SIZE 2000", "250-VRFY", "250-ETRN", "250-STARTTLS",
				"250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING"),
			c("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
			c("RCPT TO:<alice@lab.smtpsh.test>", "250 2.1.5 Ok"),
			c("DATA", "354 End data with <CR><LF>.<CR><LF>"),
			s(strings.Repeat("0123456789012345678901234567890123456789\r\n", 100)+".\r\n", "552 5.3.4 Message size exceeds fixed limit"),
			c("RCPT TO:<alice@lab.smtpsh.test>", "503 5.5.1 Error: need MAIL command"),
			c("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
			c("RCPT TO:<alice@lab.smtpsh.test>", "250 2.1.5 Ok"),
			c("DATA", "354 End data with <CR><LF>.<CR><LF>"),
			s("small\r\n.\r\n", "250 2.0.0 Ok: queued as *"),
		}},
		{name: "long text line accepted by default", profile: "default", steps: []step{
			c("HELO client.example", "250 lab.smtpsh.test"),
			c("MAIL FROM:<>", "250 2.1.0 Ok"),
			c("RCPT TO:<bob@lab.smtpsh.test>", "250 2.1.5 Ok"),
			c("DATA", "354 End data with <CR><LF>.<CR><LF>"),
			s(strings.Repeat("y", 1500)+"\r\n.\r\n", "250 2.0.0 Ok: queued as *"),
		}},
		{name: "long text line rejected by knob", profile: "default", edit: func(p *Profile) { p.Limits.LongTextLines = "reject" }, steps: []step{
			c("HELO client.example", "250 lab.smtpsh.test"),
			c("MAIL FROM:<>", "250 2.1.0 Ok"),
			c("RCPT TO:<bob@lab.smtpsh.test>", "250 2.1.5 Ok"),
			c("DATA", "354 End data with <CR><LF>.<CR><LF>"),
			s("short\r\n"+strings.Repeat("y", 1500)+"\r\n.\r\n", "500 5.5.2 Error: message text line 2 is longer than 1000 octets"),
			c("NOOP", "250 2.0.0 Ok"),
		}},
		{name: "BDAT", profile: "default", steps: []step{
			c("EHLO client.example", ehloDefault...),
			s("BDAT 5\r\nhello", "503 5.5.1 Error: need MAIL command"),
			c("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
			s("BDAT 5\r\nhello", "503 5.5.1 Error: need RCPT command"),
			c("RCPT TO:<alice@lab.smtpsh.test>", "250 2.1.5 Ok"),
			s("BDAT 8\r\nSubject:", "250 2.0.0 Ok: 8 bytes"),
			c("DATA", "503 5.5.1 Error: DATA after BDAT"),
			s("BDAT 10 LAST\r\n x\r\n\r\nhi\r\n", "250 2.0.0 Ok: 18 bytes queued as *"),
			// A pipelined BDAT transaction with an empty last chunk.
			s("MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@lab.smtpsh.test>\r\nBDAT 4\r\nabcdBDAT 0 LAST\r\n",
				"250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok: 4 bytes", "250 2.0.0 Ok: 4 bytes queued as *"),
			c("BDAT x", "501 5.5.4 Syntax: BDAT count [LAST]*"),
		}},
		{name: "BDAT over the size limit", profile: "default", edit: func(p *Profile) { p.Limits.MessageSize = 10 }, steps: []step{
			c("HELO client.example", "250 lab.smtpsh.test"),
			c("MAIL FROM:<>", "250 2.1.0 Ok"),
			c("RCPT TO:<bob@lab.smtpsh.test>", "250 2.1.5 Ok"),
			s("BDAT 8\r\n12345678", "250 2.0.0 Ok: 8 bytes"),
			s("BDAT 8 LAST\r\n12345678", "552 5.3.4 Message size exceeds fixed limit"),
			c("NOOP", "250 2.0.0 Ok"),
		}},
		{name: "smuggling profile ends DATA at LF.LF", profile: "smuggling", steps: []step{
			c("HELO client.example", "250 lab.smtpsh.test"),
			c("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
			c("RCPT TO:<alice@lab.smtpsh.test>", "250 2.1.5 Ok"),
			c("DATA", "354 End data with <CR><LF>.<CR><LF>"),
			s("Subject: one\r\n\r\nfirst\n.\nMAIL FROM:<admin@lab.smtpsh.test>\r\nRCPT TO:<bob@lab.smtpsh.test>\r\nDATA\r\nSubject: smuggled\r\n\r\n.\r\n",
				"250 2.0.0 Ok: queued as *", "250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as *"),
			c("DATA", "503 5.5.1 Error: need MAIL command"),
		}},
		{name: "smuggling profile ends DATA at CR.CR", profile: "smuggling", steps: []step{
			c("HELO client.example", "250 lab.smtpsh.test"),
			c("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
			c("RCPT TO:<alice@lab.smtpsh.test>", "250 2.1.5 Ok"),
			c("DATA", "354 End data with <CR><LF>.<CR><LF>"),
			s("x\r.\rNOOP\r\n", "250 2.0.0 Ok: queued as *", "250 2.0.0 Ok"),
		}},
		{name: "strict server reads past LF.LF", profile: "default", steps: []step{
			c("HELO client.example", "250 lab.smtpsh.test"),
			c("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
			c("RCPT TO:<alice@lab.smtpsh.test>", "250 2.1.5 Ok"),
			c("DATA", "354 End data with <CR><LF>.<CR><LF>"),
			s("first\n.\nMAIL FROM:<admin@lab.smtpsh.test>\r\n.\r\n", "250 2.0.0 Ok: queued as *"),
			c("DATA", "503 5.5.1 Error: need MAIL command"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLab(t, tt.profile, labOptions{edit: tt.edit})
			cl := l.dial(t)
			banner := tt.banner
			if banner == "" {
				banner = "220 lab.smtpsh.test ESMTP smtpsh-lab"
			}
			cl.expect(banner)
			for _, st := range tt.steps {
				cl.send(st.send)
				cl.expect(st.want...)
			}
		})
	}
}

// TestDeliveredMessage checks what the store holds after a 250: the
// envelope, the recorded parameters, the unstuffed text and a Received:
// header.
func TestDeliveredMessage(t *testing.T) {
	l := startLab(t, "open-relay", labOptions{})
	cl := l.dial(t)
	cl.expect("220 *")
	cl.send(lines("EHLO client.example", "MAIL FROM:<a@example.org> BODY=8BITMIME SIZE=100 ENVID=e1", "RCPT TO:<team@lab.smtpsh.test> NOTIFY=NEVER",
		"RCPT TO:<root@lab.smtpsh.test>", "RCPT TO:<x@example.org>", "DATA"))
	cl.reply()
	cl.expect("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "354 *")
	cl.send("Subject: t\r\n\r\n..dotted\r\n.\r\n")
	got := cl.line()
	id, ok := strings.CutPrefix(got, "250 2.0.0 Ok: queued as ")
	if !ok {
		t.Fatalf("got %q", got)
	}
	alice := l.store.Mailbox("alice")
	bob := l.store.Mailbox("bob")
	relayed := l.store.Relayed()
	if len(alice) != 1 || len(bob) != 1 || len(relayed) != 1 {
		t.Fatalf("alice %d, bob %d, relayed %d messages; want 1 each (team and root both reach alice once)", len(alice), len(bob), len(relayed))
	}
	m := alice[0]
	if m.ID != id {
		t.Errorf("ID %q, reply said %q", m.ID, id)
	}
	if m.From != "a@example.org" || strings.Join(m.To, " ") != "team@lab.smtpsh.test root@lab.smtpsh.test x@example.org" || !m.Relayed {
		t.Errorf("envelope: from %q to %q relayed %v", m.From, m.To, m.Relayed)
	}
	if m.Params["BODY"] != "8BITMIME" || m.Params["SIZE"] != "100" || m.Params["ENVID"] != "e1" || m.Params["NOTIFY team@lab.smtpsh.test"] != "NEVER" {
		t.Errorf("params %v", m.Params)
	}
	data := string(m.Data)
	if !strings.HasPrefix(data, "Received: from client.example ([127.0.0.1])\r\n\tby lab.smtpsh.test (smtpsh-lab open-relay) with ESMTP id "+id+"; ") {
		t.Errorf("Received header: %q", data)
	}
	if !strings.HasSuffix(data, "\r\nSubject: t\r\n\r\n.dotted\r\n") {
		t.Errorf("text not unstuffed as sent: %q", data)
	}
}

// TestSTARTTLS checks the upgrade, the capability reset (RFC 3207 §4.2) and
// that plaintext pipelined behind STARTTLS is discarded (CVE-2011-0411).
func TestSTARTTLS(t *testing.T) {
	dir := t.TempDir()
	l := startLab(t, "default", labOptions{logDir: dir})
	cl := l.dial(t)
	cl.expect("220 *")
	cl.send("EHLO client.example\r\n")
	cl.expect(ehloDefault...)
	// The injected MAIL would be read as if sent over TLS by a vulnerable
	// server, and answered after the handshake.
	cl.send("STARTTLS\r\nMAIL FROM:<injected@example.org>\r\n")
	cl.expect("220 2.0.0 Ready to start TLS")
	cl.starttls(l.pool)
	cl.send("MAIL FROM:<a@example.org>\r\n")
	// Not "503 nested MAIL": the injected command was dropped; and EHLO
	// is needed again.
	cl.expect("503 5.5.1 Error: send HELO/EHLO first")
	cl.send("EHLO client.example\r\n")
	cl.expect(ehloDflt, "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN", "250-AUTH PLAIN LOGIN CRAM-MD5",
		"250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING")
	cl.send("STARTTLS\r\n")
	cl.expect("554 5.5.1 Error: TLS already active")
	cl.send("QUIT\r\n")
	cl.expect("221 2.0.0 Bye")
	cl.closed()
	tr := waitLog(t, dir)
	for _, want := range []string{"discarded 34 bytes of plaintext", "*: tls TLSv1.3", `cert="CN=lab.smtpsh.test`} {
		if !strings.Contains(tr, want) {
			t.Errorf("session log lacks %q:\n%s", want, tr)
		}
	}
}

// TestImplicitTLS checks RFC 8314 implicit TLS: the banner comes over TLS,
// STARTTLS is not offered, AUTH is.
func TestImplicitTLS(t *testing.T) {
	l := startLab(t, "default", labOptions{})
	conn, err := tlsDial(l.tlsAddr, l.pool)
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{t: t, conn: conn, br: newReader(conn)}
	t.Cleanup(func() { conn.Close() })
	cl.expect("220 lab.smtpsh.test ESMTP smtpsh-lab")
	cl.send("EHLO client.example\r\n")
	cl.expect(ehloDflt, "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN", "250-AUTH PLAIN LOGIN CRAM-MD5",
		"250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING")
}

// TestAUTH covers each mechanism with and without an initial response,
// cancelling, bad credentials and the TLS policy (RFC 4954).
func TestAUTH(t *testing.T) {
	plain := smtp.EncodePlain("", "alice", "wonderland")
	tests := []struct {
		name  string
		steps []step
	}{
		{"PLAIN with initial response", []step{c("AUTH PLAIN "+plain, "235 2.7.0 Authentication successful"),
			c("AUTH PLAIN "+plain, "503 5.5.1 Error: already authenticated")}},
		{"PLAIN without initial response", []step{c("AUTH PLAIN", "334 "), c(plain, "235 2.7.0 Authentication successful")}},
		{"PLAIN wrong password", []step{c("AUTH PLAIN "+smtp.EncodePlain("", "alice", "alice"), "535 5.7.8 Error: authentication failed: authentication failure")}},
		{"PLAIN other authorization identity", []step{c("AUTH PLAIN "+smtp.EncodePlain("bob", "alice", "wonderland"), "535 5.7.8 *")}},
		{"PLAIN cancelled", []step{c("AUTH PLAIN", "334 "), c("*", "501 5.7.0 Authentication aborted")}},
		{"PLAIN not base64", []step{c("AUTH PLAIN", "334 "), c("%%%", "501 5.5.2 Cannot decode response")}},
		{"LOGIN", []step{c("AUTH LOGIN", "334 VXNlcm5hbWU6"), c(smtp.EncodeLogin("bob"), "334 UGFzc3dvcmQ6"),
			c(smtp.EncodeLogin("builder"), "235 2.7.0 Authentication successful")}},
		{"LOGIN with initial response", []step{c("AUTH LOGIN "+smtp.EncodeLogin("bob"), "334 UGFzc3dvcmQ6"),
			c(smtp.EncodeLogin("builder"), "235 2.7.0 Authentication successful")}},
		{"LOGIN cancelled at the password", []step{c("AUTH LOGIN "+smtp.EncodeLogin("bob"), "334 UGFzc3dvcmQ6"),
			c("*", "501 5.7.0 Authentication aborted"), c("NOOP", "250 2.0.0 Ok")}},
		{"unknown mechanism", []step{c("AUTH DIGEST-MD5", "535 5.7.8 Error: authentication failed: Invalid authentication mechanism")}},
		{"in a transaction", []step{c("MAIL FROM:<>", "250 2.1.0 Ok"), c("AUTH PLAIN "+plain, "503 5.5.1 Error: MAIL transaction in progress")}},
		{"relay after AUTH", []step{c("AUTH PLAIN "+plain, "235 2.7.0 Authentication successful"), c("MAIL FROM:<alice@lab.smtpsh.test>", "250 2.1.0 Ok"),
			c("RCPT TO:<x@example.org>", "250 2.1.5 Ok")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLab(t, "default", labOptions{})
			cl := tlsSession(t, l)
			for _, st := range tt.steps {
				cl.send(st.send)
				cl.expect(st.want...)
			}
		})
	}
	t.Run("CRAM-MD5", func(t *testing.T) {
		l := startLab(t, "default", labOptions{})
		cl := tlsSession(t, l)
		cl.send("AUTH CRAM-MD5\r\n")
		ch, ok := strings.CutPrefix(cl.line(), "334 ")
		if !ok {
			t.Fatal("no 334 challenge")
		}
		resp, err := smtp.CRAMMD5Response(ch, "alice", "wonderland")
		if err != nil {
			t.Fatal(err)
		}
		cl.send(resp + "\r\n")
		cl.expect("235 2.7.0 Authentication successful")
	})
	t.Run("CRAM-MD5 wrong secret", func(t *testing.T) {
		l := startLab(t, "default", labOptions{})
		cl := tlsSession(t, l)
		cl.send("AUTH CRAM-MD5\r\n")
		ch, _ := strings.CutPrefix(cl.line(), "334 ")
		resp, _ := smtp.CRAMMD5Response(ch, "alice", "builder")
		cl.send(resp + "\r\n")
		cl.expect("535 5.7.8 *")
	})
	t.Run("before TLS", func(t *testing.T) {
		l := startLab(t, "default", labOptions{})
		cl := l.dial(t)
		cl.expect("220 *")
		cl.send(lines("EHLO client.example", "AUTH PLAIN "+plain))
		cl.reply()
		cl.expect("538 5.7.11 Encryption required for requested authentication mechanism")
	})
	t.Run("allowed without TLS by the profile", func(t *testing.T) {
		l := startLab(t, "default", labOptions{noTLS: true, edit: func(p *Profile) { p.Auth.TLSOnly = false }})
		cl := l.dial(t)
		cl.expect("220 *")
		cl.send(lines("EHLO client.example", "AUTH PLAIN "+plain))
		if r := cl.reply(); !contains(r, "250-AUTH PLAIN LOGIN CRAM-MD5") {
			t.Errorf("EHLO %q lacks AUTH", r)
		}
		cl.expect("235 2.7.0 Authentication successful")
	})
}

func contains(ls []string, l string) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

// tlsSession connects, upgrades with STARTTLS and sends EHLO.
func tlsSession(t *testing.T, l *lab) *client {
	t.Helper()
	cl := l.dial(t)
	cl.expect("220 *")
	cl.send("EHLO client.example\r\nSTARTTLS\r\n")
	cl.reply()
	cl.expect("220 2.0.0 Ready to start TLS")
	cl.starttls(l.pool)
	cl.send("EHLO client.example\r\n")
	cl.reply()
	return cl
}

// TestHardened walks the hardened profile: TLS, then AUTH, then
// greylisting, then the rate limit.
func TestHardened(t *testing.T) {
	l := startLab(t, "hardened", labOptions{edit: func(p *Profile) { p.Limits.ErrorDelay = time.Millisecond; p.Limits.MessagesPerMinute = 2 }})
	cl := tlsSession(t, l)
	cl.send("MAIL FROM:<a@example.org>\r\n")
	cl.expect("530 5.7.0 Authentication required")
	cl.send("AUTH PLAIN " + smtp.EncodePlain("", "bob", "builder") + "\r\n")
	cl.expect("235 2.7.0 Authentication successful")
	cl.send(lines("MAIL FROM:<bob@lab.smtpsh.test>", "RCPT TO:<alice@lab.smtpsh.test>"))
	cl.expect("250 2.1.0 Ok", "450 4.7.1 <alice@lab.smtpsh.test>: Recipient address rejected: Greylisted, try again in 60 seconds")
	l.clock.Advance(30 * time.Second)
	cl.send("RCPT TO:<alice@lab.smtpsh.test>\r\n")
	cl.expect("450 4.7.1 <alice@lab.smtpsh.test>: Recipient address rejected: Greylisted, try again in 30 seconds")
	l.clock.Advance(31 * time.Second)
	cl.send("RCPT TO:<alice@lab.smtpsh.test>\r\nRSET\r\n")
	cl.expect("250 2.1.5 Ok", "250 2.0.0 Ok")
	// The limit is 2 MAILs a minute; the first MAIL above is more than
	// a minute old now.
	cl.send(lines("MAIL FROM:<bob@lab.smtpsh.test>", "RSET", "MAIL FROM:<bob@lab.smtpsh.test>", "RSET", "MAIL FROM:<bob@lab.smtpsh.test>"))
	cl.expect("250 2.1.0 Ok", "250 2.0.0 Ok", "250 2.1.0 Ok", "250 2.0.0 Ok", "450 4.7.1 Error: too much mail from 127.0.0.1")
	l.clock.Advance(time.Minute)
	cl.send("MAIL FROM:<bob@lab.smtpsh.test>\r\n")
	cl.expect("250 2.1.0 Ok")
}

// TestTarpit checks that error replies past soft_errors are delayed.
func TestTarpit(t *testing.T) {
	l := startLab(t, "default", labOptions{edit: func(p *Profile) { p.Limits.SoftErrors = 2; p.Limits.ErrorDelay = 150 * time.Millisecond }})
	cl := l.dial(t)
	cl.expect("220 *")
	start := time.Now()
	cl.send("FOO\r\n")
	cl.expect("500 *")
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("first error took %v; the tarpit starts at the second", d)
	}
	start = time.Now()
	cl.send("FOO\r\n")
	cl.expect("500 *")
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("second error took %v, want at least the 150ms error_delay", d)
	}
}

// TestTimeout checks that an idle client is cut with 421 4.4.2.
func TestTimeout(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before string
	}{
		{"waiting for a command", ""},
		{"in DATA", "HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<bob@lab.smtpsh.test>\r\nDATA\r\npartial line"},
		{"in a BDAT chunk", "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bob@lab.smtpsh.test>\r\nBDAT 100\r\nonly some"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startLab(t, "default", labOptions{edit: func(p *Profile) {
				p.Limits.CommandTimeout = 100 * time.Millisecond
				p.Limits.DataTimeout = 100 * time.Millisecond
			}})
			cl := l.dial(t)
			cl.expect("220 *")
			cl.send(tc.before)
			for {
				l := cl.line()
				if strings.HasPrefix(l, "421 ") {
					if l != "421 4.4.2 lab.smtpsh.test Error: timeout exceeded" {
						t.Errorf("got %q", l)
					}
					break
				}
			}
			cl.closed()
		})
	}
}

// TestShutdown checks that Shutdown answers idle sessions with 421 and that
// Serve returns.
func TestShutdown(t *testing.T) {
	l := startLab(t, "default", labOptions{})
	cl := l.dial(t)
	cl.expect("220 *")
	cl.send("HELO c\r\n")
	cl.expect("250 *")
	waitFor(t, func() bool { return l.srv.ActiveSessions() == 1 })
	if err := l.srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	cl.expect("421 4.3.2 lab.smtpsh.test Service shutting down, closing transmission channel")
	cl.closed()
	if n := l.srv.ActiveSessions(); n != 0 {
		t.Errorf("%d sessions after Shutdown", n)
	}
}

// TestTwoServers runs two profiles side by side: no shared state.
func TestTwoServers(t *testing.T) {
	a := startLab(t, "enum", labOptions{})
	b := startLab(t, "hardened", labOptions{})
	ca, cb := a.dial(t), b.dial(t)
	ca.expect("220 *")
	cb.expect("220 *")
	ca.send("HELO c\r\nVRFY bob\r\n")
	cb.send("HELO c\r\nVRFY bob\r\n")
	ca.expect("250 *", "250 2.0.0 <bob@lab.smtpsh.test>")
	cb.expect("250 *", "502 5.5.1 VRFY command is disabled")
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSessionLogRedacts checks that the session log hides AUTH secrets
// (transcripts.Redact) and records the message text dot-stuffed.
func TestSessionLogRedacts(t *testing.T) {
	dir := t.TempDir()
	l := startLab(t, "default", labOptions{logDir: dir})
	cl := tlsSession(t, l)
	cl.send("AUTH LOGIN\r\n")
	cl.expect("334 VXNlcm5hbWU6")
	cl.send(smtp.EncodeLogin("alice") + "\r\n")
	cl.expect("334 UGFzc3dvcmQ6")
	cl.send(smtp.EncodeLogin("wonderland") + "\r\n")
	cl.expect("235 2.7.0 Authentication successful")
	cl.send(lines("MAIL FROM:<alice@lab.smtpsh.test>", "RCPT TO:<bob@lab.smtpsh.test>", "DATA"))
	cl.expect("250 *", "250 *", "354 *")
	cl.send("..dot\r\n.\r\nQUIT\r\n")
	cl.expect("250 *", "221 *")
	tr := waitLog(t, dir)
	if strings.Contains(tr, smtp.EncodeLogin("wonderland")) || strings.Contains(tr, smtp.EncodeLogin("alice")) {
		t.Errorf("secrets in the session log:\n%s", tr)
	}
	for _, want := range []string{"C: <redacted>", "D: ..dot", "*: note authenticated as alice with LOGIN"} {
		if !strings.Contains(tr, want) {
			t.Errorf("session log lacks %q:\n%s", want, tr)
		}
	}
}
