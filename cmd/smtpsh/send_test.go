package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/lab/store"
	"github.com/smtpsh/smtpsh/internal/send"
	"github.com/smtpsh/smtpsh/transcripts"
)

// sendLab is a lab started for a send test: its address, its store and a
// PEM file holding its certificate, for --ca.
type sendLab struct {
	addr, ca string
	store    *store.Store
}

// startSendLab starts the lab with profile on a free loopback port until
// the test ends, as `smtpsh lab` does.
func startSendLab(t *testing.T, profile string) sendLab {
	t.Helper()
	l, err := startShellLab(profile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.stop)
	ca := filepath.Join(t.TempDir(), "lab.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.cert}), 0o600); err != nil {
		t.Fatal(err)
	}
	return sendLab{addr: l.addr, ca: ca, store: l.store}
}

// runSendCmd runs `smtpsh send args…` in-process.
func runSendCmd(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	return runShellCmd(t, stdin, append([]string{"send", "--timeout", "5s", "--ehlo", "client.example"}, args...)...)
}

// attachmentParts parses a delivered multipart message and returns its
// parts' decoded bytes by file name ("" for the body).
func attachmentParts(t *testing.T, raw []byte) map[string][]byte {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("delivered message: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	parts := map[string][]byte{}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable itself
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var b []byte
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			b, err = io.ReadAll(base64Reader(p))
		} else {
			b, err = io.ReadAll(p)
		}
		if err != nil {
			t.Fatalf("part %q: %v", p.FileName(), err)
		}
		parts[p.FileName()] = b
	}
	return parts
}

