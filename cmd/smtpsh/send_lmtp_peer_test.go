package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/peertest"
	"github.com/smtpsh/smtpsh/internal/send"
)

// lmtpDomain is the domain of the Dovecot LMTP test's users; Dovecot looks
// users up by the local part alone (auth_username_format = %Ln).
const lmtpDomain = "lmtp.smtpsh.test"

// dovecotLMTP is a stand-alone Dovecot whose only service is LMTP on a
// Unix socket, started for one test: users u1 and u2, and full, whose
// quota (10 bytes) refuses every message after its data, the way a full
// mailbox does (552 5.2.2).
type dovecotLMTP struct {
	sock string // the LMTP socket
	mail string // maildirs, one per user: mail/USER/{new,cur}
}

// startDovecotLMTP starts Dovecot (Debian's dovecot-core and
// dovecot-lmtpd) in the foreground with its own configuration, base_dir
// and state in a temp dir, and stops it when the test ends. It is not the
// Postfix lab's Dovecot (SASL only), which it leaves alone. Root is needed
// (Dovecot drops to dovecot/dovenull and to nobody for delivery).
func startDovecotLMTP(t *testing.T) *dovecotLMTP {
	t.Helper()
	dovecot := peertest.Program(t, "dovecot")
	peertest.Program(t, "/usr/lib/dovecot/lmtp") // dovecot-lmtpd
	if os.Geteuid() != 0 {
		if peertest.Required() {
			t.Fatal("real peer missing (SMTPSH_PEERS=1): Dovecot's LMTP test runs Dovecot as root; run make check as root")
		}
		t.Skip("needs root to run Dovecot, run by `make check`")
	}
	dir := t.TempDir()
	// Delivery runs as nobody, which must reach the maildirs.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d := &dovecotLMTP{sock: filepath.Join(dir, "lmtp"), mail: filepath.Join(dir, "mail")}
	if err := os.Mkdir(d.mail, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(d.mail, 65534, 65534); err != nil { // nobody:nogroup
		t.Fatal(err)
	}
	// passwd-file: user:password:uid:gid:gecos:home:shell:extra fields.
	users := "u1:::::::\nu2:::::::\nfull:::::::userdb_quota_rule=*:storage=10B\n"
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(users), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`# smtpsh test: LMTP only, on a Unix socket
protocols = lmtp
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
instance_name = smtpsh-test-lmtp
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
auth_username_format = %%Ln
mail_location = maildir:%[1]s/mail/%%u
mail_plugins = quota
plugin {
  quota = maildir:User quota
}
passdb {
  driver = passwd-file
  args = %[1]s/users
}
userdb {
  driver = passwd-file
  args = %[1]s/users
  default_fields = uid=nobody gid=nogroup home=%[1]s/mail/%%u
}
service lmtp {
  unix_listener %[1]s/lmtp {
    mode = 0666
  }
}
`, dir)
	confPath := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"run", "state"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(dovecot, "-F", "-c", confPath)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dovecot: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Logf("dovecot.log:\n%s", log)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(d.sock); err == nil {
			break
		}
		select {
		case err := <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("dovecot exited: %v\n%s%s", err, stderr.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no LMTP socket %s after 10 s\n%s", d.sock, stderr.String())
		}
	}
	return d
}

// delivered returns the message holding mark in user's maildir (new/ or
// cur/), nil when there is none.
func (d *dovecotLMTP) delivered(t *testing.T, user, mark string) []byte {
	t.Helper()
	for _, sub := range []string{"new", "cur"} {
		files, _ := filepath.Glob(filepath.Join(d.mail, user, sub, "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(mark)) {
				return b
			}
		}
	}
	return nil
}

// stripTrace removes the fields Dovecot's LMTP puts on top of a message it
// delivers, Return-Path and its Received (RFC 5321 §4.4), with their
// continuation lines, and returns the rest: what the client sent, with LF
// line ends as maildir stores them.
func stripTrace(t *testing.T, b []byte) []byte {
	t.Helper()
	for _, name := range []string{"Return-Path:", "Received:"} {
		if !bytes.HasPrefix(b, []byte(name)) {
			t.Fatalf("delivered message does not start with %s:\n%s", name, b)
		}
		i := bytes.IndexByte(b, '\n')
		for i >= 0 && i+1 < len(b) && (b[i+1] == ' ' || b[i+1] == '\t') {
			j := bytes.IndexByte(b[i+1:], '\n')
			if j < 0 {
				i = -1
				break
			}
			i += 1 + j
		}
		if i < 0 {
			t.Fatalf("unterminated %s field", name)
		}
		b = b[i+1:]
	}
	return b
}

