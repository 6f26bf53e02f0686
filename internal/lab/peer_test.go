package lab_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab"
	"github.com/smtpsh/smtpsh/internal/lab/selfsigned"
	"github.com/smtpsh/smtpsh/internal/lab/store"
	"github.com/smtpsh/smtpsh/internal/peertest"
	"github.com/smtpsh/smtpsh/internal/smtp"
)

// The tests in this file have real SMTP clients (swaks, Python's smtplib,
// nmap's NSE scripts) drive the lab, each against a server started for the
// test on 127.0.0.1:0 with the profile under test, and compare the lab's
// replies with a real Postfix's (issue 3, "Real peers"). What a peer
// reports must agree with the profile: a peer is the independent truth
// about what a student with that tool would see.

// peerCert is the lab certificate for this test binary: ECDSA keys are
// cheap, but every subtest making one adds up under the race detector.
var peerCert = sync.OnceValues(func() (tls.Certificate, error) {
	return selfsigned.Certificate("lab.smtpsh.test")
})

// peerClock is a settable clock for lab.Config.Now, so greylisting can be
// waited out without sleeping.
type peerClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *peerClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *peerClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// peerLab is a running lab server for one test.
type peerLab struct {
	profile *lab.Profile
	st      *store.Store
	addr    string // plaintext listener (STARTTLS as the profile says)
	tlsAddr string // implicit-TLS listener
	port    string // addr's port, for command lines
	tlsPort string
	clock   *peerClock
	caFile  string // the lab's certificate as PEM, for clients that verify it
}

// loadPeerProfile loads a built-in profile and applies edit to it.
func loadPeerProfile(t testing.TB, name string, edit func(*lab.Profile)) *lab.Profile {
	t.Helper()
	p, err := lab.LoadProfile(name)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(p)
	}
	return p
}

