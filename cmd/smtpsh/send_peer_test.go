package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/peertest"
	"github.com/smtpsh/smtpsh/internal/send"
)

// postfixDomain is the Postfix lab's local domain (postfix-lab.sh).
const postfixDomain = "smtpsh-lab.local"

// marker returns a string no earlier message holds, to find ours in a
// mailbox.
func marker(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "smtpsh-send-" + hex.EncodeToString(b)
}

// mboxMessage waits for the message whose Subject holds mark in
// /var/mail/user (Postfix's local delivery, mbox: messages start with a
// "From " line, and body lines starting "From " get a ">") and returns it
// with CRLF line ends.
func mboxMessage(t *testing.T, user, mark string) []byte {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile("/var/mail/" + user)
		if i := bytes.Index(b, []byte("Subject: "+mark)); i >= 0 {
			start := bytes.LastIndex(b[:i], []byte("\nFrom "))
			if start < 0 {
				start = 0
			} else {
				start++
			}
			start += bytes.IndexByte(b[start:], '\n') + 1 // the "From " line
			end := bytes.Index(b[i:], []byte("\n\nFrom "))
			msg := b[start:]
			if end >= 0 {
				msg = b[start : i+end+1]
			}
			return bytes.ReplaceAll(msg, []byte("\n"), []byte("\r\n"))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message %q in /var/mail/%s", mark, user)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPeerSendPostfix sends to the Postfix lab with each protocol flag and
// reads what Postfix delivered: attachments byte for byte, BDAT, DSN,
// SMTPUTF8, STARTTLS, AUTH PLAIN and LOGIN.
func TestPeerSendPostfix(t *testing.T) {
	pf := peertest.Postfix(t)
	dir := t.TempDir()
	bin := make([]byte, 200000)
	if _, err := rand.Read(bin); err != nil {
		t.Fatal(err)
	}
	text := []byte("une ligne en français\n.dot first\n" + strings.Repeat("x", 2000) + "\n")
	binFile, textFile := filepath.Join(dir, "blob.dat"), filepath.Join(dir, "notes.txt")
	for name, b := range map[string][]byte{binFile: bin, textFile: text} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("SMTPSH_PASSWORD", "alicepass")
	tests := []struct {
		name   string
		args   []string
		output []string
		check  func(t *testing.T, msg []byte)
	}{
		{name: "attachments", args: []string{"--attach", binFile, "--attach", textFile}, check: func(t *testing.T, msg []byte) {
			parts := attachmentParts(t, msg)
			if !bytes.Equal(parts["blob.dat"], bin) {
				t.Errorf("blob.dat: %d bytes arrived, not the %d sent", len(parts["blob.dat"]), len(bin))
			}
			if got := bytes.ReplaceAll(parts["notes.txt"], []byte("\r\n"), []byte("\n")); !bytes.Equal(got, text) {
				t.Errorf("notes.txt arrived as %q", got)
			}
		}},
		{name: "bdat", args: []string{"--bdat", "--body", ".leading dot\nend"}, output: []string{"C: BDAT ", " LAST", "queued as"}, check: func(t *testing.T, msg []byte) {
			if !bytes.Contains(msg, []byte("\r\n.leading dot\r\nend\r\n")) {
				t.Errorf("body:\n%s", msg)
			}
		}},
		{name: "dsn", args: []string{"--notify", "success", "--ret", "hdrs", "--envid", "env-1"}, output: []string{"NOTIFY=SUCCESS", "RET=HDRS ENVID=env-1", "S: 250 2.1.5 Ok"}},
		{name: "smtputf8", args: []string{"--smtputf8", "--from", "élève@example.org", "--body", "ünïcödé"}, output: []string{" SMTPUTF8", "S: 250 2.1.0 Ok"}, check: func(t *testing.T, msg []byte) {
			if !bytes.Contains(msg, []byte("From: <élève@example.org>")) && !bytes.Contains(msg, []byte("From: élève@example.org")) {
				t.Errorf("header:\n%s", msg)
			}
		}},
		{name: "starttls and auth plain", args: []string{"--starttls", "--insecure", "--auth", "plain", "--user", "alice"}, output: []string{"S: 220 2.0.0 Ready to start TLS", "S: 235 2.7.0"}},
		{name: "auth login", args: []string{"--auth", "login", "--user", "alice", "--pipeline"}, output: []string{"C: AUTH LOGIN", "S: 235 2.7.0", "pipeline"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mark := marker(t)
			args := append([]string{"--server", pf, "--to", "alice@" + postfixDomain, "--subject", mark}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--from") {
				args = append(args, "--from", "student@example.org")
			}
			out, err := runSendCmd(t, "", args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, w := range tc.output {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			msg := mboxMessage(t, "alice", mark)
			if tc.check != nil {
				tc.check(t, msg)
			}
		})
	}
}

// TestPeerSendQuitAfterPostfix: --quit-after at each phase against
// Postfix: the conversation ends there with QUIT answered 221.
func TestPeerSendQuitAfterPostfix(t *testing.T) {
	pf := peertest.Postfix(t)
	t.Setenv("SMTPSH_PASSWORD", "alicepass")
	for _, phase := range []string{"connect", "banner", "ehlo", "tls", "auth", "mail", "rcpt", "data", "dot"} {
		t.Run(phase, func(t *testing.T) {
			out, err := runSendCmd(t, "", "--server", pf, "--starttls", "--insecure", "--auth", "plain", "--user", "alice",
				"--from", "student@example.org", "--to", "alice@"+postfixDomain, "--quit-after", phase, "--json")
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var s send.Summary
			if err := json.Unmarshal([]byte(out), &s); err != nil {
				t.Fatal(err)
			}
			last := s.Commands[len(s.Commands)-1]
			if phase == "data" {
				if last.Code != 354 {
					t.Errorf("last %+v, want DATA 354", last)
				}
				return
			}
			if last.Verb != "QUIT" || last.Code != 221 {
				t.Errorf("last %+v, want QUIT 221", last)
			}
			want := map[string]string{"connect": "", "banner": "", "ehlo": "STARTTLS", "tls": "EHLO", "auth": "AUTH", "mail": "MAIL", "rcpt": "RCPT", "dot": "."}[phase]
			// The command before QUIT, skipping the STARTTLS that --quit-after
			// ehlo stops short of.
			before := s.Commands[len(s.Commands)-2]
			if phase == "ehlo" {
				for _, c := range s.Commands {
					if c.Verb == "STARTTLS" {
						t.Errorf("STARTTLS sent with --quit-after ehlo")
					}
				}
				want = "EHLO"
			}
			if string(before.Verb) != want {
				t.Errorf("the command before QUIT is %+v, want %s", before, want)
			}
		})
	}
}

// swaksConversation reads swaks' output (" -> " and "<-  " lines, "~"
// under TLS, "<** " for a reply it takes as an error) into the client
// verbs it sent and the reply codes it got: message text, between a 354
// and ".", is no command, and a line after a 334 is a SASL response,
// counted as AUTH.
func swaksConversation(out string) (verbs []string, codes []string) {
	inData, sasl := false, false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, " -> "), strings.HasPrefix(l, " ~> "):
			c := l[4:]
			switch {
			case inData:
				if c == "." {
					inData = false
					verbs = append(verbs, ".")
				}
			case sasl:
				verbs = append(verbs, "AUTH")
				sasl = false
			default:
				verb, _, _ := strings.Cut(c, " ")
				verbs = append(verbs, strings.ToUpper(verb))
			}
		case strings.HasPrefix(l, "<-  "), strings.HasPrefix(l, "<~  "), strings.HasPrefix(l, "<** "), strings.HasPrefix(l, "<~* "):
			r := l[4:]
			if len(r) >= 4 && r[3] == '-' {
				continue
			}
			code := r[:min(3, len(r))]
			codes = append(codes, code)
			inData = inData || code == "354"
			sasl = code == "334"
		}
	}
	return verbs, codes
}

// smtpshConversation is the same from smtpsh's --json summary. LMTP's
// replies to one end of data (RFC 2033 §4.2) are one exchange each, with
// the same command: the command counts once.
func smtpshConversation(s send.Summary) (verbs []string, codes []string) {
	for i, c := range s.Commands {
		again := c.Recipient != "" && i > 0 && s.Commands[i-1].Recipient != "" && s.Commands[i-1].Command == c.Command
		if c.Command != "" && !again {
			verbs = append(verbs, string(c.Verb))
		}
		if c.Code != 0 {
			codes = append(codes, fmt.Sprint(c.Code))
		}
	}
	return verbs, codes
}

// TestPeerSendSwaks runs smtpsh send and swaks on the same transactions
// against Postfix: both conversations carry the same commands and get the
// same reply codes.
func TestPeerSendSwaks(t *testing.T) {
	pf := peertest.Postfix(t)
	swaks := peertest.Program(t, "swaks")
	host, port, _ := net.SplitHostPort(pf)
	t.Setenv("SMTPSH_PASSWORD", "alicepass")
	base := []string{"--ehlo", "client.example", "--from", "student@example.org"}
	tests := []struct {
		name          string
		smtpsh, swaks []string
	}{
		{name: "plain", smtpsh: []string{"--to", "alice@" + postfixDomain}, swaks: []string{"--to", "alice@" + postfixDomain}},
		{name: "two recipients, quit after rcpt", smtpsh: []string{"--to", "alice@" + postfixDomain + ",bob@" + postfixDomain, "--quit-after", "rcpt"},
			swaks: []string{"--to", "alice@" + postfixDomain + ",bob@" + postfixDomain, "--quit-after", "RCPT"}},
		{name: "starttls auth plain", smtpsh: []string{"--to", "bob@" + postfixDomain, "--starttls", "--insecure", "--auth", "plain", "--user", "alice"},
			swaks: []string{"--to", "bob@" + postfixDomain, "--tls", "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "alicepass"}},
		{name: "auth login", smtpsh: []string{"--to", "bob@" + postfixDomain, "--auth", "login", "--user", "alice"},
			swaks: []string{"--to", "bob@" + postfixDomain, "--auth", "LOGIN", "--auth-user", "alice", "--auth-password", "alicepass"}},
		{name: "pipeline", smtpsh: []string{"--to", "alice@" + postfixDomain, "--pipeline"}, swaks: []string{"--to", "alice@" + postfixDomain, "--pipeline"}},
		{name: "unknown recipient", smtpsh: []string{"--to", "nobody@" + postfixDomain}, swaks: []string{"--to", "nobody@" + postfixDomain}},
		{name: "quit after ehlo", smtpsh: []string{"--to", "alice@" + postfixDomain, "--quit-after", "ehlo"}, swaks: []string{"--to", "alice@" + postfixDomain, "--quit-after", "FIRST-HELO"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := runSendCmd(t, "", append(append([]string{"--server", pf, "--json"}, base...), tc.smtpsh...)...)
			var s send.Summary
			if err := json.Unmarshal([]byte(out), &s); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			sw, _ := exec.Command(swaks, append(append([]string{"--server", host, "--port", port}, base...), tc.swaks...)...).CombinedOutput()
			wv, wc := swaksConversation(string(sw))
			gv, gc := smtpshConversation(s)
			if strings.Join(gv, " ") != strings.Join(wv, " ") || strings.Join(gc, " ") != strings.Join(wc, " ") {
				t.Errorf("smtpsh: %v %v\nswaks:  %v %v\nswaks said:\n%s", gv, gc, wv, wc, sw)
			}
			if len(wv) < 2 {
				t.Errorf("swaks' conversation did not parse:\n%s", sw)
			}
		})
	}
}

// TestPeerSendPipeSendmail sends with --pipe '/usr/sbin/sendmail -bs'
// (Postfix's stand-alone SMTP on standard input and output, sendmail(1)):
// the message arrives in bob's mailbox, body byte for byte.
func TestPeerSendPipeSendmail(t *testing.T) {
	peertest.Postfix(t) // the queue must be running to deliver
	sendmail := peertest.Program(t, "/usr/sbin/sendmail")
	mark := marker(t)
	body := "piped through sendmail -bs\n.a dot first\nend\n"
	out, err := runSendCmd(t, "", "--pipe", sendmail+" -bs", "--from", "student@example.org", "--to", "bob@"+postfixDomain,
		"--subject", mark, "--body", body, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var s send.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if s.Server != "pipe:"+sendmail+" -bs" || !strings.Contains(s.Commands[0].Reply[0], "Postfix") || s.QueueID == "" {
		t.Errorf("server %q, greeting %q, queue id %q", s.Server, s.Commands[0].Reply, s.QueueID)
	}
	msg := mboxMessage(t, "bob", mark)
	// mbox ends each message with an empty line.
	if !bytes.HasSuffix(bytes.TrimSuffix(msg, []byte("\r\n")), []byte("\r\n\r\n"+strings.ReplaceAll(body, "\n", "\r\n"))) {
		t.Errorf("delivered:\n%s", msg)
	}
}