// TestPeerLMTPDovecotShell types an LMTP transaction into the shell over
// Dovecot's Unix socket (RFC 2033 §4.2's case): an unknown recipient
// between two known ones gets its 550 at RCPT, the end of data gets one
// labelled reply for each of the others, and each maildir holds the
// message byte for byte.
func TestPeerLMTPDovecotShell(t *testing.T) {
	d := startDovecotLMTP(t)
	mark := marker(t)
	body := []string{"Subject: " + mark, "From: <a@b.example>", "", "first line", "second line  with spaces ", "end"}
	args := []string{"--no-explain", "--timeout", "10s", "--lmtp", "unix:" + d.sock,
		"-c", "LHLO client.example", "-c", "MAIL FROM:<a@b.example>",
		"-c", "RCPT TO:<u1@" + lmtpDomain + ">", "-c", "expect 250",
		"-c", "RCPT TO:<nobody@" + lmtpDomain + ">", "-c", "expect 550",
		"-c", "RCPT TO:<u2@" + lmtpDomain + ">", "-c", "expect 250",
		"-c", "DATA", "-c", "expect 354"}
	for _, l := range body {
		args = append(args, "-c", l)
	}
	args = append(args, "-c", ".", "-c", "expect 250")
	out, err := runShellCmd(t, "", args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, w := range []string{
		"S: 220 ", "Dovecot", "C: LHLO client.example", "S: 550 5.1.1 <nobody@" + lmtpDomain + "> User doesn't exist",
		"LMTP: one reply per accepted recipient follows, in RCPT order (RFC 2033 §4.2): 2",
		"for <u1@" + lmtpDomain + ">:\nS: 250 2.0.0 <u1@" + lmtpDomain + "> ",
		"for <u2@" + lmtpDomain + ">:\nS: 250 2.0.0 <u2@" + lmtpDomain + "> ",
		"S: 221 2.0.0 Bye",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	want := strings.Join(body, "\n") + "\n"
	for _, u := range []string{"u1", "u2"} {
		got := d.delivered(t, u, mark)
		if got == nil {
			t.Errorf("no message in %s's maildir", u)
			continue
		}
		if g := string(stripTrace(t, got)); g != want {
			t.Errorf("%s's maildir holds\n%q\nwant\n%q", u, g, want)
		}
	}
	if d.delivered(t, "nobody", mark) != nil {
		t.Error("a maildir for nobody")
	}
}

// TestPeerLMTPDovecotSend sends with `smtpsh send --lmtp --server
// unix:SOCK`: every recipient delivered (exit 0), one over quota (exit 14,
// the others delivered), all over quota (exit 12); the JSON summary's
// recipients carry each one's reply, and the maildirs hold the message
// byte for byte, a line starting with "." included (dot-stuffed on the
// wire, RFC 5321 §4.5.2), with DATA and with BDAT (Dovecot offers
// CHUNKING).
func TestPeerLMTPDovecotSend(t *testing.T) {
	d := startDovecotLMTP(t)
	tests := []struct {
		name     string
		to       []string
		extra    []string
		exit     int
		accepted map[string]bool
	}{
		{name: "two delivered", to: []string{"u1", "u2"}, exit: 0, accepted: map[string]bool{"u1": true, "u2": true}},
		{name: "two delivered with bdat", to: []string{"u1", "u2"}, extra: []string{"--bdat"}, exit: 0, accepted: map[string]bool{"u1": true, "u2": true}},
		{name: "one over quota", to: []string{"u1", "full", "u2"}, exit: send.ExitPartial, accepted: map[string]bool{"u1": true, "u2": true, "full": false}},
		{name: "all over quota", to: []string{"full"}, exit: send.ExitMessage, accepted: map[string]bool{"full": false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mark := marker(t)
			msg := "Subject: " + mark + "\r\nFrom: <a@b.example>\r\n\r\nhello\r\n.a line that starts with a dot\r\n..two\r\nend\r\n"
			file := filepath.Join(t.TempDir(), "msg.eml")
			if err := os.WriteFile(file, []byte(msg), 0o644); err != nil {
				t.Fatal(err)
			}
			var to []string
			for _, u := range tc.to {
				to = append(to, u+"@"+lmtpDomain)
			}
			args := append([]string{"--lmtp", "--server", "unix:" + d.sock, "--timeout", "10s", "--from", "a@b.example",
				"--to", strings.Join(to, ","), "--data", "@" + file, "--json"}, tc.extra...)
			out, err := runSendCmd(t, "", args...)
			if got := exitStatus(err); got != tc.exit {
				t.Fatalf("exit %d (%v), want %d\n%s", got, err, tc.exit, out)
			}
			var s send.Summary
			if err := json.Unmarshal([]byte(out), &s); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if len(s.Recipients) != len(tc.to) {
				t.Fatalf("recipients %+v", s.Recipients)
			}
			want := strings.ReplaceAll(msg, "\r\n", "\n")
			for _, r := range s.Recipients {
				u, _, _ := strings.Cut(r.Recipient, "@")
				acc, ok := tc.accepted[u]
				if !ok || r.Accepted != acc || r.RcptCode != 250 {
					t.Errorf("recipient %+v, want accepted %v", r, acc)
				}
				reply := strings.Join(r.Reply, " ")
				switch {
				case acc && !strings.HasPrefix(reply, "250 2.0.0 <"+r.Recipient+"> "):
					t.Errorf("%s: reply %q, want Dovecot's 250 2.0.0 <%s> … Saved", u, reply, r.Recipient)
				case !acc && !strings.HasPrefix(reply, "552 5.2.2 <"+r.Recipient+"> Quota exceeded"):
					t.Errorf("%s: reply %q, want Dovecot's 552 5.2.2 … Quota exceeded", u, reply)
				}
				got := d.delivered(t, u, mark)
				switch {
				case acc && got == nil:
					t.Errorf("%s: no message in the maildir", u)
				case acc && string(stripTrace(t, got)) != want:
					t.Errorf("%s's maildir holds\n%q\nwant\n%q", u, stripTrace(t, got), want)
				case !acc && got != nil:
					t.Errorf("%s: refused, yet in the maildir", u)
				}
			}
		})
	}
}

// TestPeerLMTPSwaks runs smtpsh send --lmtp and swaks --protocol LMTP on
// the same transactions against Dovecot's LMTP socket: both conversations
// carry the same commands and get the same reply codes, one per accepted
// recipient after the message.
func TestPeerLMTPSwaks(t *testing.T) {
	d := startDovecotLMTP(t)
	swaks := peertest.Program(t, "swaks")
	base := []string{"--ehlo", "client.example", "--from", "student@example.org"}
	tests := []struct {
		name          string
		smtpsh, swaks []string
	}{
		{name: "one recipient", smtpsh: []string{"--to", "u1@" + lmtpDomain}, swaks: []string{"--to", "u1@" + lmtpDomain}},
		{name: "two recipients", smtpsh: []string{"--to", "u1@" + lmtpDomain + ",u2@" + lmtpDomain}, swaks: []string{"--to", "u1@" + lmtpDomain + ",u2@" + lmtpDomain}},
		{name: "one over quota", smtpsh: []string{"--to", "u1@" + lmtpDomain + ",full@" + lmtpDomain}, swaks: []string{"--to", "u1@" + lmtpDomain + ",full@" + lmtpDomain}},
		{name: "unknown recipient", smtpsh: []string{"--to", "nobody@" + lmtpDomain}, swaks: []string{"--to", "nobody@" + lmtpDomain}},
		{name: "pipeline", smtpsh: []string{"--to", "u2@" + lmtpDomain, "--pipeline"}, swaks: []string{"--to", "u2@" + lmtpDomain, "--pipeline"}},
		{name: "quit after rcpt", smtpsh: []string{"--to", "u1@" + lmtpDomain, "--quit-after", "rcpt"}, swaks: []string{"--to", "u1@" + lmtpDomain, "--quit-after", "RCPT"}},
		{name: "quit after lhlo", smtpsh: []string{"--to", "u1@" + lmtpDomain, "--quit-after", "lhlo"}, swaks: []string{"--to", "u1@" + lmtpDomain, "--quit-after", "HELO"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := runSendCmd(t, "", append(append([]string{"--lmtp", "--server", "unix:" + d.sock, "--json"}, base...), tc.smtpsh...)...)
			var s send.Summary
			if err := json.Unmarshal([]byte(out), &s); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			sw, _ := exec.Command(swaks, append(append([]string{"--protocol", "LMTP", "--socket", d.sock}, base...), tc.swaks...)...).CombinedOutput()
			wv, wc := swaksConversation(string(sw))
			gv, gc := smtpshConversation(s)
			if strings.Join(gv, " ") != strings.Join(wv, " ") || strings.Join(gc, " ") != strings.Join(wc, " ") {
				t.Errorf("smtpsh: %v %v\nswaks:  %v %v\nswaks said:\n%s", gv, gc, wv, wc, sw)
			}
			if len(wv) < 2 || wv[0] != "LHLO" {
				t.Errorf("swaks' conversation did not parse as LMTP:\n%s", sw)
			}
		})
	}
}
