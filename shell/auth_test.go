package shell

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/smtpsh/smtpsh/internal/dial"
	"github.com/smtpsh/smtpsh/transcripts"
)

// startImplicitTLSLab starts the lab with profile on an implicit-TLS loopback
// listener (RFC 8314 §3.3) until the test ends.
func startImplicitTLSLab(t testing.TB, profile string) string {
	t.Helper()
	return runLab(t, profile, labOptions{implicitTLS: true}).addr
}

func TestAuthLab(t *testing.T) {
	const pass = "wonderland" // the default profile's alice
	plainB64 := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + pass))
	tests := []struct {
		name    string
		tls     bool
		env     bool // SMTPSH_PASSWORD set
		lines   []string
		want    []string
		notWant []string
		exit    int // 0: no error
	}{
		{
			// The default profile keeps AUTH for TLS (RFC 4954 §6): the
			// shell sends no secret before the 538.
			name:    "plain before TLS gets 538, no secret sent",
			env:     true,
			lines:   []string{"EHLO client.example", ":auth plain alice", "expect 538"},
			want:    []string{"C: AUTH PLAIN\n", "S: 538 5.7.11", "no TLS: the password would cross the network in clear text", "expect 538: ok"},
			notWant: []string{pass, plainB64},
		},
		{
			name:    "plain on implicit TLS authenticates",
			tls:     true,
			env:     true,
			lines:   []string{"EHLO client.example", ":auth plain alice", "expect 235"},
			want:    []string{"C: AUTH PLAIN ********", `PLAIN: authzid "", user "alice", password ********`, "S: 235 2.7.0", "expect 235: ok"},
			notWant: []string{pass, plainB64},
		},
		{
			// The 334 challenges are answered by the session loop's next
			// step: no typing by hand.
			name:    "login on implicit TLS answers both challenges",
			tls:     true,
			env:     true,
			lines:   []string{"EHLO client.example", ":auth login alice", "expect 235"},
			want:    []string{"S: 334 VXNlcm5hbWU6", "S: 334 UGFzc3dvcmQ6", "S: 235 2.7.0", "expect 235: ok"},
			notWant: []string{pass, base64.StdEncoding.EncodeToString([]byte(pass))},
		},
		{
			name:    "cram-md5 on implicit TLS",
			tls:     true,
			env:     true,
			lines:   []string{"EHLO client.example", ":auth cram-md5 alice", "expect 235"},
			want:    []string{"S: 235 2.7.0", "expect 235: ok"},
			notWant: []string{pass},
		},
		{
			name:  "no password in a script",
			lines: []string{"EHLO client.example", ":auth login alice"},
			want:  []string{"no password: in a script, set SMTPSH_PASSWORD"},
			exit:  ExitProtocol,
		},
		{
			name:  "unknown mechanism",
			env:   true,
			lines: []string{"EHLO client.example", ":auth digest-md5 alice"},
			want:  []string{`unknown mechanism "digest-md5"`},
		},
		{
			name:  "missing user",
			lines: []string{"EHLO client.example", ":auth plain"},
			want:  []string{":auth plain|login|cram-md5|scram-sha-1|scram-sha-256|xoauth2|oauthbearer|any USER"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env {
				t.Setenv(PasswordEnv, pass)
			} else {
				t.Setenv(PasswordEnv, "")
			}
			var cfg Config
			var addr string
			if tc.tls {
				addr = startImplicitTLSLab(t, "default")
				cfg.Dialer = &TransportDialer{Options: dial.Options{TLS: true, TLSConfig: dial.TLSOptions{Insecure: true}}}
			} else {
				addr, _ = startLab(t, "default")
			}
			out, s, err := runLines(t, addr, cfg, tc.lines...)
			for _, w := range tc.want {
				if !strings.Contains(out+"\n", w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output shows the secret %q:\n%s", w, out)
				}
			}
			switch code := exitCode(err); {
			case code != tc.exit:
				t.Errorf("exit %d (%v), want %d", code, err, tc.exit)
			}
			var b bytes.Buffer
			if err := transcripts.Write(&b, s.Transcript(), transcripts.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.notWant {
				if strings.Contains(b.String(), w) {
					t.Errorf("the written transcript holds the secret %q:\n%s", w, b.String())
				}
			}
		})
	}
}

