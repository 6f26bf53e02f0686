package shell

import (
	"bytes"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/dial"
	"github.com/smtpsh/smtpsh/transcripts"
)

// TestAuthLabModern runs :auth with SCRAM, XOAUTH2, OAUTHBEARER and "any"
// against the lab's hardened profile on implicit TLS: the lab's server
// side (xdg-go/scram's server, the profile's tokens) and the shell's client
// side meet, right and wrong secrets alike.
func TestAuthLabModern(t *testing.T) {
	const (
		pass  = "wonderland"               // the directory's alice
		token = "ya29.lab-token-for-alice" // default.toml's [auth.tokens]
	)
	tests := []struct {
		name        string
		pass, token string
		lines       []string
		want        []string
		notWant     []string
		exit        int
	}{
		{
			name:  "scram-sha-256 authenticates and checks the server",
			pass:  pass,
			lines: []string{"EHLO client.example", ":auth scram-sha-256 alice", "expect 235"},
			want: []string{"C: AUTH SCRAM-SHA-256 biwsbj1hbGljZSxy", `client-first: gs2 header "n,,"`, `user "alice"`,
				"server-first: combined nonce", "4096 iterations", "client-final: channel binding \"biws\"",
				"server-final: server signature", "the server's signature checks out", "S: 235 2.7.0", "expect 235: ok"},
			notWant: []string{pass},
		},
		{
			name:  "scram-sha-1 authenticates",
			pass:  pass,
			lines: []string{"EHLO client.example", ":auth scram-sha-1 alice", "expect 235"},
			want:  []string{"C: AUTH SCRAM-SHA-1 ", "S: 235 2.7.0", "expect 235: ok"},
		},
		{
			name:  "scram with a wrong password fails at the proof",
			pass:  "looking-glass",
			lines: []string{"EHLO client.example", ":auth scram-sha-256 alice", "expect 535"},
			want:  []string{"client-final:", "S: 535 5.7.8", "expect 535: ok"},
		},
		{
			name:    "xoauth2 with the profile's token",
			token:   token,
			lines:   []string{"EHLO client.example", ":auth xoauth2 alice", "expect 235"},
			want:    []string{"C: AUTH XOAUTH2 ********", `XOAUTH2: user="alice" ^A auth=Bearer ********`, "S: 235 2.7.0"},
			notWant: []string{token},
		},
		{
			name:  "xoauth2 with a wrong token: Gmail's JSON, an empty answer, 535",
			token: "ya29.expired",
			lines: []string{"EHLO client.example", ":auth xoauth2 alice", "expect 535"},
			want: []string{"S: 334 eyJzdGF0dXMiOiI0MDAi", `the server refuses the token: status "400", scope needed "https://mail.google.com/"`,
				"answer: an empty line", "S: 535 5.7.8", "expect 535: ok"},
			notWant: []string{"ya29.expired"},
		},
		{
			name:    "oauthbearer with the profile's token",
			token:   token,
			lines:   []string{"EHLO client.example", ":auth oauthbearer alice", "expect 235"},
			want:    []string{"C: AUTH OAUTHBEARER ********", `gs2 header "n,a=alice,"`, "S: 235 2.7.0"},
			notWant: []string{token},
		},
		{
			name:  "oauthbearer with a wrong token: RFC 7628 §3.2.2 error, ^A, 535",
			token: "not-the-token",
			lines: []string{"EHLO client.example", ":auth oauthbearer alice", "expect 535"},
			want: []string{`status "invalid_token"`, "discovery at https://lab.smtpsh.test/.well-known/openid-configuration",
				"C: AQ==", "S: 535 5.7.8", "expect 535: ok"},
			notWant: []string{"not-the-token"},
		},
		{
			name:  "any picks SCRAM-SHA-256 and says why",
			pass:  pass,
			lines: []string{"EHLO client.example", ":auth any alice", "expect 235"},
			want:  []string{"choosing SCRAM-SHA-256: SCRAM-SHA-256 is the strongest advertised", "S: 235 2.7.0"},
		},
		{
			name:  "any with a token picks OAUTHBEARER",
			token: token,
			lines: []string{"EHLO client.example", ":auth any alice", "expect 235"},
			want:  []string{"choosing OAUTHBEARER: a token was given", "S: 235 2.7.0"},
		},
		{
			name:  "no token in a script",
			lines: []string{"EHLO client.example", ":auth xoauth2 alice"},
			want:  []string{"no token: in a script, set SMTPSH_OAUTH_TOKEN"},
			exit:  ExitProtocol,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(PasswordEnv, tc.pass)
			t.Setenv(TokenEnv, tc.token)
			addr := runLab(t, "hardened", labOptions{implicitTLS: true}).addr
			cfg := Config{Dialer: &TransportDialer{Options: dial.Options{TLS: true, TLSConfig: dial.TLSOptions{Insecure: true}}}}
			out, s, err := runLines(t, addr, cfg, tc.lines...)
			if testing.Verbose() {
				t.Log(out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output shows the secret %q:\n%s", w, out)
				}
			}
			if code := exitCode(err); code != tc.exit {
				t.Errorf("exit %d (%v), want %d", code, err, tc.exit)
			}
			var b bytes.Buffer
			if err := transcripts.Write(&b, s.Transcript(), transcripts.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, w := range append(tc.notWant, tc.token) {
				if w != "" && strings.Contains(b.String(), w) {
					t.Errorf("the written transcript holds the secret %q:\n%s", w, b.String())
				}
			}
		})
	}
}
