package shell

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// historyReader is a script that records what the session saves to the
// history.
type historyReader struct {
	LineReader
	saved []string
}

func (h *historyReader) SaveHistory(l string) error {
	h.saved = append(h.saved, l)
	return nil
}

// labProfile writes a profile file based on default with extra TOML and
// returns its path.
func labProfile(t *testing.T, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.toml")
	if err := os.WriteFile(path, []byte("name = \"test\"\ndescription = \"test\"\n"+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSASLExchange runs AUTH LOGIN (RFC 4954 §4, draft-murchison-sasl-login)
// by hand against the lab: the 334 challenges are explained, responses
// are not echoed, not saved in the history, and redacted in the written
// transcript, and the prompt shows the SASL state.
func TestSASLExchange(t *testing.T) {
	addr, _ := startLab(t, labProfile(t, "[auth]\ntls_only = false\n"))
	kb, err := kbOnce()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Addr: addr, KB: kb, Name: "lab"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	in := &historyReader{LineReader: Lines(&out,
		"EHLO client.example", "AUTH LOGIN", "YWxpY2U=", "d29uZGVybGFuZA==", "expect 235", "MAIL FROM:<alice@lab.smtpsh.test>", "QUIT")}
	if err := s.Run(context.Background(), in); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	text := out.String()
	for _, w := range []string{"S: 334 VXNlcm5hbWU6", "Username:", "C: <SASL response>", `LOGIN: user "alice"`,
		"LOGIN: the password, ********", "S: 235", "expect 235: ok"} {
		if !strings.Contains(text, w) {
			t.Errorf("output lacks %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "wonderland") {
		t.Errorf("the password is shown:\n%s", text)
	}
	for _, secret := range []string{"YWxpY2U=", "d29uZGVybGFuZA=="} {
		if strings.Contains(text, "C: "+secret) {
			t.Errorf("SASL response %s echoed:\n%s", secret, text)
		}
		for _, h := range in.saved {
			if strings.Contains(h, secret) {
				t.Errorf("SASL response %s saved in the history %q", secret, in.saved)
			}
		}
	}
	for _, h := range in.saved {
		if strings.HasPrefix(strings.ToUpper(h), "AUTH") {
			t.Errorf("AUTH line saved in the history: %q", in.saved)
		}
	}
	if want := []string{"EHLO client.example", "MAIL FROM:<alice@lab.smtpsh.test>", "QUIT"}; strings.Join(in.saved, "|") != strings.Join(want, "|") {
		t.Errorf("history %q, want %q", in.saved, want)
	}
	s.mu.Lock()
	authed := s.st.authed
	s.mu.Unlock()
	if !authed {
		t.Error("235 did not mark the session authenticated")
	}
	path := filepath.Join(t.TempDir(), "t.txt")
	if err := WriteTranscript(path, s.Transcript()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte("YWxpY2U=")) || bytes.Contains(b, []byte("d29uZGVybGFuZA==")) {
		t.Errorf("transcript holds a SASL response:\n%s", b)
	}
}

// TestCapabilityDiff checks that a second EHLO shows what the server
// added and removed, as after STARTTLS (RFC 3207 §4.2) or AUTH.
func TestCapabilityDiff(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn) {
		fmt.Fprint(c, "220 mx.example ESMTP\r\n")
		readLine(c)
		fmt.Fprint(c, "250-mx.example\r\n250-STARTTLS\r\n250-PIPELINING\r\n250 SIZE 100\r\n")
		readLine(c)
		fmt.Fprint(c, "250-mx.example\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 200\r\n")
		readLine(c)
		fmt.Fprint(c, "221 bye\r\n")
	})
	out, _, err := runLines(t, addr, Config{}, "EHLO a.example", "EHLO a.example", "QUIT")
	if err != nil {
		t.Fatal(err)
	}
	_, second, _ := strings.Cut(out, "S: 250 SIZE 200")
	for _, w := range []string{"+ AUTH PLAIN LOGIN", "+ SIZE 200", "- STARTTLS", "- SIZE 100"} {
		if !strings.Contains(second, w) {
			t.Errorf("diff lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(second, "PIPELINING\n") && strings.Contains(second, "+ PIPELINING") {
		t.Errorf("unchanged PIPELINING listed as added:\n%s", out)
	}
}

// TestSaveMeta checks :save writes the transcript so far.
func TestSaveMeta(t *testing.T) {
	addr, _ := startLab(t, "default")
	path := filepath.Join(t.TempDir(), "saved.txt")
	out, _, err := runLines(t, addr, Config{}, "NOOP", ":save "+path, "QUIT")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "transcript saved to "+path) {
		t.Errorf("no confirmation:\n%s", out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "C: NOOP") || strings.Contains(string(b), "C: QUIT") {
		t.Errorf(":save did not write the transcript as it was then:\n%s", b)
	}
}

// TestSASLNote checks what typed SASL messages are shown as, with the
// examples of RFC 4616 §4 and RFC 2195 §2: never the password.
func TestSASLNote(t *testing.T) {
	const craChallenge = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+" // <1896.697170952@postoffice.reston.mci.net>
	tests := []struct {
		name                  string
		mech, challenge, resp string
		initial               bool
		want                  string
	}{
		{"plain-initial-rfc4616", "PLAIN", "", "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", true, `PLAIN: authzid "", user "tim", password ********`},
		{"plain-authzid", "plain", "", "Ym9iAHRpbQBzZWNyZXQ=", false, `PLAIN: authzid "bob", user "tim", password ********`},
		{"plain-garbage", "PLAIN", "", "!!!", true, "does not decode as PLAIN"},
		{"login-username", "LOGIN", "VXNlcm5hbWU6", "dGlt", false, `LOGIN: user "tim"`},
		{"login-initial-username", "LOGIN", "", "dGlt", true, `LOGIN: user "tim"`},
		{"login-password", "LOGIN", "UGFzc3dvcmQ6", "dGFuc3RhYWZ0YW5zdGFhZg==", false, "LOGIN: the password, ********"},
		{"login-other-prompt-hidden", "LOGIN", "V2hvIGFyZSB5b3U/", "c2VjcmV0", false, "LOGIN: the password, ********"},
		{"cram-md5-rfc2195", "CRAM-MD5", craChallenge, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", false,
			`CRAM-MD5: user "tim", HMAC-MD5 digest b913a602c7eda7a495b4e6e7334d3890`},
		{"cram-md5-initial", "CRAM-MD5", "", "dGlt", true, "no initial response"},
		{"cancel", "LOGIN", "VXNlcm5hbWU6", "*", false, "cancels the AUTH exchange"},
		{"empty-initial", "PLAIN", "", "=", true, "empty initial response"},
		{"unknown-mechanism", "GSSAPI", "", "dXNlcj0=", true, ""},
		{"xoauth2 initial, token hidden", "XOAUTH2", "", "dXNlcj1hbGljZQFhdXRoPUJlYXJlciB3b25kZXJsYW5kAQE=", true, `XOAUTH2: user "alice", bearer token ********`},
		{"xoauth2 truncated", "XOAUTH2", "", "dXNlcj0=", true, "does not end with ^A^A"},
		{"oauthbearer ack", "OAUTHBEARER", "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=", "AQ==", false, "RFC 7628 §3.2.3"},
		{"scram client-first", "SCRAM-SHA-256", "", "biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=", true, `user "user", client nonce "rOprNGfwEbeRWgbNEkqO"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := saslNote(tt.mech, tt.challenge, tt.resp, tt.initial)
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("saslNote = %q, want %q", got, tt.want)
			}
			for _, secret := range []string{"tanstaaf", "secret"} {
				if strings.Contains(got, secret) {
					t.Errorf("saslNote shows the password: %q", got)
				}
			}
		})
	}
}

// TestScriptedAuthEchoIsRedacted: a scripted "AUTH PLAIN <base64>" is echoed
// with the initial response hidden, since it encodes the password.
func TestScriptedAuthEchoIsRedacted(t *testing.T) {
	addr, _ := startLab(t, labProfile(t, "[auth]\ntls_only = false\n"))
	out, _, err := runLines(t, addr, Config{}, "EHLO client.example", "AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=", "expect 235", "QUIT")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(out, "AGFsaWNlAHdvbmRlcmxhbmQ=") || !strings.Contains(out, "C: AUTH PLAIN <redacted>") {
		t.Errorf("the initial response was echoed, or not as <redacted>:\n%s", out)
	}
}

func TestRedactInitialResponse(t *testing.T) {
	for in, want := range map[string]string{
		"AUTH PLAIN AGFsaWNl": "AUTH PLAIN <redacted>",
		"auth login YWxpY2U=": "auth login <redacted>",
		"AUTH PLAIN":          "AUTH PLAIN",
		"AUTH PLAIN =":        "AUTH PLAIN =",
		"MAIL FROM:<a@b>":     "MAIL FROM:<a@b>",
	} {
		if got := redactInitialResponse(in); got != want {
			t.Errorf("redactInitialResponse(%q) = %q, want %q", in, got, want)
		}
	}
}
