package smtp_test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/peertest"
	"github.com/smtpsh/smtpsh/internal/smtp"
)

// dottyBody has every line shape dot-stuffing must get right (RFC 5321
// §4.5.2): a leading dot, two dots, a lone dot that would end DATA unstuffed.
var dottyBody = []string{
	"First line.",
	".hidden line starting with a dot",
	"..two dots",
	".",
	"after a lone dot",
	"last line",
}

// TestPeerSwaks has swaks (a real, widely used SMTP client) authenticate with
// each SASL mechanism and send a message whose body needs dot-stuffing. The
// server side is this package: every command swaks sends must parse strictly,
// the credentials must decode to what swaks was given, and the unstuffed body
// must equal the file swaks sent.
func TestPeerSwaks(t *testing.T) {
	swaks := peertest.Program(t, "swaks")
	const user, pass = "alice@peer.test", "s3cret p@ss"
	bodyFile := filepath.Join(t.TempDir(), "body.txt")
	if err := os.WriteFile(bodyFile, []byte(strings.Join(dottyBody, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
		t.Run(mech, func(t *testing.T) {
			s := startPeerServer(t, user, pass)
			host, port, _ := net.SplitHostPort(s.addr())
			out, err := exec.Command(swaks, "--server", host, "--port", port, "--ehlo", "client.test",
				"--from", "alice@peer.test", "--to", "bob@peer.test",
				"--auth", mech, "--auth-user", user, "--auth-password", pass,
				"--body", bodyFile, "--timeout", "10").CombinedOutput()
			cmds, errs, auths, bodies, warns := s.snapshot()
			if err != nil {
				t.Fatalf("swaks failed: %v\n%s\nparse errors: %q", err, out, errs)
			}
			if len(errs) > 0 {
				t.Errorf("commands from swaks that did not parse:\n%s", strings.Join(errs, "\n"))
			}
			want := []peerAuth{{Mechanism: mech, User: user, OK: true}}
			if !slices.Equal(auths, want) {
				t.Errorf("AUTH decoded as %+v, want %+v", auths, want)
			}
			verbs := make([]smtp.Verb, len(cmds))
			for i, c := range cmds {
				verbs[i] = c.Verb
			}
			if wantVerbs := []smtp.Verb{smtp.EHLO, smtp.AUTH, smtp.MAIL, smtp.RCPT, smtp.DATA, smtp.QUIT}; !slices.Equal(verbs, wantVerbs) {
				t.Errorf("verbs %v, want %v", verbs, wantVerbs)
			}
			if len(cmds) > 3 && (cmds[2].Path.Mailbox.String() != "alice@peer.test" || cmds[3].Path.Mailbox.String() != "bob@peer.test") {
				t.Errorf("paths %q and %q, want alice@peer.test and bob@peer.test", cmds[2].Path.Mailbox, cmds[3].Path.Mailbox)
			}
			if len(bodies) != 1 {
				t.Fatalf("got %d messages, want 1", len(bodies))
			}
			body, err := messageBody(bodies[0])
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.TrimRight(string(body), "\r\n"), strings.Join(dottyBody, "\r\n"); got != want {
				t.Errorf("unstuffed body\n%q\nwant\n%q", got, want)
			}
			if len(warns) > 0 {
				t.Errorf("swaks' clean DATA gave warnings: %v", warns)
			}
		})
	}
}

// smtplibScript drives Python's smtplib: it forces one SASL mechanism, then
// sends a message with MAIL and RCPT parameters. smtplib dot-stuffs and turns
// bare LF into CRLF itself.
const smtplibScript = `
import smtplib, sys
host, port, mech, user, password, body = sys.argv[1:7]
s = smtplib.SMTP(host, int(port), local_hostname="client.test", timeout=10)
s.ehlo()
s.user, s.password = user, password
s.auth(mech, {"PLAIN": s.auth_plain, "LOGIN": s.auth_login, "CRAM-MD5": s.auth_cram_md5}[mech],
       initial_response_ok=(mech != "LOGIN"))
msg = "From: alice@peer.test\nTo: bob@peer.test\nSubject: smtplib\n\n" + body
# a str message: smtplib turns its bare LFs into CRLF (bytes are sent as they are)
s.sendmail("alice@peer.test", ["bob@peer.test"], msg,
           mail_options=["BODY=8BITMIME"],
           rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob+2Bx@peer.test"])
s.quit()
`

// TestPeerSmtplib is TestPeerSwaks with Python's smtplib as the client, and
// ESMTP parameters on MAIL and RCPT that the parser must decode to the values
// smtplib was given. smtplib adds SIZE itself (the message length after its
// CRLF conversion) because the server advertises SIZE.
func TestPeerSmtplib(t *testing.T) {
	python := peertest.Program(t, "python3")
	const user, pass = "bob", "tanstaaftanstaaf"
	body := strings.Join(dottyBody, "\n") + "\n"
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
		t.Run(mech, func(t *testing.T) {
			s := startPeerServer(t, user, pass)
			host, port, _ := net.SplitHostPort(s.addr())
			out, err := exec.Command(python, "-c", smtplibScript, host, port, mech, user, pass, body).CombinedOutput()
			cmds, errs, auths, bodies, warns := s.snapshot()
			if err != nil {
				t.Fatalf("smtplib failed: %v\n%s\nparse errors: %q", err, out, errs)
			}
			if len(errs) > 0 {
				t.Errorf("commands from smtplib that did not parse:\n%s", strings.Join(errs, "\n"))
			}
			if want := []peerAuth{{Mechanism: mech, User: user, OK: true}}; !slices.Equal(auths, want) {
				t.Errorf("AUTH decoded as %+v, want %+v", auths, want)
			}
			var mail, rcpt *smtp.Command
			for _, c := range cmds {
				switch c.Verb {
				case smtp.MAIL:
					mail = c
				case smtp.RCPT:
					rcpt = c
				}
			}
			if mail == nil || rcpt == nil {
				t.Fatalf("no MAIL or RCPT among %d commands", len(cmds))
			}
			msg := "From: alice@peer.test\nTo: bob@peer.test\nSubject: smtplib\n\n" + body
			msgLen := len(strings.ReplaceAll(msg, "\n", "\r\n"))
			if size, ok := mail.Params.Size(); !ok || size != uint64(msgLen) {
				t.Errorf("SIZE = %d, %v; want %d", size, ok, msgLen)
			}
			if b, ok := mail.Params.Body(); !ok || b != "8BITMIME" {
				t.Errorf("BODY = %q, %v; want 8BITMIME", b, ok)
			}
			if n, ok := rcpt.Params.Notify(); !ok || n.String() != "SUCCESS,FAILURE" {
				t.Errorf("NOTIFY = %v, %v; want SUCCESS,FAILURE", n, ok)
			}
			// ORCPT's address is xtext (RFC 3461 §4.2): "+2B" is "+".
			if typ, addr, ok := rcpt.Params.ORCPT(); !ok || !strings.EqualFold(typ, "rfc822") || addr != "bob+x@peer.test" {
				t.Errorf("ORCPT = %q %q %v; want rfc822 bob+x@peer.test", typ, addr, ok)
			}
			if len(bodies) != 1 {
				t.Fatalf("got %d messages, want 1", len(bodies))
			}
			got, err := messageBody(bodies[0])
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.TrimRight(string(got), "\r\n"), strings.Join(dottyBody, "\r\n"); got != want {
				t.Errorf("unstuffed body\n%q\nwant\n%q", got, want)
			}
			if len(warns) > 0 {
				t.Errorf("smtplib's clean DATA gave warnings: %v", warns)
			}
		})
	}
}

// postfixSession is a connection to the Postfix lab read with ReplyReader.
type postfixSession struct {
	t    *testing.T
	conn net.Conn
	rr   *smtp.ReplyReader
}

func dialPostfix(t *testing.T) *postfixSession {
	t.Helper()
	conn, err := net.DialTimeout("tcp", peertest.Postfix(t), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	return &postfixSession{t: t, conn: conn, rr: smtp.NewReplyReader(conn, nil)}
}

func (p *postfixSession) read() *smtp.Reply {
	p.t.Helper()
	r, err := p.rr.ReadReply()
	if err != nil {
		p.t.Fatalf("reading Postfix's reply: %v", err)
	}
	if len(r.Warnings) > 0 {
		p.t.Errorf("Postfix's reply %q gave warnings %v", r.String(), r.Warnings)
	}
	return r
}

// send writes a command line and reads the reply.
func (p *postfixSession) send(line string) *smtp.Reply {
	p.t.Helper()
	if _, err := p.conn.Write([]byte(line + "\r\n")); err != nil {
		p.t.Fatal(err)
	}
	return p.read()
}

// TestPeerPostfixSession reads a real Postfix's replies: the EHLO capability
// set must be the one postfix-lab.sh configures, and the codes must be what
// Postfix documents for VRFY, relaying and AUTH. AUTH PLAIN and LOGIN are
// encoded with this package and checked by Dovecot, the independent truth.
func TestPeerPostfixSession(t *testing.T) {
	p := dialPostfix(t)
	if r := p.read(); r.Code != 220 || !strings.Contains(r.Text(), "ESMTP") {
		t.Fatalf("banner %q, want 220 … ESMTP", r.String())
	}
	ehlo := p.send("EHLO client.smtpsh.test")
	caps, warns := smtp.ParseEHLO(ehlo)
	if len(warns) > 0 {
		t.Errorf("EHLO warnings: %v", warns)
	}
	// The capability set postfix-lab.sh documents in its header.
	want := []string{"PIPELINING", "SIZE", "VRFY", "ETRN", "STARTTLS", "AUTH", "ENHANCEDSTATUSCODES",
		"8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"}
	if got := caps.Keywords(); !slices.Equal(got, want) {
		t.Errorf("capabilities %v, want %v", got, want)
	}
	if size, ok := caps.Size(); !ok || size != 52428800 {
		t.Errorf("SIZE = %d, %v; want 52428800", size, ok)
	}
	if got := caps.AuthMechanisms(); !slices.Equal(got, []string{"PLAIN", "LOGIN"}) {
		t.Errorf("AUTH mechanisms %v, want [PLAIN LOGIN]", got)
	}

	tests := []struct {
		line     string
		code     int
		enhanced string
	}{
		{"VRFY alice", 252, "2.0.0"},
		{"VRFY nobody-here", 550, "5.1.1"},
		{"MAIL FROM:<student@smtpsh.test>", 250, "2.1.0"},
		{"RCPT TO:<victim@example.org>", 554, "5.7.1"}, // Relay access denied
		{"RCPT TO:<nobody-here@smtpsh-lab.local>", 550, "5.1.1"},
		{"RSET", 250, "2.0.0"},
		{"NOOP", 250, "2.0.0"},
	}
	for _, tc := range tests {
		r := p.send(tc.line)
		if r.Code != tc.code || r.Enhanced.String() != tc.enhanced {
			t.Errorf("%s: got %d %s (%q), want %d %s", tc.line, r.Code, r.Enhanced, r.String(), tc.code, tc.enhanced)
		}
	}
	if r := p.send("AUTH PLAIN " + smtp.EncodePlain("", "alice", "wrong")); r.Code != 535 {
		t.Errorf("AUTH PLAIN with a wrong password: %q, want 535", r.String())
	}
	if r := p.send("AUTH PLAIN " + smtp.EncodePlain("", "alice", "alicepass")); r.Code != 235 || r.Enhanced.String() != "2.7.0" {
		t.Errorf("AUTH PLAIN alice: %q, want 235 2.7.0", r.String())
	}
	if r := p.send("QUIT"); r.Code != 221 {
		t.Errorf("QUIT: %q, want 221", r.String())
	}
}

// TestPeerPostfixAuthLogin walks AUTH LOGIN against Postfix+Dovecot: the
// prompts decode to the well-known "Username:"/"Password:" and our encoding
// of the answers is accepted.
func TestPeerPostfixAuthLogin(t *testing.T) {
	p := dialPostfix(t)
	p.read()
	p.send("EHLO client.smtpsh.test")
	r := p.send("AUTH LOGIN")
	if r.Code != 334 {
		t.Fatalf("AUTH LOGIN: %q, want 334", r.String())
	}
	if prompt, _, err := smtp.ParseLoginPrompt(r.Text()); err != nil || prompt != smtp.LoginUsername {
		t.Errorf("first prompt %q decoded as %v, %v; want Username", r.Text(), prompt, err)
	}
	r = p.send(smtp.EncodeLogin("bob"))
	if prompt, _, err := smtp.ParseLoginPrompt(r.Text()); r.Code != 334 || err != nil || prompt != smtp.LoginPassword {
		t.Errorf("second prompt %q decoded as %v, %v; want 334 Password", r.String(), prompt, err)
	}
	if r = p.send(smtp.EncodeLogin("bobpass")); r.Code != 235 {
		t.Errorf("AUTH LOGIN bob: %q, want 235", r.String())
	}
}

// TestPeerPostfixAgreesOnSyntax sends commands to Postfix and parses them
// with ParseCommand: where Postfix refuses a line for its syntax (500, 501;
// 521 for a BDAT it cannot parse),
// the strict parser must refuse it too; where Postfix does not recognise a
// parameter (555), the parsed command must hold a parameter smtpsh does not
// know either; where Postfix accepts a line, the lenient parser must too.
func TestPeerPostfixAgreesOnSyntax(t *testing.T) {
	p := dialPostfix(t)
	p.read()
	p.send("EHLO client.smtpsh.test")
	lines := []string{
		"MAIL FROM:<a@smtpsh.test> SIZE=1000 BODY=8BITMIME",
		"RCPT TO:<alice@smtpsh-lab.local> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;alice@smtpsh-lab.local",
		"RSET",
		"MAIL FROM:<a@smtpsh.test> SIZE=abc",
		"MAIL FROM:<a@smtpsh.test> BODY=9BIT",
		"MAIL FROM:<a@smtpsh.test> RET=EVERYTHING",
		"MAIL FROM:<>",
		"RCPT TO:<bob@smtpsh-lab.local> NOTIFY=NEVER,SUCCESS",
		"RCPT TO:<alice@smtpsh-lab.local>",
		"RSET",
		"mail from:<x@smtpsh.test>",
		"RSET",
		"MAIL FROM:<\"quoted local\"@smtpsh.test>",
		"RSET",
		"MAIL FROM:<a@[127.0.0.1]>",
		"RSET",
		"NOOP hello there",
		"MAIL FROM:<a@smtpsh.test> SMTPUTF8",
		"RSET",
		"MAIL FROM:<a@b.test> FROB=1",
		"MAIL FROM: <spaced@smtpsh.test>",
		"RSET",
		"MAIL FROM:bare@smtpsh.test",
		"RCPT TO:<Postmaster>",
		"RSET",
		"HELO",
		"EHLO",
		"VRFY",
		"RSET now",
		"NOOP",
		"AUTH",
		"ETRN",
		// Last: Postfix answers a BDAT it cannot parse with 521 and closes,
		// since it cannot know where the chunk ends.
		"BDAT x",
	}
	for _, line := range lines {
		r := p.send(line)
		strict, strictErr := smtp.ParseCommand(line)
		_, lenientErr := smtp.ParseOptions{}.ParseCommand(line)
		switch {
		case (r.Code == 500 || r.Code == 501 || r.Code == 521) && strictErr == nil:
			t.Errorf("%s: Postfix refused it (%q) but ParseCommand accepted it", line, r.String())
		case r.Code == 555 && strictErr == nil && !slices.ContainsFunc(strict.Params, func(p smtp.Param) bool { return !p.Known() }):
			t.Errorf("%s: Postfix does not recognise a parameter (%q) but ParseCommand knows them all", line, r.String())
		case r.Code/100 == 2 && lenientErr != nil:
			t.Errorf("%s: Postfix accepted it (%q) but the lenient parser refused it: %v", line, r.String(), lenientErr)
		}
	}
}

// TestPeerPostfixDelivery sends a message that needs dot-stuffing through
// NewDotWriter to Postfix and reads the delivered mailbox: Postfix unstuffs
// it, so the delivered body must equal the original lines.
func TestPeerPostfixDelivery(t *testing.T) {
	p := dialPostfix(t)
	p.read()
	p.send("EHLO client.smtpsh.test")
	marker := "smtpsh-dotstuff-" + time.Now().Format("150405.000000000")
	p.send("MAIL FROM:<student@smtpsh.test>")
	if r := p.send("RCPT TO:<bob@smtpsh-lab.local>"); r.Code != 250 {
		t.Fatalf("RCPT: %q", r.String())
	}
	if r := p.send("DATA"); r.Code != 354 {
		t.Fatalf("DATA: %q", r.String())
	}
	w := smtp.NewDotWriter(p.conn)
	msg := "Subject: " + marker + "\n\n" + strings.Join(dottyBody, "\n") + "\n" + marker + "\n"
	if _, err := w.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if r := p.read(); r.Code != 250 {
		t.Fatalf("end of DATA: %q", r.String())
	}
	p.send("QUIT")
	// Postfix's local delivery appends to /var/mail/bob (mbox, which quotes
	// "From " lines only; dots are untouched).
	var mbox []byte
	for i := 0; i < 100; i++ {
		mbox, _ = os.ReadFile("/var/mail/bob")
		if bytes.Contains(mbox, []byte(marker+"\n"+marker)) || bytes.Count(mbox, []byte(marker)) >= 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	i := bytes.Index(mbox, []byte("Subject: "+marker))
	if i < 0 {
		t.Fatalf("message %s not delivered to /var/mail/bob", marker)
	}
	_, body, _ := strings.Cut(string(mbox[i:]), "\n\n")
	body, _, _ = strings.Cut(body, marker)
	if want := strings.Join(dottyBody, "\n") + "\n"; body != want {
		t.Errorf("delivered body\n%q\nwant\n%q", body, want)
	}
}
