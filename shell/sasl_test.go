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
	for _, w := range []string{"S: 334 VXNlcm5hbWU6", "Username:", "C: <SASL response>", "S: 235", "expect 235: ok"} {
		if !strings.Contains(text, w) {
			t.Errorf("output lacks %q:\n%s", w, text)
		}
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