func TestSASLClientAnswer(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name       string
		mech       string
		user, pass string
		challenges []string
		resps      []string // decoded
		shown      []string
		noteHas    []string
	}{
		{
			// RFC 2195 §2's example exchange.
			name: "CRAM-MD5 RFC 2195 example", mech: "cram-md5", user: "tim", pass: "tanstaaftanstaaf",
			challenges: []string{b64("<1896.697170952@postoffice.reston.mci.net>")},
			resps:      []string{"tim b913a602c7eda7a495b4e6e7334d3890"},
			noteHas:    []string{`challenge decodes to "<1896.697170952@postoffice.reston.mci.net>"`, "b913a602c7eda7a495b4e6e7334d3890"},
		},
		{
			// Exim, Postfix (Cyrus, Dovecot) and Exchange prompt
			// "Username:" then "Password:".
			name: "LOGIN Username: Password:", mech: "LOGIN", user: "alice", pass: "wonderland",
			challenges: []string{"VXNlcm5hbWU6", "UGFzc3dvcmQ6"},
			resps:      []string{"alice", "wonderland"},
			shown:      []string{b64("alice"), "********"},
			noteHas:    []string{`challenge decodes to "Username:"`, `challenge decodes to "Password:"`, "answer: the password, ********"},
		},
		{
			// The draft's own prompts: "User Name" and "Password".
			name: "LOGIN draft prompts", mech: "login", user: "bob", pass: "builder",
			challenges: []string{b64("User Name"), b64("Password")},
			resps:      []string{"bob", "builder"},
		},
		{
			// The draft: clients should not depend on the prompt text.
			name: "LOGIN unknown prompts in order", mech: "login", user: "bob", pass: "builder",
			challenges: []string{b64("Who?"), b64("Secret?")},
			resps:      []string{"bob", "builder"},
		},
		{
			// RFC 4954 §4: "334 " with nothing asks for the initial
			// response that was not sent.
			name: "PLAIN empty challenge", mech: "plain", user: "alice", pass: "wonderland",
			challenges: []string{""},
			resps:      []string{"\x00alice\x00wonderland"},
			shown:      []string{"********"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newSASLClient(tc.mech, tc.user, tc.pass)
			if err != nil {
				t.Fatal(err)
			}
			var notes []string
			for i, ch := range tc.challenges {
				resp, shown, n, err := c.answer(ch)
				if err != nil {
					t.Fatalf("challenge %d: %v", i, err)
				}
				notes = append(notes, n...)
				got, err := base64.StdEncoding.DecodeString(resp)
				if err != nil {
					t.Fatalf("response %q is not base64: %v", resp, err)
				}
				if string(got) != tc.resps[i] {
					t.Errorf("response %d decodes to %q, want %q", i, got, tc.resps[i])
				}
				if tc.shown != nil && shown != tc.shown[i] {
					t.Errorf("response %d shown as %q, want %q", i, shown, tc.shown[i])
				}
				if strings.Contains(shown, tc.pass) || strings.Contains(strings.Join(n, " "), tc.pass) {
					t.Errorf("the password shows: %q %q", shown, n)
				}
			}
			all := strings.Join(notes, "\n")
			for _, w := range tc.noteHas {
				if !strings.Contains(all, w) {
					t.Errorf("notes lack %q:\n%s", w, all)
				}
			}
		})
	}
}

func TestSASLClientStart(t *testing.T) {
	tests := []struct {
		name       string
		mech       string
		withSecret bool
		line       string
		shown      string
	}{
		{"PLAIN with its initial response (RFC 4954 §4)", "plain", true, "AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=", "AUTH PLAIN ********"},
		{"PLAIN without TLS waits for 334", "plain", false, "AUTH PLAIN", "AUTH PLAIN"},
		{"LOGIN waits for its prompts", "login", true, "AUTH LOGIN", "AUTH LOGIN"},
		{"CRAM-MD5 has no initial response (RFC 2195 §2)", "cram-md5", true, "AUTH CRAM-MD5", "AUTH CRAM-MD5"},
		{"XOAUTH2 with its initial response, token hidden", "xoauth2", true, "AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB3b25kZXJsYW5kAQE=", "AUTH XOAUTH2 ********"},
		{"OAUTHBEARER without TLS waits for 334", "oauthbearer", false, "AUTH OAUTHBEARER", "AUTH OAUTHBEARER"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newSASLClient(tc.mech, "alice", "wonderland")
			if err != nil {
				t.Fatal(err)
			}
			line, shown, _, err := c.start(tc.withSecret)
			if err != nil {
				t.Fatal(err)
			}
			if line != tc.line || shown != tc.shown {
				t.Errorf("start = %q, %q; want %q, %q", line, shown, tc.line, tc.shown)
			}
		})
	}
}