// startPeerLab serves p on two loopback listeners (plaintext and implicit
// TLS) until the end of the test.
func startPeerLab(t testing.TB, p *lab.Profile) *peerLab {
	t.Helper()
	cert, err := peerCert()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := selfsigned.PEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "lab-cert.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.New("")
	if err != nil {
		t.Fatal(err)
	}
	l := &peerLab{profile: p, st: st, caFile: caFile,
		clock: &peerClock{t: time.Date(2026, 11, 25, 19, 10, 0, 0, time.UTC)}}
	srv, err := lab.New(lab.Config{Profile: p, Store: st, Now: l.clock.Now,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	l.addr, l.tlsAddr = ln.Addr().String(), tln.Addr().String()
	_, l.port, _ = net.SplitHostPort(l.addr)
	_, l.tlsPort, _ = net.SplitHostPort(l.tlsAddr)
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- srv.ServeTLS(tln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for range 2 {
			if err := <-errc; !errors.Is(err, lab.ErrServerClosed) {
				t.Errorf("Serve returned %v, want lab.ErrServerClosed", err)
			}
		}
	})
	return l
}

// runPeer runs a peer program and returns its combined output and exit
// status; a program that cannot run at all, or hangs, fails the test.
func runPeer(t testing.TB, timeout time.Duration, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %q did not finish within %v:\n%s", filepath.Base(name), args, timeout, out)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("running %s: %v", name, err)
	return "", -1
}

// messagesWith returns the messages of msgs whose data contains marker.
func messagesWith(msgs []*store.Message, marker string) []*store.Message {
	var out []*store.Message
	for _, m := range msgs {
		if strings.Contains(string(m.Data), marker) {
			out = append(out, m)
		}
	}
	return out
}

// storedWith maps each mailbox holding a message that contains marker to
// the number of such messages, with "(relayed)" for the relayed queue.
func storedWith(st *store.Store, marker string) map[string]int {
	got := map[string]int{}
	for _, box := range st.Mailboxes() {
		if n := len(messagesWith(st.Mailbox(box), marker)); n > 0 {
			got[box] = n
		}
	}
	if n := len(messagesWith(st.Relayed(), marker)); n > 0 {
		got["(relayed)"] = n
	}
	return got
}

func formatStored(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s:%d", k, m[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// swaksRun is one swaks invocation and what it must report.
type swaksRun struct {
	// advance moves the lab's clock forward before the run (greylisting).
	advance time.Duration
	args    []string
	// exit is swaks' documented exit status (swaks(1) EXIT CODES: 0 ok,
	// 23 error in MAIL, 24 no RCPT accepted, 28 error in AUTH, ...).
	exit int
	// want are substrings each of which must be in swaks' output, such as
	// "<** 554 5.7.1 " (swaks marks an unexpected reply with "<**", and
	// one over TLS with "<~*").
	want []string
}

// TestPeerSwaks sends with swaks through every built-in profile and checks
// swaks' exit status and the replies it printed against the profile, then
// the lab's store against what swaks reported as accepted.
func TestPeerSwaks(t *testing.T) {
	swaks := peertest.Program(t, "swaks")
	auth := func(mech string) []string {
		return []string{"--tls", "--auth", mech, "--auth-user", "alice", "--auth-password", "wonderland"}
	}
	tests := []struct {
		name    string
		profile string
		to      string
		runs    []swaksRun
		// stored is where the message must be afterwards: mailbox name
		// (after alias and list expansion) or "(relayed)", and count.
		stored map[string]int
	}{
		{name: "default/local delivery", profile: "default", to: "alice@lab.smtpsh.test",
			runs:   []swaksRun{{exit: 0, want: []string{"<-  220 lab.smtpsh.test ESMTP", "<-  250 2.1.5 Ok", "<-  250 2.0.0 Ok: queued as "}}},
			stored: map[string]int{"alice": 1}},
		{name: "default/list expands to its members", profile: "default", to: "team@lab.smtpsh.test",
			runs:   []swaksRun{{exit: 0, want: []string{"<-  250 2.0.0 Ok: queued as "}}},
			stored: map[string]int{"alice": 1, "bob": 1}},
		{name: "default/unknown local user", profile: "default", to: "nobody-here@lab.smtpsh.test",
			runs: []swaksRun{{exit: 24, want: []string{"<** 550 5.1.1 <nobody-here@lab.smtpsh.test>: Recipient address rejected"}}}},
		{name: "default/relay refused without AUTH", profile: "default", to: "someone@example.org",
			runs: []swaksRun{{exit: 24, want: []string{"<** 554 5.7.1 <someone@example.org>: Relay access denied"}}}},
		// AUTH only after TLS: the plaintext EHLO does not advertise AUTH, so
		// swaks refuses to try (the lab's 538 to an AUTH sent anyway is
		// checked in TestPeerPostfixComparison).
		{name: "default/AUTH before TLS is not offered", profile: "default", to: "someone@example.org",
			runs: []swaksRun{{args: []string{"--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "wonderland"},
				exit: 28, want: []string{"*** Host did not advertise authentication"}}}},
		{name: "default/STARTTLS AUTH PLAIN relays", profile: "default", to: "someone@example.org",
			runs: []swaksRun{{args: auth("PLAIN"), exit: 0, want: []string{
				"<-  220 2.0.0 Ready to start TLS", "<~  250-AUTH PLAIN LOGIN CRAM-MD5", "<~  235 2.7.0 Authentication successful", "<~  250 2.1.5 Ok"}}},
			stored: map[string]int{"(relayed)": 1}},
		{name: "default/STARTTLS AUTH LOGIN relays", profile: "default", to: "someone@example.org",
			runs: []swaksRun{{args: auth("LOGIN"), exit: 0, want: []string{
				"<~  334 VXNlcm5hbWU6", "<~  334 UGFzc3dvcmQ6", "<~  235 2.7.0 Authentication successful"}}},
			stored: map[string]int{"(relayed)": 1}},
		{name: "default/STARTTLS AUTH CRAM-MD5 relays", profile: "default", to: "someone@example.org",
			runs:   []swaksRun{{args: auth("CRAM-MD5"), exit: 0, want: []string{"<~  235 2.7.0 Authentication successful"}}},
			stored: map[string]int{"(relayed)": 1}},
		{name: "default/wrong password", profile: "default", to: "someone@example.org",
			runs: []swaksRun{{args: []string{"--tls", "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "looking-glass"},
				exit: 28, want: []string{"<~* 535 5.7.8 "}}}},
		// RFC 2920: swaks sends MAIL, RCPT and DATA in one batch.
		{name: "default/PIPELINING", profile: "default", to: "bob@lab.smtpsh.test",
			runs:   []swaksRun{{args: []string{"--pipeline"}, exit: 0, want: []string{" -> MAIL FROM:<student@example.net>\n -> RCPT TO:<bob@lab.smtpsh.test>\n -> DATA\n"}}},
			stored: map[string]int{"bob": 1}},
		{name: "open-relay/relays without AUTH", profile: "open-relay", to: "someone@example.org",
			runs:   []swaksRun{{exit: 0, want: []string{"<-  250 2.1.5 Ok"}}},
			stored: map[string]int{"(relayed)": 1}},
		{name: "open-relay/local delivery", profile: "open-relay", to: "bob@lab.smtpsh.test",
			runs:   []swaksRun{{exit: 0}},
			stored: map[string]int{"bob": 1}},
		{name: "enum/alias delivers to its user", profile: "enum", to: "root@lab.smtpsh.test",
			runs:   []swaksRun{{exit: 0}},
			stored: map[string]int{"alice": 1}},
		{name: "enum/relay refused without AUTH", profile: "enum", to: "someone@example.org",
			runs: []swaksRun{{exit: 24, want: []string{"<** 554 5.7.1 "}}}},
		{name: "htb/relays without AUTH", profile: "htb", to: "someone@example.org",
			runs:   []swaksRun{{exit: 0, want: []string{"<-  220 ESMTP Server\n", "<-  250-SIZE 10240000", "<-  250 2.1.5 Ok"}}},
			stored: map[string]int{"(relayed)": 1}},
		{name: "htb/no STARTTLS offered", profile: "htb", to: "alice@lab.smtpsh.test",
			runs: []swaksRun{{args: []string{"--tls"}, exit: 29, want: []string{"*** Host did not advertise STARTTLS"}}}},
		{name: "hardened/MAIL needs STARTTLS", profile: "hardened", to: "alice@lab.smtpsh.test",
			runs: []swaksRun{{exit: 23, want: []string{"<** 530 5.7.0 Must issue a STARTTLS command first"}}}},
		{name: "hardened/MAIL needs AUTH", profile: "hardened", to: "alice@lab.smtpsh.test",
			runs: []swaksRun{{args: []string{"--tls"}, exit: 23, want: []string{"<~* 530 5.7.0 Authentication required"}}}},
		// The first attempt of a (client, sender, recipient) triple is
		// greylisted; the same triple after the delay is accepted.
		{name: "hardened/greylisted then accepted", profile: "hardened", to: "alice@lab.smtpsh.test",
			runs: []swaksRun{
				{args: auth("LOGIN"), exit: 24, want: []string{"<~  235 2.7.0 ", "<~* 450 4.7.1 <alice@lab.smtpsh.test>: Recipient address rejected: Greylisted"}},
				{advance: 30 * time.Second, args: auth("PLAIN"), exit: 24, want: []string{"<~* 450 4.7.1 "}},
				{advance: 31 * time.Second, args: auth("PLAIN"), exit: 0, want: []string{"<~  250 2.1.5 Ok", "<~  250 2.0.0 Ok: queued as "}},
			},
			stored: map[string]int{"alice": 1}},
		{name: "hardened/CRAM-MD5 not offered", profile: "hardened", to: "alice@lab.smtpsh.test",
			runs: []swaksRun{{args: auth("CRAM-MD5"), exit: 28, want: []string{"<~  250-AUTH SCRAM-SHA-256 SCRAM-SHA-1 OAUTHBEARER XOAUTH2 PLAIN LOGIN\n"}}}},
		// An RFC 821 server: swaks falls back to HELO after EHLO's 500, as
		// RFC 5321 §4.1.4 tells clients to, and the replies carry no
		// enhanced codes.
		{name: "legacy/falls back to HELO", profile: "legacy", to: "bob@lab.smtpsh.test",
			runs:   []swaksRun{{exit: 0, want: []string{"<** 500 Error: command not recognized", " -> HELO client.example", "<-  250 lab.smtpsh.test\n", "<-  250 Ok\n", "<-  250 Ok: queued as "}}},
			stored: map[string]int{"bob": 1}},
		// Without EHLO there is no PIPELINING: swaks silently waits for
		// each reply.
		{name: "legacy/no PIPELINING", profile: "legacy", to: "bob@lab.smtpsh.test",
			runs:   []swaksRun{{args: []string{"--pipeline"}, exit: 0, want: []string{" -> MAIL FROM:<student@example.net>\n<-  250 Ok\n -> RCPT TO:"}}},
			stored: map[string]int{"bob": 1}},
		{name: "legacy/no STARTTLS", profile: "legacy", to: "bob@lab.smtpsh.test",
			runs: []swaksRun{{args: []string{"--tls"}, exit: 29, want: []string{"*** Host did not advertise STARTTLS"}}}},
		{name: "smuggling/relays without AUTH", profile: "smuggling", to: "someone@example.org",
			runs:   []swaksRun{{exit: 0, want: []string{"<-  250 2.0.0 Ok: queued as "}}},
			stored: map[string]int{"(relayed)": 1}},
		{name: "smuggling/local delivery", profile: "smuggling", to: "alice@lab.smtpsh.test",
			runs:   []swaksRun{{exit: 0}},
			stored: map[string]int{"alice": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The tarpit would only slow the failing runs down.
			l := startPeerLab(t, loadPeerProfile(t, tc.profile, func(p *lab.Profile) { p.Limits.ErrorDelay = 0 }))
			marker := "swaks-" + strings.NewReplacer("/", "-", " ", "-").Replace(tc.name)
			for i, run := range tc.runs {
				l.clock.Advance(run.advance)
				args := append([]string{"--server", "127.0.0.1", "--port", l.port, "--timeout", "10",
					"--helo", "client.example", "--from", "student@example.net", "--to", tc.to,
					"--header", "Subject: " + marker}, run.args...)
				out, code := runPeer(t, 30*time.Second, swaks, args...)
				if code != run.exit {
					t.Errorf("run %d: swaks exited %d, want %d\n%s", i+1, code, run.exit, out)
				}
				for _, w := range run.want {
					if !strings.Contains(out, w) {
						t.Errorf("run %d: swaks output lacks %q\n%s", i+1, w, out)
					}
				}
			}
			stored := storedWith(l.st, marker)
			if tc.stored == nil {
				tc.stored = map[string]int{}
			}
			if formatStored(stored) != formatStored(tc.stored) {
				t.Errorf("stored %s, want %s", formatStored(stored), formatStored(tc.stored))
			}
			for _, box := range slices.Sorted(maps.Keys(stored)) {
				msgs := l.st.Relayed()
				if box != "(relayed)" {
					msgs = l.st.Mailbox(box)
				}
				for _, m := range messagesWith(msgs, marker) {
					if m.From != "student@example.net" || !slices.Equal(m.To, []string{tc.to}) {
						t.Errorf("%s: envelope %q → %q, want student@example.net → %q", box, m.From, m.To, tc.to)
					}
					if m.Relayed != (box == "(relayed)") {
						t.Errorf("%s: Relayed = %v", box, m.Relayed)
					}
				}
			}
		})
	}
}

// smtplibScript drives Python's smtplib in one of a few modes and prints one
// JSON object with what smtplib returned. Certificate checks use
// ssl.create_default_context, which verifies the chain and the host name
// ("localhost", one of the lab certificate's names).
const smtplibScript = `
import json, smtplib, ssl, sys
mode, port, cafile, to, subject = sys.argv[1:6]
port = int(port)
msg = "From: student@example.net\nTo: %s\nSubject: %s\n\nsent by smtplib\n.leading dot\n" % (to, subject)
out = {}
def ctx():
    return ssl.create_default_context(cafile=cafile)
def send(s):
    s.sendmail("student@example.net", [to], msg)
    out["sent"] = True
try:
    if mode == "plain":
        s = smtplib.SMTP("localhost", port, local_hostname="client.example", timeout=10)
        send(s)
    elif mode in ("starttls", "auth"):
        s = smtplib.SMTP("localhost", port, local_hostname="client.example", timeout=10)
        s.ehlo()
        out["before"] = sorted(s.esmtp_features)
        out["starttls"] = s.starttls(context=ctx())[0]
        out["tls"] = s.sock.version()
        s.ehlo()
        out["after"] = sorted(s.esmtp_features)
        if mode == "auth":
            out["login"] = s.login("alice", "wonderland")[0]
        send(s)
    elif mode == "smtps":
        s = smtplib.SMTP_SSL("localhost", port, local_hostname="client.example", context=ctx(), timeout=10)
        out["tls"] = s.sock.version()
        out["login"] = s.login("bob", "builder")[0]
        send(s)
    elif mode == "vrfy":
        s = smtplib.SMTP("localhost", port, local_hostname="client.example", timeout=10)
        s.ehlo()
        out["alice"] = s.verify("alice")[0]
        out["unknown"] = s.verify("nobody-here")[0]
    s.quit()
except ssl.SSLCertVerificationError as e:
    out["verify_error"] = e.verify_message
except smtplib.SMTPException as e:
    out["smtp_error"] = repr(e)
print(json.dumps(out))
`

// smtplibResult is what smtplibScript prints.
type smtplibResult struct {
	Before      []string `json:"before"`
	After       []string `json:"after"`
	StartTLS    int      `json:"starttls"`
	TLS         string   `json:"tls"`
	Login       int      `json:"login"`
	Sent        bool     `json:"sent"`
	Alice       int      `json:"alice"`
	Unknown     int      `json:"unknown"`
	VerifyError string   `json:"verify_error"`
	SMTPError   string   `json:"smtp_error"`
}

// TestPeerSmtplib sends with Python's smtplib: plain, STARTTLS with the lab's
// certificate verified, AUTH after STARTTLS, implicit TLS (SMTP_SSL), and
// smtplib's VRFY, whose answer is the profile's VRFY policy.
func TestPeerSmtplib(t *testing.T) {
	python := peertest.Program(t, "python3")
	run := func(t *testing.T, l *peerLab, mode, port, cafile, to, subject string) smtplibResult {
		t.Helper()
		out, code := runPeer(t, 30*time.Second, python, "-c", smtplibScript, mode, port, cafile, to, subject)
		if code != 0 {
			t.Fatalf("smtplib script exited %d:\n%s", code, out)
		}
		var r smtplibResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("smtplib script printed %q: %v", out, err)
		}
		return r
	}
	tests := []struct {
		name    string
		profile string
		mode    string
		tls     bool // the implicit-TLS port
		to      string
		stored  map[string]int
		check   func(t *testing.T, r smtplibResult)
	}{
		{name: "plain", profile: "default", mode: "plain", to: "alice@lab.smtpsh.test", stored: map[string]int{"alice": 1}},
		{name: "plain relay refused", profile: "default", mode: "plain", to: "someone@example.org",
			check: func(t *testing.T, r smtplibResult) {
				if !strings.Contains(r.SMTPError, "SMTPRecipientsRefused") || !strings.Contains(r.SMTPError, "554") {
					t.Errorf("smtplib error %q, want SMTPRecipientsRefused with 554", r.SMTPError)
				}
			}},
		{name: "plain open relay", profile: "open-relay", mode: "plain", to: "someone@example.org", stored: map[string]int{"(relayed)": 1}},
		{name: "STARTTLS verified", profile: "default", mode: "starttls", to: "bob@lab.smtpsh.test", stored: map[string]int{"bob": 1},
			check: func(t *testing.T, r smtplibResult) {
				// RFC 3207 §4.2: the client discards what it knew; the
				// lab then offers AUTH (tls_only) and no STARTTLS.
				if !slices.Contains(r.Before, "starttls") || slices.Contains(r.Before, "auth") {
					t.Errorf("EHLO before TLS %v, want starttls and no auth", r.Before)
				}
				if slices.Contains(r.After, "starttls") || !slices.Contains(r.After, "auth") {
					t.Errorf("EHLO after TLS %v, want auth and no starttls", r.After)
				}
			}},
		{name: "STARTTLS AUTH relays", profile: "default", mode: "auth", to: "someone@example.org", stored: map[string]int{"(relayed)": 1},
			check: func(t *testing.T, r smtplibResult) {
				if r.Login != 235 {
					t.Errorf("login: %d, want 235", r.Login)
				}
			}},
		{name: "STARTTLS AUTH on enum", profile: "enum", mode: "auth", to: "team@lab.smtpsh.test", stored: map[string]int{"alice": 1, "bob": 1}},
		{name: "SMTP_SSL AUTH relays", profile: "default", mode: "smtps", tls: true, to: "someone@example.org", stored: map[string]int{"(relayed)": 1},
			check: func(t *testing.T, r smtplibResult) {
				if r.Login != 235 {
					t.Errorf("login: %d, want 235", r.Login)
				}
			}},
		{name: "SMTP_SSL on hardened", profile: "hardened", mode: "smtps", tls: true, to: "bob@lab.smtpsh.test",
			check: func(t *testing.T, r smtplibResult) {
				// Implicit TLS counts as TLS and AUTH succeeds, but the
				// first attempt is greylisted.
				if r.Login != 235 || !strings.Contains(r.SMTPError, "450") {
					t.Errorf("login %d, error %q; want 235 then a 450 refusal", r.Login, r.SMTPError)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := startPeerLab(t, loadPeerProfile(t, tc.profile, nil))
			marker := "smtplib-" + strings.ReplaceAll(tc.name, " ", "-")
			port := l.port
			if tc.tls {
				port = l.tlsPort
			}
			r := run(t, l, tc.mode, port, l.caFile, tc.to, marker)
			if r.VerifyError != "" {
				t.Fatalf("certificate verification failed: %s", r.VerifyError)
			}
			if tc.mode != "plain" && tc.mode != "vrfy" && r.TLS != "TLSv1.3" {
				t.Errorf("TLS version %q, want TLSv1.3", r.TLS)
			}
			if tc.stored != nil && (!r.Sent || r.SMTPError != "") {
				t.Errorf("smtplib did not send: %q", r.SMTPError)
			}
			if tc.stored == nil {
				tc.stored = map[string]int{}
			}
			if got := storedWith(l.st, marker); formatStored(got) != formatStored(tc.stored) {
				t.Errorf("stored %s, want %s", formatStored(got), formatStored(tc.stored))
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}

	// A certificate the client does not trust must fail verification: the
	// cases above verified something.
	t.Run("STARTTLS untrusted certificate", func(t *testing.T) {
		l := startPeerLab(t, loadPeerProfile(t, "default", nil))
		other, err := selfsigned.Certificate("lab.smtpsh.test")
		if err != nil {
			t.Fatal(err)
		}
		otherPEM, _, err := selfsigned.PEM(other)
		if err != nil {
			t.Fatal(err)
		}
		ca := filepath.Join(t.TempDir(), "other.pem")
		if err := os.WriteFile(ca, otherPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		r := run(t, l, "starttls", l.port, ca, "alice@lab.smtpsh.test", "untrusted")
		// OpenSSL's wording varies between versions ("self-signed
		// certificate", "self signed certificate", …): any failure will do.
		if r.VerifyError == "" {
			t.Errorf("STARTTLS with a certificate signed by no trusted key verified (result %+v)", r)
		}
		if r.Sent || len(l.st.Mailbox("alice")) != 0 {
			t.Errorf("a message was sent over an unverified connection")
		}
	})

	// smtplib's verify() is VRFY: the answer is the profile's policy.
	for _, tc := range []struct {
		profile        string
		alice, unknown int
	}{
		{"enum", 250, 550},     // reveal: users exist or not (RFC 5321 §3.5.3)
		{"default", 252, 252},  // cannot-verify, as Postfix with VRFY answers for unknown lookups
		{"htb", 252, 252},      // VRFY tells you nothing
		{"hardened", 502, 502}, // disabled (Postfix's disable_vrfy_command)
	} {
		t.Run("VRFY on "+tc.profile, func(t *testing.T) {
			l := startPeerLab(t, loadPeerProfile(t, tc.profile, func(p *lab.Profile) { p.Limits.ErrorDelay = 0 }))
			r := run(t, l, "vrfy", l.port, l.caFile, "", "")
			if r.Alice != tc.alice || r.Unknown != tc.unknown || r.SMTPError != "" {
				t.Errorf("VRFY alice: %d, VRFY nobody-here: %d (%s); want %d, %d", r.Alice, r.Unknown, r.SMTPError, tc.alice, tc.unknown)
			}
		})
	}
}

// nmapRun is the part of nmap's XML output (-oX) the test reads.
type nmapRun struct {
	Ports []struct {
		ID    string `xml:"portid,attr"`
		State struct {
			State string `xml:"state,attr"`
		} `xml:"state"`
		Service struct {
			Name    string `xml:"name,attr"`
			Product string `xml:"product,attr"`
		} `xml:"service"`
		Scripts []struct {
			ID     string `xml:"id,attr"`
			Output string `xml:"output,attr"`
		} `xml:"script"`
	} `xml:"host>ports>port"`
}

// nmapUsernames reads the name list smtp-enum-users tries (unpwdb's
// default), in order.
func nmapUsernames(t *testing.T, nmap string) []string {
	t.Helper()
	// nmap looks for its data next to its binary first (../share/nmap).
	dirs := []string{filepath.Join(filepath.Dir(nmap), "..", "share", "nmap"), "/usr/share/nmap", "/usr/local/share/nmap"}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "nselib", "data", "usernames.lst"))
		if err != nil {
			continue
		}
		var names []string
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#!") {
				names = append(names, line)
			}
		}
		return names
	}
	t.Fatalf("nmap's nselib/data/usernames.lst not found in %v", dirs)
	return nil
}

// TestPeerNmap runs nmap's SMTP scripts against the lab, as the issue's
// command line does: -sV because nmap runs them on a port other than
// 25/465/587 only once service detection says "smtp", -n so nothing is
// resolved, plus -Pn (the host is up) and --version-light (fewer probes).
// Service detection alone takes about 12 s (nmap waits 6 s for more after
// the banner, then 5 s after its GenericLines probe, as it would with
// Postfix), so the profiles are scanned at the same time.
func TestPeerNmap(t *testing.T) {
	nmap := peertest.Program(t, "nmap")
	everyName := nmapUsernames(t, nmap)
	tests := []struct {
		profile string
		// relay is the start of smtp-open-relay's verdict.
		relay string
		// users are the names smtp-enum-users reports, in order; note is
		// a line it prints besides them.
		users []string
		note  string
		// commands is smtp-commands' first line: the EHLO reply.
		commands string
	}{
		{profile: "default",
			relay: "Server doesn't seem to be an open relay, all tests failed",
			// RCPT to nmap.scanme.org is refused as relaying (554, which
			// the script does not handle), and VRFY answers 252, which
			// the script takes as "VRFY not permitted".
			note:     "Method RCPT returned a unhandled status code.",
			commands: "lab.smtpsh.test, PIPELINING, SIZE 10240000, VRFY, ETRN, STARTTLS, ENHANCEDSTATUSCODES, 8BITMIME, DSN, SMTPUTF8, CHUNKING"},
		{profile: "open-relay",
			relay: "Server is an open relay (",
			// An open relay accepts RCPT TO:<name@nmap.scanme.org> for
			// every name: the script's RCPT method then "finds" its whole
			// list, a false positive a student should learn to read.
			users:    everyName,
			commands: "lab.smtpsh.test, PIPELINING, SIZE 10240000, VRFY, ETRN, STARTTLS, ENHANCEDSTATUSCODES, 8BITMIME, DSN, SMTPUTF8, CHUNKING"},
		{profile: "htb",
			relay: "Server is an open relay (",
			users: everyName,
			// The list for htb; no STARTTLS, no AUTH. The domain
			// is the hostname, the banner's text is "ESMTP Server".
			commands: "lab.smtpsh.test, PIPELINING, SIZE 10240000, VRFY, ETRN, ENHANCEDSTATUSCODES, 8BITMIME, DSN, SMTPUTF8, CHUNKING"},
		{profile: "enum",
			relay: "Server doesn't seem to be an open relay, all tests failed",
			// RCPT is refused as relaying; VRFY then reveals root and
			// admin (aliases of alice) and answers the third name,
			// "administrator", with 550, on which the script stops.
			users:    []string{"root", "admin"},
			note:     "Method RCPT returned a unhandled status code.",
			commands: "lab.smtpsh.test, PIPELINING, SIZE 10240000, VRFY, EXPN, ETRN, STARTTLS, ENHANCEDSTATUSCODES, 8BITMIME, DSN, SMTPUTF8, CHUNKING"},
		{profile: "hardened",
			// MAIL before STARTTLS gets 530, which both scripts read as
			// "authentication needed".
			relay:    "Server isn't an open relay, authentication needed",
			note:     "Couldn't perform user enumeration, authentication needed",
			commands: "lab.smtpsh.test, PIPELINING, SIZE 10240000, STARTTLS, ENHANCEDSTATUSCODES, 8BITMIME, DSN, SMTPUTF8, CHUNKING"},
	}
	// Start every lab, then every nmap at once: each run is mostly
	// waiting, and t.Parallel would run only GOMAXPROCS of them at a time.
	type result struct {
		out  []byte
		err  error
		took time.Duration
	}
	labs := make([]*peerLab, len(tests))
	profiles := make([]*lab.Profile, len(tests))
	results := make([]result, len(tests))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i, tc := range tests {
		profiles[i] = loadPeerProfile(t, tc.profile, func(p *lab.Profile) { p.Limits.ErrorDelay = 0 })
		labs[i] = startPeerLab(t, profiles[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			cmd := exec.CommandContext(ctx, nmap, "-n", "-Pn", "-sV", "--version-light", "-p", labs[i].port,
				"--script", "smtp-commands,smtp-open-relay,smtp-enum-users", "-oX", "-", "127.0.0.1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr // not in the XML
			out, err := cmd.Output()
			if err != nil {
				err = fmt.Errorf("%w: %s", err, stderr.Bytes())
			}
			results[i] = result{out, err, time.Since(start)}
		}()
	}
	wg.Wait()
	for i, tc := range tests {
		t.Run(tc.profile, func(t *testing.T) {
			p, l, res := profiles[i], labs[i], results[i]
			t.Logf("nmap took %v", res.took.Round(100*time.Millisecond))
			if res.err != nil {
				t.Fatalf("nmap: %v\n%s", res.err, res.out)
			}
			var run nmapRun
			if err := xml.Unmarshal(res.out, &run); err != nil {
				t.Fatalf("nmap's XML: %v\n%s", err, res.out)
			}
			if len(run.Ports) != 1 || run.Ports[0].ID != l.port || run.Ports[0].State.State != "open" {
				t.Fatalf("nmap reports ports %+v, want %s open", run.Ports, l.port)
			}
			port := run.Ports[0]
			if port.Service.Name != "smtp" {
				t.Errorf("service %q, want smtp", port.Service.Name)
			}
			scripts := map[string]string{}
			for _, s := range port.Scripts {
				scripts[s.ID] = s.Output
			}
			t.Logf("nmap identified %q %q; scripts: %q", port.Service.Name, port.Service.Product, scripts)

			if relay := strings.TrimSpace(scripts["smtp-open-relay"]); !strings.HasPrefix(relay, tc.relay) {
				t.Errorf("smtp-open-relay: %q, want %q…", relay, tc.relay)
			}

			// smtp-enum-users prints one name or message per line.
			var users []string
			var notes []string
			for _, line := range strings.Split(scripts["smtp-enum-users"], "\n") {
				switch line = strings.TrimSpace(line); {
				case line == "":
				case slices.Contains(everyName, line):
					users = append(users, line)
				default:
					notes = append(notes, line)
				}
			}
			if !slices.Equal(users, tc.users) {
				t.Errorf("smtp-enum-users found %q, want %q", users, tc.users)
			}
			if tc.note != "" && !slices.Contains(notes, tc.note) || tc.note == "" && len(notes) > 0 {
				t.Errorf("smtp-enum-users said %q, want %q", notes, tc.note)
			}
			// Whatever it found must be a name the lab knows (or, on
			// an open relay, anything at all).
			if p.Policy.Relay != lab.RelayOpen {
				known := p.Directory()
				for _, u := range users {
					if !slices.ContainsFunc(known.Users, func(x lab.User) bool { return x.Name == u }) &&
						!slices.ContainsFunc(known.Aliases, func(x lab.Alias) bool { return x.Name == u }) &&
						!slices.ContainsFunc(known.Lists, func(x lab.List) bool { return x.Name == u }) {
						t.Errorf("smtp-enum-users reports %q, which the lab's directory does not have", u)
					}
				}
			}

			cmds, _, _ := strings.Cut(strings.TrimSpace(scripts["smtp-commands"]), "\n")
			if cmds != tc.commands {
				t.Errorf("smtp-commands: %q\nwant           %q", cmds, tc.commands)
			}
		})
	}
}

// compareServer is one side of TestPeerPostfixComparison: where it listens
// and the values the command templates take there.
type compareServer struct {
	name   string
	addr   string
	domain string // replaces {domain}: the local mail domain
	pass   string // alice's password, for {plain}
	tls    *tls.Config
}

// expand fills a command template for s.
func (s compareServer) expand(line string) string {
	return strings.NewReplacer(
		"{domain}", s.domain,
		"{plain}", smtp.EncodePlain("", "alice", s.pass),
	).Replace(line)
}

// compareConn is a session with one compareServer.
type compareConn struct {
	t    *testing.T
	srv  compareServer
	conn net.Conn
	rr   *smtp.ReplyReader
}

func dialCompare(t *testing.T, s compareServer) *compareConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	return &compareConn{t: t, srv: s, conn: conn, rr: smtp.NewReplyReader(conn, nil)}
}

func (c *compareConn) read(what string) *smtp.Reply {
	c.t.Helper()
	r, err := c.rr.ReadReply()
	if err != nil {
		c.t.Fatalf("%s: reading the reply to %q: %v", c.srv.name, what, err)
	}
	return r
}

// do sends one step and reads its reply; after a 220 to STARTTLS it
// upgrades the connection (RFC 3207 §4.2).
func (c *compareConn) do(s compareStep) *smtp.Reply {
	c.t.Helper()
	text := c.srv.expand(s.send)
	if !s.raw {
		text += "\r\n"
	}
	if _, err := c.conn.Write([]byte(text)); err != nil {
		c.t.Fatalf("%s: sending %q: %v", c.srv.name, s.send, err)
	}
	r := c.read(s.send)
	if strings.EqualFold(s.send, "STARTTLS") && r.Code == 220 {
		tc := tls.Client(c.conn, c.srv.tls)
		if err := tc.Handshake(); err != nil {
			c.t.Fatalf("%s: TLS handshake: %v", c.srv.name, err)
		}
		c.conn = tc
		c.rr = smtp.NewReplyReader(tc, nil)
	}
	return r
}

// compareStep is one client line (or raw message text) of a sequence.
type compareStep struct {
	send string
	raw  bool // send as is (message text), without an added CRLF
	ehlo bool // compare the EHLO capabilities too
}

// replyCode formats a reply's code and enhanced code: "250 2.1.0", "220".
func replyCode(r *smtp.Reply) string {
	return strings.TrimSpace(fmt.Sprintf("%d %s", r.Code, r.Enhanced))
}

// capabilitySet formats an EHLO reply's extensions as "KEYWORD params".
func capabilitySet(t *testing.T, r *smtp.Reply) []string {
	t.Helper()
	caps, _ := smtp.ParseEHLO(r)
	var out []string
	for _, kw := range caps.Keywords() {
		c, _ := caps.Get(kw)
		out = append(out, strings.TrimSpace(kw+" "+strings.Join(c.Params, " ")))
	}
	return out
}

// personality is a documented difference between the lab's default
// profile and Postfix (as postfix-lab.sh configures it) for one step.
type personality struct {
	postfix, lab string // replyCode of each
	why          string
}

// TestPeerPostfixComparison sends the same command sequences to Postfix
// (postfix-lab.sh, domain smtpsh-lab.local) and to the lab's default
// profile (domain lab.smtpsh.test), each sequence in a fresh session on
// both, and compares the reply codes and enhanced codes step by step.
// Every difference must be one of the personality choices documented in
// the table below, with the codes it has today; an undocumented difference
// fails, and so does a documented one that no longer happens (the table
// must stay true).
func TestPeerPostfixComparison(t *testing.T) {
	pfAddr := peertest.Postfix(t)
	l := startPeerLab(t, loadPeerProfile(t, "default", nil))
	cert, err := peerCert()
	if err != nil {
		t.Fatal(err)
	}
	servers := [2]compareServer{
		// Postfix's lab certificate is its own self-signed one; what is
		// compared here is SMTP, not the certificate.
		{name: "postfix", addr: pfAddr, domain: "smtpsh-lab.local", pass: "alicepass",
			tls: &tls.Config{InsecureSkipVerify: true}},
		{name: "lab", addr: l.addr, domain: "lab.smtpsh.test", pass: "wonderland",
			tls: &tls.Config{RootCAs: selfsigned.Pool(cert), ServerName: "lab.smtpsh.test"}},
	}

	line := func(s string) compareStep { return compareStep{send: s} }
	ehlo := compareStep{send: "EHLO client.example", ehlo: true}
	message := compareStep{send: "Subject: smtpsh peer comparison\r\n\r\nsame text for both\r\n..dot-stuffed line\r\n.\r\n", raw: true}
	// Sequences are short: Postfix delays every error reply by a second
	// from the tenth error of a session on (smtpd_soft_error_limit).
	sequences := []struct {
		name  string
		steps []compareStep
	}{
		{"greeting only", nil},
		{"EHLO", []compareStep{ehlo, line("QUIT")}},
		{"HELO", []compareStep{line("HELO client.example"), line("MAIL FROM:<student@example.net>"), line("QUIT")}},
		{"NOOP and RSET", []compareStep{ehlo, line("NOOP"), line("NOOP hello there"), line("RSET"), line("RSET now")}},
		{"VRFY", []compareStep{ehlo, line("VRFY alice"), line("VRFY <alice@{domain}>"), line("VRFY nobody-here"), line("VRFY")}},
		{"MAIL before HELO", []compareStep{line("MAIL FROM:<student@example.net>")}},
		{"HELP", []compareStep{line("HELP")}},
		{"local delivery", []compareStep{ehlo, line("MAIL FROM:<student@example.net>"),
			line("RCPT TO:<alice@{domain}>"), line("RCPT TO:<root@{domain}>"), line("RCPT TO:<team@{domain}>"),
			line("RCPT TO:<Postmaster>"), line("RCPT TO:<bob@localhost>"), line("DATA"), message, line("QUIT")}},
		{"relay without AUTH", []compareStep{ehlo, line("MAIL FROM:<student@example.net>"), line("RCPT TO:<someone@example.org>"), line("DATA")}},
		{"unknown local user", []compareStep{ehlo, line("MAIL FROM:<student@example.net>"), line("RCPT TO:<nobody-here@{domain}>")}},
		{"address literal", []compareStep{ehlo, line("MAIL FROM:<student@example.net>"), line("RCPT TO:<alice@[127.0.0.1]>")}},
		{"nested MAIL", []compareStep{ehlo, line("MAIL FROM:<student@example.net>"), line("MAIL FROM:<other@example.net>")}},
		{"RCPT before MAIL", []compareStep{ehlo, line("RCPT TO:<alice@{domain}>")}},
		{"DATA before MAIL", []compareStep{ehlo, line("DATA")}},
		{"DATA before RCPT", []compareStep{ehlo, line("MAIL FROM:<student@example.net>"), line("DATA")}},
		{"bad MAIL syntax", []compareStep{ehlo, line("MAIL FROM:<student@example.net"), line("MAIL TO:<student@example.net>"),
			line("MAIL FROM:<a b@example.net>"), line("MAIL FROM:<student@example.net> FOO=bar"), line("MAIL FROM:<student@example.net> BODY=9BIT"),
			line("MAIL FROM:<student@example.net> SIZE=999999999999")}},
		{"bad RCPT syntax", []compareStep{ehlo, line("MAIL FROM:<student@example.net>"), line("RCPT TO:<>"), line("RCPT TO:<alice@@{domain}>"),
			line("RCPT FROM:<alice@{domain}>"), line("RCPT TO:<alice@{domain}> NOTIFY=BOGUS"), line("RCPT TO:<alice@{domain}> FOO=1"),
			line("RCPT TO:alice")}},
		{"tolerated forms", []compareStep{ehlo, line("MAIL FROM: <student@example.net>"), line("RSET"), line("mail from:<student@example.net>"),
			line("rcpt to:<alice@{domain}>"), line("RSET"), line("MAIL FROM:student@example.net"), line("RCPT TO:alice@{domain}")}},
		{"unknown command", []compareStep{ehlo, line("FOOBAR"), line("EXPN team"), line("NOOP")}},
		{"ETRN", []compareStep{ehlo, line("ETRN {domain}"), line("ETRN")}},
		{"ETRN in a transaction", []compareStep{ehlo, line("MAIL FROM:<student@example.net>"), line("ETRN {domain}")}},
		{"AUTH before TLS", []compareStep{ehlo, line("AUTH PLAIN {plain}")}},
		{"AUTH after HELO", []compareStep{line("HELO client.example"), line("AUTH PLAIN {plain}")}},
		{"STARTTLS, AUTH, relay", []compareStep{ehlo, line("STARTTLS"), ehlo, line("AUTH PLAIN {plain}"),
			line("MAIL FROM:<alice@{domain}>"), line("RCPT TO:<someone@example.org>"), line("RSET"), line("STARTTLS"), line("QUIT")}},
		{"STARTTLS with an argument", []compareStep{ehlo, line("STARTTLS now")}},
		{"QUIT", []compareStep{ehlo, line("QUIT")}},
		// smtpd_hard_error_limit counts the errors a client makes
		// "without delivering mail": Postfix starts again from zero after
		// a delivery, so 21 errors around one do not reach its limit of
		// 20 (nor the lab's max_errors, which names it).
		{name: "error limit resets after a delivery", steps: slices.Concat(
			[]compareStep{ehlo}, slices.Repeat([]compareStep{line("FOOBAR")}, 9),
			[]compareStep{line("MAIL FROM:<student@example.net>"), line("RCPT TO:<alice@{domain}>"), line("DATA"), message},
			slices.Repeat([]compareStep{line("FOOBAR")}, 12), []compareStep{line("NOOP"), line("QUIT")})},
	}

	// Sequences that a lab bug keeps from passing today; each is reported.
	// Lab bugs this comparison found, skipped until fixed; none open.
	labBugs := map[string]string{}

	// The personality choices: step "sequence / line" → the codes.
	documented := map[string]personality{
		"MAIL before HELO / MAIL FROM:<student@example.net>": {"250 2.1.0", "503 5.5.1",
			"the lab sets helo_required (Postfix's smtpd_helo_required = yes) so students learn the greeting comes first; Postfix's default is no"},
		"HELP / HELP": {"500 5.5.2", "214 2.0.0",
			"Postfix does not implement HELP; the lab answers it (RFC 5321 §4.1.1.8) with the commands it knows"},
		"VRFY / VRFY nobody-here": {"550 5.1.1", "252 2.0.0",
			"Postfix looks the name up in local_recipient_maps; the lab's cannot-verify policy answers 252 for every name, so VRFY leaks nothing (RFC 5321 §3.5.3)"},
		"unknown command / EXPN team": {"500 5.5.2", "502 5.5.1",
			"Postfix has no EXPN at all; the lab implements it and the default profile disables it, with Postfix's wording for a disabled VRFY"},
		"address literal / RCPT TO:<alice@[127.0.0.1]>": {"250 2.1.5", "554 5.7.1",
			"Postfix treats a literal of its own address as a local domain (RFC 5321 §4.1.3; Postfix's inet_interfaces), so alice@[127.0.0.1] is alice; the lab's local domains are names only, so a literal is relaying"},
		"DATA before RCPT / DATA": {"554 5.5.1", "503 5.5.1",
			"RFC 5321 §3.3 allows 503 (bad sequence) or 554 (no valid recipients) here; Postfix answers 554 once MAIL was given, the lab 503 \"need RCPT command\""},
		"relay without AUTH / DATA": {"554 5.5.1", "503 5.5.1",
			"as in \"DATA before RCPT\": every RCPT was refused"},
		"bad MAIL syntax / MAIL FROM:<student@example.net> BODY=9BIT": {"555 5.5.4", "501 5.5.4",
			"Postfix answers a BODY value it does not know as an unsupported option (555, RFC 5321 §4.1.1.11); the lab's parser treats it as a syntax error in a known parameter (501, RFC 6152 §2 lists the values)"},
		"bad MAIL syntax / MAIL FROM:<student@example.net": {"501 5.1.7", "501 5.5.4",
			"Postfix says 5.1.7 (bad sender mailbox syntax, RFC 3463) for a path it cannot parse; the lab's parser reports every syntax error as 5.5.4 with the column"},
		"bad MAIL syntax / MAIL FROM:<a b@example.net>": {"501 5.1.7", "501 5.5.4",
			"as above: 5.1.7 (Postfix) vs 5.5.4 with a column (lab)"},
		"bad RCPT syntax / RCPT TO:<>": {"501 5.1.3", "501 5.5.4",
			"Postfix says 5.1.3 (bad destination mailbox syntax, RFC 3463); the lab's parser says 5.5.4 and why (RFC 5321 §4.1.1.3: no null forward-path)"},
		"bad RCPT syntax / RCPT TO:<alice@@{domain}>": {"501 5.1.3", "501 5.5.4",
			"as above: 5.1.3 (Postfix) vs 5.5.4 with a column (lab)"},
		"bad RCPT syntax / RCPT TO:alice": {"250 2.1.5", "501 5.5.4",
			"Postfix appends $myorigin to a bare local part (append_at_myorigin); the lab tolerates a missing <> but not a missing domain, which RFC 5321 §4.1.2 allows only for Postmaster"},
		"ETRN / ETRN {domain}": {"459", "250 2.0.0",
			"postfix-lab.sh sets no fast_flush_domains, so Postfix refuses with 459 (and no enhanced code); the lab's etrn_code is 250"},
		"ETRN / ETRN": {"500", "501 5.5.4",
			"Postfix answers a missing ETRN argument with \"500 Syntax: ETRN domain\" and no enhanced code; the lab with 501 5.5.4 (RFC 5321 §4.2.2: 501 is a syntax error in arguments)"},
		"ETRN in a transaction / ETRN {domain}": {"503", "503 5.5.1",
			"Postfix's \"503 Error: MAIL transaction in progress\" for ETRN has no enhanced code; the lab gives every reply one (RFC 2034)"},
		"AUTH after HELO / AUTH PLAIN {plain}": {"235 2.7.0", "503 5.5.1",
			"AUTH is an ESMTP extension (RFC 4954 §3): the lab refuses it in a HELO session (\"authentication not enabled\"), Postfix allows it"},
		"AUTH before TLS / AUTH PLAIN {plain}": {"235 2.7.0", "538 5.7.11",
			"postfix-lab.sh offers AUTH before TLS (smtpd_tls_auth_only = no) so its tests can use it; the lab's default is tls_only, Postfix's recommended setting (RFC 4954 §4, 538)"},
	}
	// Capability differences in EHLO replies: sequence / step → the
	// extensions only Postfix has and only the lab has.
	documentedCaps := map[string]struct {
		postfixOnly, labOnly []string
		why                  string
	}{
		"EHLO / EHLO client.example (1)": {[]string{"AUTH PLAIN LOGIN", "SIZE 52428800"}, []string{"SIZE 10240000"},
			"AUTH before TLS (smtpd_tls_auth_only = no, see above); message_size_limit 50 MB vs the lab's 10240000, the htb figure"},
		"STARTTLS, AUTH, relay / EHLO client.example (3)": {[]string{"AUTH PLAIN LOGIN", "SIZE 52428800"}, []string{"AUTH PLAIN LOGIN CRAM-MD5", "SIZE 10240000"},
			"Dovecot offers PLAIN and LOGIN; the lab offers CRAM-MD5 too"},
	}
	// Sequences whose first EHLO is compared: the same two entries as
	// EHLO's apply to every sequence's plaintext EHLO.
	seenDoc := map[string]bool{}
	seenCaps := map[string]bool{}

	for _, seq := range sequences {
		t.Run(seq.name, func(t *testing.T) {
			if why, ok := labBugs[seq.name]; ok {
				t.Skip(why)
			}
			var conns [2]*compareConn
			for i, s := range servers {
				conns[i] = dialCompare(t, s)
			}
			check := func(key string, rs [2]*smtp.Reply) {
				t.Helper()
				pf, lb := replyCode(rs[0]), replyCode(rs[1])
				if d, ok := documented[key]; ok {
					seenDoc[key] = true
					if pf != d.postfix || lb != d.lab {
						t.Errorf("%s: Postfix %q, lab %q; documented as Postfix %s, lab %s (%s)\npostfix: %s\nlab:     %s",
							key, pf, lb, d.postfix, d.lab, d.why, rs[0], rs[1])
					}
					return
				}
				if pf != lb {
					t.Errorf("%s: undocumented difference: Postfix %s, lab %s\npostfix: %s\nlab:     %s", key, pf, lb, rs[0], rs[1])
				}
			}
			var rs [2]*smtp.Reply
			for i, c := range conns {
				rs[i] = c.read("the greeting")
			}
			check(seq.name+" / greeting", rs)
			for n, step := range seq.steps {
				for i, c := range conns {
					rs[i] = c.do(step)
				}
				key := seq.name + " / " + step.send
				check(key, rs)
				if !step.ehlo || rs[0].Code != 250 || rs[1].Code != 250 {
					continue
				}
				capKey := fmt.Sprintf("%s (%d)", key, n+1)
				if !strings.HasPrefix(seq.name, "STARTTLS") || n == 0 {
					capKey = "EHLO / EHLO client.example (1)" // every plaintext EHLO
				}
				pf, lb := capabilitySet(t, rs[0]), capabilitySet(t, rs[1])
				var pfOnly, labOnly []string
				for _, c := range pf {
					if !slices.Contains(lb, c) {
						pfOnly = append(pfOnly, c)
					}
				}
				for _, c := range lb {
					if !slices.Contains(pf, c) {
						labOnly = append(labOnly, c)
					}
				}
				slices.Sort(pfOnly)
				slices.Sort(labOnly)
				d, ok := documentedCaps[capKey]
				seenCaps[capKey] = true
				if !ok || !slices.Equal(pfOnly, d.postfixOnly) || !slices.Equal(labOnly, d.labOnly) {
					t.Errorf("%s (step %d): EHLO extensions only Postfix has %q, only the lab has %q; documented %q and %q\npostfix: %q\nlab:     %q",
						key, n+1, pfOnly, labOnly, d.postfixOnly, d.labOnly, pf, lb)
				}
			}
		})
	}
	if t.Failed() {
		return
	}
	for key, d := range documented {
		if !seenDoc[key] {
			t.Errorf("documented difference %q (%s) is not a step of any sequence", key, d.why)
		}
	}
	for key := range documentedCaps {
		if !seenCaps[key] {
			t.Errorf("documented capability difference %q is not a step of any sequence", key)
		}
	}
}