// TestSendLab sends with each content and protocol flag to the lab and
// checks what the lab received: envelope, parameters, header and body.
func TestSendLab(t *testing.T) {
	dir := t.TempDir()
	bin := make([]byte, 70000)
	if _, err := rand.Read(bin); err != nil {
		t.Fatal(err)
	}
	binFile := filepath.Join(dir, "random.bin")
	textFile := filepath.Join(dir, "notes.txt")
	text := []byte("première ligne\n.a line with a leading dot\nsoft=equals and a trailing space \n" + strings.Repeat("long ", 300) + "\n")
	for name, b := range map[string][]byte{binFile: bin, textFile: text} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		args   []string
		box    string
		check  func(t *testing.T, m *store.Message, out string)
		stdin  string
		output []string
	}{
		{
			name: "headers and recipients",
			args: []string{"--from", "Student <student@example.org>", "--to", "alice@lab.smtpsh.test, Bob <bob@lab.smtpsh.test>",
				"--cc", "team@lab.smtpsh.test", "--bcc", "postmaster@lab.smtpsh.test", "--subject", "Grüße", "--header", "X-Test: one", "--header", "Subject: replaced"},
			box: "bob",
			check: func(t *testing.T, m *store.Message, _ string) {
				if m.From != "student@example.org" || len(m.To) != 4 {
					t.Errorf("envelope from %q to %q", m.From, m.To)
				}
				h := header(t, m.Data)
				if h.Get("Subject") != "replaced" || h.Get("X-Test") != "one" || h.Get("Bcc") != "" || !strings.Contains(h.Get("Cc"), "team@") {
					t.Errorf("header %v", h)
				}
				if !strings.Contains(h.Get("To"), `"Bob" <bob@lab.smtpsh.test>`) {
					t.Errorf("To %q", h.Get("To"))
				}
			},
		},
		{
			name: "attachments intact",
			args: []string{"--to", "alice@lab.smtpsh.test", "--body", "see attached", "--attach", binFile, "--attach", textFile},
			box:  "alice",
			check: func(t *testing.T, m *store.Message, _ string) {
				parts := attachmentParts(t, m.Data)
				if !bytes.Equal(parts["random.bin"], bin) {
					t.Errorf("random.bin: %d bytes arrived, differ from the %d sent", len(parts["random.bin"]), len(bin))
				}
				if got := bytes.ReplaceAll(parts["notes.txt"], []byte("\r\n"), []byte("\n")); !bytes.Equal(got, text) {
					t.Errorf("notes.txt arrived as %q", got)
				}
				if !bytes.Contains(m.Data, []byte("Content-Type: application/octet-stream")) || !bytes.Contains(m.Data, []byte("Content-Transfer-Encoding: quoted-printable")) {
					t.Errorf("part headers:\n%s", m.Data)
				}
			},
		},
		{
			name:   "bdat, 8bitmime, body from stdin",
			args:   []string{"--to", "alice@lab.smtpsh.test", "--bdat", "--8bitmime", "--body", "-"},
			stdin:  "déjà vu\n.\n",
			box:    "alice",
			output: []string{"C: BDAT ", " LAST", "BODY=8BITMIME"},
			check: func(t *testing.T, m *store.Message, out string) {
				if m.Params["BODY"] != "8BITMIME" || !bytes.HasSuffix(m.Data, []byte("\r\n\r\ndéjà vu\r\n.\r\n")) {
					t.Errorf("params %v, data %q", m.Params, m.Data)
				}
				if strings.Contains(out, "C: DATA") {
					t.Error("DATA sent with --bdat")
				}
			},
		},
		{
			name:   "dsn",
			args:   []string{"--to", "alice@lab.smtpsh.test", "--notify", "success,failure", "--ret", "hdrs", "--envid", "id+1 x"},
			box:    "alice",
			output: []string{"RCPT TO:<alice@lab.smtpsh.test> NOTIFY=SUCCESS,FAILURE", "RET=HDRS ENVID=id+2B1+20x"},
			check: func(t *testing.T, m *store.Message, _ string) {
				if m.Params["RET"] != "HDRS" || m.Params["ENVID"] == "" {
					t.Errorf("params %v", m.Params)
				}
			},
		},
		{
			name:   "smtputf8",
			args:   []string{"--smtputf8", "--from", "élève@example.org", "--to", "alice@lab.smtpsh.test", "--subject", "ça va"},
			box:    "alice",
			output: []string{"MAIL FROM:<élève@example.org> SIZE=", " SMTPUTF8"},
			check: func(t *testing.T, m *store.Message, _ string) {
				if _, ok := m.Params["SMTPUTF8"]; !ok || m.From != "élève@example.org" {
					t.Errorf("from %q params %v", m.From, m.Params)
				}
				if !bytes.Contains(m.Data, []byte("Subject: ça va\r\n")) {
					t.Errorf("the subject is not UTF-8 as is:\n%s", m.Data)
				}
			},
		},
		{
			name:   "starttls, auth, pipeline, data from a file",
			args:   []string{"--starttls", "--auth", "login", "--user", "alice", "--pipeline", "--to", "someone@example.net", "--data", "@testdata/send/relay.eml"},
			box:    "",
			output: []string{"certificate verified", "S: 235 2.7.0", "pipeline", "S: 250 2.0.0 Ok: queued as"},
			check: func(t *testing.T, m *store.Message, _ string) {
				if !bytes.HasSuffix(m.Data, []byte("Subject: relayed\r\n\r\nHello from a file.\r\n")) {
					t.Errorf("data %q", m.Data)
				}
			},
		},
	}
	t.Setenv("SMTPSH_PASSWORD", "wonderland")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := startSendLab(t, "default")
			out, err := runSendCmd(t, tc.stdin, append([]string{"--server", l.addr, "--ca", l.ca}, tc.args...)...)
			if code := exitStatus(err); code != 0 {
				t.Fatalf("exit %d (%v)\n%s", code, err, out)
			}
			for _, w := range tc.output {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			var msgs []*store.Message
			if tc.box == "" {
				msgs = l.store.Relayed()
			} else {
				msgs = l.store.Mailbox(tc.box)
			}
			if len(msgs) != 1 {
				t.Fatalf("%d message(s) in %q, want 1\n%s", len(msgs), tc.box, out)
			}
			tc.check(t, msgs[0], out)
		})
	}
}

func header(t *testing.T, raw []byte) mail.Header {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return m.Header
}

// lastCommand returns the last client command of a transcript before
// QUIT, and whether QUIT was sent.
func lastCommand(t *testing.T, path string) (string, bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := transcripts.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	last, quit := "", false
	for _, e := range tr.Events {
		if e.Kind != transcripts.Client {
			continue
		}
		if e.Text == "QUIT" {
			quit = true
			continue
		}
		last = e.Text
	}
	return last, quit
}

