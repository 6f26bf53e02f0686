package transcripts

import (
	"strings"
	"testing"
)

// lines joins event lines into a transcript.
func lines(l ...string) string { return header + "\n" + strings.Join(l, "\n") + "\n" }

func TestRedact(t *testing.T) {
	cases := []struct {
		name     string
		in, want []string
		redacted int // how many events Redact marks
	}{
		{"PLAIN with initial response (RFC 4616 example)",
			[]string{"C: AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=", "S: 235 2.7.0 Authentication successful"},
			[]string{"C: AUTH PLAIN <redacted>", "S: 235 2.7.0 Authentication successful"}, 1},
		{"PLAIN after an empty challenge (RFC 4954 §4)",
			[]string{"C: AUTH PLAIN", `S:"334 "`, "C: dGVzdAB0ZXN0AHRlc3Q=", "S: 235 2.7.0 Authentication successful"},
			[]string{"C: AUTH PLAIN", `S:"334 "`, "C: <redacted>", "S: 235 2.7.0 Authentication successful"}, 1},
		{"LOGIN two steps (Postfix)",
			[]string{"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: c3R1ZGVudA==", "S: 334 UGFzc3dvcmQ6", "C: aHVudGVyMg==", "S: 235 2.7.0 Authentication successful"},
			[]string{"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: <redacted>", "S: 334 UGFzc3dvcmQ6", "C: <redacted>", "S: 235 2.7.0 Authentication successful"}, 2},
		{"LOGIN with the user name as initial response (Exim)",
			[]string{"C: AUTH LOGIN c3R1ZGVudA==", "S: 334 UGFzc3dvcmQ6", "C: aHVudGVyMg==", "S: 235 Authentication succeeded"},
			[]string{"C: AUTH LOGIN <redacted>", "S: 334 UGFzc3dvcmQ6", "C: <redacted>", "S: 235 Authentication succeeded"}, 2},
		{"CRAM-MD5 (RFC 2195 example) keeps the challenge",
			[]string{"C: AUTH CRAM-MD5", "S: 334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", "C: dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", "S: 235 Authentication successful"},
			[]string{"C: AUTH CRAM-MD5", "S: 334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", "C: <redacted>", "S: 235 Authentication successful"}, 1},
		{"cancelled with * (RFC 4954 §4)",
			[]string{"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: *", "S: 501 5.7.0 Authentication aborted", "C: QUIT"},
			[]string{"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: *", "S: 501 5.7.0 Authentication aborted", "C: QUIT"}, 0},
		{"pipelined after an initial response (RFC 2920)",
			[]string{"C: AUTH PLAIN AHN0dWRlbnQAaHVudGVyMg==", "C: MAIL FROM:<student@example.org>", "C: RCPT TO:<teacher@example.org>",
				"S: 235 2.7.0 Authentication successful", "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok"},
			[]string{"C: AUTH PLAIN <redacted>", "C: MAIL FROM:<student@example.org>", "C: RCPT TO:<teacher@example.org>",
				"S: 235 2.7.0 Authentication successful", "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok"}, 1},
		{"failure ends the exchange (Gmail)",
			[]string{"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: c3R1ZGVudA==", "S: 334 UGFzc3dvcmQ6", "C: d3Jvbmc=",
				"S: 535-5.7.8 Username and Password not accepted. For more information, go to",
				"S: 535 5.7.8  https://support.google.com/mail/?p=BadCredentials", "C: QUIT"},
			[]string{"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: <redacted>", "S: 334 UGFzc3dvcmQ6", "C: <redacted>",
				"S: 535-5.7.8 Username and Password not accepted. For more information, go to",
				"S: 535 5.7.8  https://support.google.com/mail/?p=BadCredentials", "C: QUIT"}, 2},
		{"XOAUTH2 error challenge answered with an empty line (Gmail)",
			[]string{"C: AUTH XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==",
				"S: 334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==", "C:",
				"S: 535 5.7.8 Username and Password not accepted"},
			[]string{"C: AUTH XOAUTH2 <redacted>",
				"S: 334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==", "C: <redacted>",
				"S: 535 5.7.8 Username and Password not accepted"}, 2},
		{"server gives up before the answer",
			[]string{"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "S: 421 4.4.2 lab.smtpsh.test Error: timeout exceeded", "C: QUIT"},
			[]string{"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "S: 421 4.4.2 lab.smtpsh.test Error: timeout exceeded", "C: QUIT"}, 0},
		{"empty initial response = is kept",
			[]string{"C: AUTH EXTERNAL =", "S: 235 2.7.0 Authentication successful"},
			[]string{"C: AUTH EXTERNAL =", "S: 235 2.7.0 Authentication successful"}, 0},
		{"lower case as typed",
			[]string{"C: auth plain AHN0dWRlbnQAaHVudGVyMg=="},
			[]string{"C: auth plain <redacted>"}, 1},
		{"a gap does not end the exchange (capture)",
			[]string{"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "*: gap client 12 bytes", "C: aHVudGVyMg=="},
			[]string{"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "*: gap client 12 bytes", "C: <redacted>"}, 1},
		{"control bytes in the mechanism hide the whole line",
			[]string{`C:"AUTH PL\x1bAIN c2VjcmV0"`},
			[]string{"C: <redacted>"}, 1},
		{"already redacted stays so",
			[]string{"C: AUTH PLAIN <redacted>", "S: 334 VXNlcm5hbWU6", "C: <redacted>"},
			[]string{"C: AUTH PLAIN <redacted>", "S: 334 VXNlcm5hbWU6", "C: <redacted>"}, 2},
		{"message data is not touched",
			[]string{"S: 354 End data with <CR><LF>.<CR><LF>", "D: AUTH PLAIN c2VjcmV0", "C: ."},
			[]string{"S: 354 End data with <CR><LF>.<CR><LF>", "D: AUTH PLAIN c2VjcmV0", "C: ."}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := mustParse(t, lines(c.in...))
			before := write(t, in, WriteOptions{Secrets: true})
			red := Redact(in)
			if got, want := write(t, red, WriteOptions{Secrets: true}), lines(c.want...); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			n := 0
			for _, e := range red.Events {
				if e.Redacted {
					n++
				}
			}
			if n != c.redacted {
				t.Errorf("%d events marked redacted, want %d", n, c.redacted)
			}
			if after := write(t, in, WriteOptions{Secrets: true}); after != before {
				t.Errorf("Redact changed its argument:\n%s", after)
			}
			if twice := Redact(red); !twice.Equal(red) {
				t.Errorf("Redact is not idempotent")
			}
			// The default path redacts, and what it writes reads back
			// marked redacted.
			back := mustParse(t, write(t, in, WriteOptions{}))
			if !back.Equal(red) {
				t.Errorf("Write's default output read back as %+v", back.Events)
			}
		})
	}
}

func TestWriteSecretsKeepsThem(t *testing.T) {
	tr := mustParse(t, lines("C: AUTH PLAIN AHN0dWRlbnQAaHVudGVyMg=="))
	if out := write(t, tr, WriteOptions{Secrets: true}); !strings.Contains(out, "AHN0dWRlbnQAaHVudGVyMg==") {
		t.Errorf("Secrets: true lost the secret:\n%s", out)
	}
	for _, w := range []func(*strings.Builder) error{
		func(b *strings.Builder) error { return Write(b, tr, WriteOptions{}) },
		func(b *strings.Builder) error { return WriteJSONL(b, tr, WriteOptions{}) },
	} {
		var b strings.Builder
		if err := w(&b); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), "AHN0dWRlbnQAaHVudGVyMg==") || !strings.Contains(b.String(), "AUTH PLAIN <redacted>") {
			t.Errorf("default output keeps the secret:\n%s", b.String())
		}
	}
}