func TestNewSASLClientRejects(t *testing.T) {
	tests := []struct{ name, mech, user, pass, want string }{
		{"unknown mechanism", "digest-md5", "a", "p", "unknown mechanism"},
		{"^A in an XOAUTH2 token (its field separator)", "xoauth2", "a", "t\x01auth=Bearer x", "^A"},
		{"empty token", "oauthbearer", "a", "", "empty token"},
		{"empty user", "plain", "", "p", "no user name"},
		{"CR LF in the user", "login", "a\r\nQUIT", "p", "CR or LF"},
		{"NUL in the password (RFC 4616 §2)", "plain", "a", "p\x00q", "NUL"},
		{"empty password", "plain", "a", "", "empty password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newSASLClient(tc.mech, tc.user, tc.pass)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestSASLSteps drives :auth's whole exchange against the lab on implicit
// TLS, each 334 challenge answered, as the session loop drives a
// meta-command's steps.
func TestSASLSteps(t *testing.T) {
	const pass = "wonderland"
	addr := startImplicitTLSLab(t, "default")
	for _, tc := range []struct {
		mech  string
		pass  string
		code  int
		wantC []string // client lines as shown
		notes []string
	}{
		{"login", pass, 235, []string{"C: AUTH LOGIN", "C: " + base64.StdEncoding.EncodeToString([]byte("alice")), "C: ********"},
			[]string{`challenge decodes to "Username:"`, `challenge decodes to "Password:"`}},
		{"cram-md5", pass, 235, []string{"C: AUTH CRAM-MD5"}, []string{"HMAC-MD5 of the challenge"}},
		{"plain", pass, 235, []string{"C: AUTH PLAIN ********"}, nil},
		// Postfix's wording for a bad password: 535 5.7.8.
		{"login", "wrong", 535, []string{"C: AUTH LOGIN"}, nil},
	} {
		t.Run(tc.mech+"/"+fmt.Sprint(tc.code), func(t *testing.T) {
			s, out, rr := stepSession(t, addr, Config{Dialer: &TransportDialer{Options: dial.Options{TLS: true, TLSConfig: dial.TLSOptions{Insecure: true}}}})
			drive(t, s, rr, func() step { s.sendLine("EHLO client.example"); return nil })
			c, err := newSASLClient(tc.mech, "alice", tc.pass)
			if err != nil {
				t.Fatal(err)
			}
			drive(t, s, rr, s.saslSteps(c, true))
			if s.last == nil || s.last.Code != tc.code {
				t.Fatalf("last reply %v, want %d\n%s", s.last, tc.code, out)
			}
			for _, w := range append(tc.wantC, tc.notes...) {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out.String(), tc.pass) || strings.Contains(out.String(), base64.StdEncoding.EncodeToString([]byte(tc.pass))) {
				t.Errorf("the password shows:\n%s", out)
			}
			var b bytes.Buffer
			if err := transcripts.Write(&b, s.Transcript(), transcripts.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(b.String(), base64.StdEncoding.EncodeToString([]byte(tc.pass))) {
				t.Errorf("the transcript holds the password:\n%s", b.String())
			}
		})
	}
}

// passwordTypist is a typist at a terminal that can read without echo: the
// password comes from ReadPassword, never from ReadLine, and every line
// offered to the history is kept.
type passwordTypist struct {
	*typist
	password string
	mu       sync.Mutex
	asked    []string
	history  []string
}

func (p *passwordTypist) ReadPassword(prompt string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, prompt)
	return []byte(p.password), nil
}

func (p *passwordTypist) SaveHistory(l string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.history = append(p.history, l)
	return nil
}

// TestAuthInteractive: at a terminal :auth asks for the password without
// echo, even when SMTPSH_PASSWORD is set, and neither it nor the AUTH line
// reaches the history.
func TestAuthInteractive(t *testing.T) {
	const pass = "wonderland"
	t.Setenv(PasswordEnv, "not-this-one")
	addr := startImplicitTLSLab(t, "default")
	kb, err := kbOnce()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Addr: addr, Name: "lab", KB: kb,
		Dialer: &TransportDialer{Options: dial.Options{TLS: true, TLSConfig: dial.TLSOptions{Insecure: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	ty := &passwordTypist{typist: newTypist(), password: pass}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), ty) }()
	ty.lines <- "EHLO client.example"
	ty.waitFor(t, "250 ")
	ty.lines <- ":auth plain alice"
	ty.waitFor(t, "S: 235")
	ty.lines <- ":quit"
	if err := <-done; err != nil {
		t.Fatalf("%v\n%s", err, ty.out.String())
	}
	ty.mu.Lock()
	defer ty.mu.Unlock()
	if len(ty.asked) != 1 || ty.asked[0] != "password for alice: " {
		t.Errorf("password prompts %q", ty.asked)
	}
	for _, h := range ty.history {
		if strings.Contains(h, pass) || strings.HasPrefix(strings.ToUpper(h), "AUTH") {
			t.Errorf("history holds %q", h)
		}
	}
	if out := ty.out.String(); strings.Contains(out, pass) || !strings.Contains(out, "C: AUTH PLAIN ********") {
		t.Errorf("output:\n%s", out)
	}
}