// TestSendQuitAfter stops at each phase: the transcript's last command is
// the phase's, and the session still ends with QUIT (but after DATA's 354,
// where only closing ends it, RFC 5321 §4.1.1.4).
func TestSendQuitAfter(t *testing.T) {
	t.Setenv("SMTPSH_PASSWORD", "wonderland")
	tests := []struct {
		phase, last string
		quit        bool
	}{
		{"connect", "", true},
		{"banner", "", true},
		{"ehlo", "EHLO client.example", true},
		{"tls", "EHLO client.example", true},
		{"auth", "AUTH PLAIN <redacted>", true},
		{"mail", "MAIL FROM:<a@example.org>", true},
		{"RCPT", "RCPT TO:<alice@lab.smtpsh.test>", true},
		{"data", "DATA", false},
		{"dot", ".", true},
	}
	for _, tc := range tests {
		t.Run(tc.phase, func(t *testing.T) {
			l := startSendLab(t, "default")
			rec := filepath.Join(t.TempDir(), "t.txt")
			out, err := runSendCmd(t, "", "--server", l.addr, "--ca", l.ca, "--starttls", "--auth", "plain", "--user", "alice",
				"--from", "a@example.org", "--to", "alice@lab.smtpsh.test", "--quit-after", tc.phase, "--record", rec)
			if code := exitStatus(err); code != 0 {
				t.Fatalf("exit %d (%v)\n%s", code, err, out)
			}
			last, quit := lastCommand(t, rec)
			if last != tc.last || quit != tc.quit {
				t.Errorf("last command %q, QUIT %v; want %q, %v\n%s", last, quit, tc.last, tc.quit, out)
			}
			if n := len(l.store.Mailbox("alice")); (tc.phase == "dot") != (n == 1) {
				t.Errorf("%d message(s) delivered", n)
			}
		})
	}
}

// TestSendBadInput: what the issue lists as bad input gets a message
// naming the phase, its exit status, and the transcript kept when there
// was a session.
func TestSendBadInput(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		password string
		code     int
		want     string // in the error
		record   string // in the transcript
	}{
		{name: "missing attachment", args: []string{"--to", "alice@lab.smtpsh.test", "--attach", "testdata/send/none.pdf"}, code: send.ExitInput, want: "data: --attach: open testdata/send/none.pdf"},
		{name: "unreadable body", args: []string{"--to", "alice@lab.smtpsh.test", "--body", "@testdata/send"}, code: send.ExitInput, want: "data: --body: testdata/send: not a regular file"},
		{name: "recipient syntax", args: []string{"--to", "alice@lab.smtpsh.test, bob@@lab"}, code: send.ExitInput, want: "rcpt: --to"},
		{name: "non-ascii without smtputf8", args: []string{"--to", "élève@lab.smtpsh.test"}, code: send.ExitInput, want: "needs --smtputf8"},
		{name: "no recipient", args: nil, code: send.ExitUsage, want: "no recipient"},
		{name: "bad notify", args: []string{"--to", "alice@lab.smtpsh.test", "--notify", "never,success"}, code: send.ExitUsage, want: "NEVER goes alone"},
		{name: "bad quit-after", args: []string{"--to", "alice@lab.smtpsh.test", "--quit-after", "xforward"}, code: send.ExitUsage, want: "--quit-after"},
		{name: "data with body", args: []string{"--to", "alice@lab.smtpsh.test", "--data", "x", "--body", "y"}, code: send.ExitUsage, want: "--data sends a whole message"},
		{name: "unknown recipient", args: []string{"--to", "alice@lab.smtpsh.test", "--to", "nobody@lab.smtpsh.test"}, code: send.ExitRcpt,
			want: "rcpt: the server refused RCPT TO:<nobody@lab.smtpsh.test>: 550 5.1.1", record: "S: 550 5.1.1"},
		{name: "relay denied", args: []string{"--to", "someone@example.net"}, code: send.ExitRcpt, want: "554 5.7.1", record: "C: RCPT TO:<someone@example.net>"},
		{name: "requiretls unsupported", args: []string{"--to", "alice@lab.smtpsh.test", "--requiretls"}, code: send.ExitMail, want: "mail: the server refused MAIL FROM", record: "S: 555 5.5.4"},
		{name: "wrong password", args: []string{"--to", "alice@lab.smtpsh.test", "--starttls", "--auth", "plain", "--user", "alice"}, password: "queen", code: send.ExitAuth,
			want: "auth: the server refused AUTH PLAIN <redacted>: 535 5.7.8", record: "C: AUTH PLAIN <redacted>"},
		{name: "auth before tls", args: []string{"--to", "alice@lab.smtpsh.test", "--auth", "login", "--user", "alice"}, password: "wonderland", code: send.ExitAuth, want: "538 5.7.11"},
		{name: "connection refused", args: []string{"--to", "alice@lab.smtpsh.test", "--server", "127.0.0.1:1"}, code: send.ExitConnect, want: "cannot connect to 127.0.0.1:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.password != "" {
				t.Setenv("SMTPSH_PASSWORD", tc.password)
			}
			l := startSendLab(t, "default")
			rec := filepath.Join(t.TempDir(), "t.txt")
			args := append([]string{"--server", l.addr, "--ca", l.ca, "--record", rec}, tc.args...)
			out, err := runSendCmd(t, "", args...)
			if code := exitStatus(err); code != tc.code {
				t.Fatalf("exit %d (%v), want %d\n%s", code, err, tc.code, out)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			if tc.record != "" {
				b, rerr := os.ReadFile(rec)
				if rerr != nil || !strings.Contains(string(b), tc.record) {
					t.Errorf("transcript lacks %q (%v):\n%s", tc.record, rerr, b)
				}
				if strings.Contains(string(b), "wonderland") || strings.Contains(string(b), "queen") {
					t.Error("the transcript holds the password")
				}
			}
			if n := len(l.store.Mailbox("alice")); n != 0 {
				t.Errorf("%d message(s) delivered", n)
			}
		})
	}
}

// TestSendJSON: --json prints one summary a program can read: phases,
// commands with codes, the size, the queue id the lab gave.
func TestSendJSON(t *testing.T) {
	l := startSendLab(t, "default")
	rec := filepath.Join(t.TempDir(), "t.txt")
	out, err := runSendCmd(t, "", "--server", l.addr, "--to", "alice@lab.smtpsh.test", "--json", "--record", rec)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var s send.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	msgs := l.store.Mailbox("alice")
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	if s.Result != "ok" || s.QueueID != msgs[0].ID || s.Transcript != rec || s.MessageSize == 0 {
		t.Errorf("summary %+v, lab id %s", s, msgs[0].ID)
	}
	if strings.Join(s.Phases, " ") != "connect banner ehlo mail rcpt data dot quit" {
		t.Errorf("phases %v", s.Phases)
	}
	var verbs []string
	for _, c := range s.Commands {
		verbs = append(verbs, string(c.Verb)+":"+itoa(c.Code))
	}
	if got := strings.Join(verbs, " "); got != ":220 EHLO:250 MAIL:250 RCPT:250 DATA:354 .:250 QUIT:221" {
		t.Errorf("commands %s", got)
	}
	// -q prints nothing when all is well.
	out, err = runSendCmd(t, "", "--server", l.addr, "--to", "alice@lab.smtpsh.test", "-q")
	if err != nil || out != "" {
		t.Errorf("-q: %v, printed %q", err, out)
	}
}

// TestSendDefaultLab: with no --server the lab starts in-process, so the
// issue's first example works on a fresh machine.
func TestSendDefaultLab(t *testing.T) {
	out, err := runSendCmd(t, "", "--to", "bob@lab.smtpsh.test", "--explain")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, w := range []string{"sending to the lab", "S: 250 2.0.0 Ok: queued as", "S: 221"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// base64Reader decodes a base64 part, line breaks and all.
func base64Reader(r io.Reader) io.Reader { return base64.NewDecoder(base64.StdEncoding, r) }
