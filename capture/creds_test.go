package capture

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

func b64s(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// authSteps wraps an AUTH exchange (RFC notation) in a greeting and EHLO.
func authSteps(exchange string) []step {
	return rfcSteps(`
S: 220 smtp.example.com ESMTP server ready
C: EHLO client.example.com
S: 250-smtp.example.com
S: 250-PIPELINING
S: 250 AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER SCRAM-SHA-1
` + exchange)
}

func TestCredentials(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		want  Credential // the fields compared
		hash  string     // HashcatLine
	}{{
		// RFC 4954 §4's example, with an initial response.
		name:  "plain initial response",
		steps: authSteps("C: AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=\nS: 235 2.7.0 Authentication successful"),
		want:  Credential{Mechanism: "PLAIN", Authzid: "test", User: "test", Password: "1234", Replayable: true, Result: 235},
	}, {
		// RFC 4954 §4: without an initial response the server sends an
		// empty challenge ("334 " or "334").
		name:  "plain after empty challenge",
		steps: authSteps("C: AUTH PLAIN\nS: 334\nC: dGVzdAB0ZXN0ADEyMzQ=\nS: 235 2.7.0 Authentication successful"),
		want:  Credential{Mechanism: "PLAIN", Authzid: "test", User: "test", Password: "1234", Replayable: true, Result: 235},
	}, {
		// Postfix/Dovecot and Exim prompt "Username:" then "Password:".
		name: "login with prompts",
		steps: authSteps(`C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
C: ` + b64s("alice@example.com") + `
S: 334 UGFzc3dvcmQ6
C: ` + b64s("correct horse") + `
S: 235 2.7.0 Authentication successful`),
		want: Credential{Mechanism: "LOGIN", User: "alice@example.com", Password: "correct horse", Replayable: true, Result: 235},
	}, {
		// The user as the initial response (RFC 4954 §4), refused in
		// Postfix's words.
		name: "login initial response refused",
		steps: authSteps(`C: AUTH LOGIN ` + b64s("bob") + `
S: 334 UGFzc3dvcmQ6
C: ` + b64s("hunter2") + `
S: 535 5.7.8 Error: authentication failed: authentication failure`),
		want: Credential{Mechanism: "LOGIN", User: "bob", Password: "hunter2", Replayable: true, Result: 535},
	}, {
		// RFC 4954 §6's example: fred's CRAM-MD5 exchange.
		name: "cram-md5 rfc4954",
		steps: authSteps(`C: AUTH CRAM-MD5
S: 334 PENCeUxFREJoU0NnbmhNWitOMjNGNndAZWx3b29kLmlubm9zb2Z0LmNvbT4=
C: ZnJlZCA5ZTk1YWVlMDljNDBhZjJiODRhMGMyYjNiYmFlNzg2ZQ==
S: 235 2.7.0 Authentication successful`),
		want: Credential{Mechanism: "CRAM-MD5", User: "fred", Digest: "9e95aee09c40af2b84a0c2b3bbae786e",
			Challenge: "PENCeUxFREJoU0NnbmhNWitOMjNGNndAZWx3b29kLmlubm9zb2Z0LmNvbT4=", Response: "ZnJlZCA5ZTk1YWVlMDljNDBhZjJiODRhMGMyYjNiYmFlNzg2ZQ==", Result: 235},
		hash: "$cram_md5$PENCeUxFREJoU0NnbmhNWitOMjNGNndAZWx3b29kLmlubm9zb2Z0LmNvbT4=$ZnJlZCA5ZTk1YWVlMDljNDBhZjJiODRhMGMyYjNiYmFlNzg2ZQ==",
	}, {
		// hashcat's example hash for mode 10200, as an exchange: the line
		// we print must be that example exactly.
		name: "cram-md5 hashcat example",
		steps: authSteps(`C: AUTH CRAM-MD5
S: 334 PG5vLXJlcGx5QGhhc2hjYXQubmV0Pg==
C: dXNlciA0NGVhZmQyMmZlNzY2NzBmNmIyODc5MDgxYTdmNWY3MQ==
S: 235 2.7.0 Authentication successful`),
		want: Credential{Mechanism: "CRAM-MD5", User: "user", Digest: "44eafd22fe76670f6b2879081a7f5f71",
			Challenge: "PG5vLXJlcGx5QGhhc2hjYXQubmV0Pg==", Response: "dXNlciA0NGVhZmQyMmZlNzY2NzBmNmIyODc5MDgxYTdmNWY3MQ==", Result: 235},
		hash: "$cram_md5$PG5vLXJlcGx5QGhhc2hjYXQubmV0Pg==$dXNlciA0NGVhZmQyMmZlNzY2NzBmNmIyODc5MDgxYTdmNWY3MQ==",
	}, {
		// Google's XOAUTH2 format, refused: the server's 334 carries a JSON
		// error and the client answers with an empty line.
		name: "xoauth2 refused",
		steps: authSteps(`C: AUTH XOAUTH2 ` + b64s("user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01") + `
S: 334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==
C: 
S: 535-5.7.8 Username and Password not accepted.
S: 535 5.7.8 https://support.google.com/mail/?p=BadCredentials`),
		want: Credential{Mechanism: "XOAUTH2", User: "someuser@example.com", Token: "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", Replayable: true, Result: 535},
	}, {
		// RFC 7628 §4.1's example.
		name: "oauthbearer rfc7628",
		steps: authSteps(`C: AUTH OAUTHBEARER ` + b64s("n,a=user@example.com,\x01host=server.example.com\x01port=587\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01") + `
S: 235 Authentication successful.`),
		want: Credential{Mechanism: "OAUTHBEARER", User: "user@example.com", Token: "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", Replayable: true, Result: 235},
	}, {
		// RFC 5802 §5's example exchange: user and nonce, nothing replayable.
		name: "scram-sha-1 rfc5802",
		steps: authSteps(`C: AUTH SCRAM-SHA-1 ` + b64s("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL") + `
S: 334 ` + b64s("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096") + `
C: ` + b64s("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=") + `
S: 334 ` + b64s("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=") + `
C: =
S: 235 2.7.0 Authentication successful`),
		want: Credential{Mechanism: "SCRAM-SHA-1", User: "user", Nonce: "fyko+d2lbbFgONRv9qkxdawL", Result: 235},
	}, {
		// RFC 4954 §4: "*" cancels; the server answers 501.
		name: "login cancelled",
		steps: authSteps(`C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
C: *
S: 501 5.7.0 Authentication aborted`),
		want: Credential{Mechanism: "LOGIN", Replayable: true, Cancelled: true, Result: 501},
	}, {
		// Only the client's side was captured: prompts unseen, so user
		// first and password second.
		name: "login one-sided",
		steps: []step{
			c("EHLO client.example.com\r\nAUTH LOGIN\r\n"),
			c(b64s("carol") + "\r\n"),
			c(b64s("s3cret") + "\r\n"),
			c("MAIL FROM:<carol@example.com>\r\n"),
		},
		want: Credential{Mechanism: "LOGIN", User: "carol", Password: "s3cret", Replayable: true},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conv := decodeSteps(t, testInfo(587), keepAll, tt.steps)
			if len(conv.Creds) != 1 {
				t.Fatalf("%d credentials, want 1: %+v", len(conv.Creds), conv.Creds)
			}
			got := *conv.Creds[0]
			if got.ConvID != 1 || got.Client != testInfo(587).Client || got.At.IsZero() {
				t.Errorf("identification: conv %d client %v at %v", got.ConvID, got.Client, got.At)
			}
			got.ConvID, got.Client, got.Server, got.At, got.Err = 0, tt.want.Client, tt.want.Server, tt.want.At, ""
			if got != tt.want {
				t.Errorf("credential\n got %+v\nwant %+v (err %q)", got, tt.want, conv.Creds[0].Err)
			}
			if h := conv.Creds[0].HashcatLine(); h != tt.hash {
				t.Errorf("hashcat line %q, want %q", h, tt.hash)
			}
			if tt.hash != "" {
				if j := conv.Creds[0].JohnLine(); j != tt.want.User+":"+tt.hash {
					t.Errorf("john line %q", j)
				}
			}
			// Secrets never reach a default transcript or the exchanges.
			var b bytes.Buffer
			if err := transcripts.Write(&b, conv.Transcript, transcripts.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{tt.want.Password, tt.want.Token} {
				if secret == "" {
					continue
				}
				for _, form := range []string{secret, b64s(secret)} {
					if strings.Contains(b.String(), form) {
						t.Errorf("default transcript shows the secret %q", form)
					}
					for _, ex := range conv.Exchanges {
						if strings.Contains(ex.Line, form) {
							t.Errorf("exchange %q shows the secret", ex.Line)
						}
					}
				}
			}
		})
	}
}

// The CRAM-MD5 lines a cracker takes hold what cracks: RFC 2195 §2's
// example (tim, "tanstaaftanstaaf") and hashcat's mode 10200 example
// (password "hashcat") verify with the digest decoded from the capture.
func TestCRAMMD5Cracks(t *testing.T) {
	for _, tt := range []struct{ challenge, response, user, secret string }{
		{b64s("<1896.697170952@postoffice.reston.mci.net>"), b64s("tim b913a602c7eda7a495b4e6e7334d3890"), "tim", "tanstaaftanstaaf"},
		{"PG5vLXJlcGx5QGhhc2hjYXQubmV0Pg==", "dXNlciA0NGVhZmQyMmZlNzY2NzBmNmIyODc5MDgxYTdmNWY3MQ==", "user", "hashcat"},
	} {
		conv := decodeSteps(t, testInfo(25), keepAll, authSteps("C: AUTH CRAM-MD5\nS: 334 "+tt.challenge+"\nC: "+tt.response+"\nS: 235 2.7.0 Authentication successful"))
		cr := conv.Creds[0]
		chal, err := smtp.DecodeBase64Line(cr.Challenge)
		if err != nil {
			t.Fatal(err)
		}
		if cr.User != tt.user || !smtp.VerifyCRAMMD5(string(chal), cr.User, cr.Digest, tt.secret) {
			t.Errorf("%s: digest %q does not verify with %q", tt.user, cr.Digest, tt.secret)
		}
		if !strings.HasPrefix(cr.HashcatLine(), "$cram_md5$"+tt.challenge+"$") {
			t.Errorf("hashcat line %q", cr.HashcatLine())
		}
	}
}

// A command pipelined after an initial response is a command, not a SASL
// response (RFC 2920, RFC 4954 §4).
func TestAuthPipelinedAfterInitialResponse(t *testing.T) {
	conv := decodeSteps(t, testInfo(587), keepAll, []step{
		s("220 smtp.example.com ESMTP\r\n"),
		c("EHLO c\r\n"),
		s("250-smtp.example.com\r\n250-PIPELINING\r\n250 AUTH PLAIN\r\n"),
		c("AUTH PLAIN " + b64s("\x00u\x00p") + "\r\nMAIL FROM:<u@example.com>\r\nRCPT TO:<v@example.org>\r\n"),
		s("235 2.7.0 Authentication successful\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"),
	})
	want := []string{"EHLO c 250", "AUTH PLAIN <redacted> 235", "MAIL FROM:<u@example.com> 250", "RCPT TO:<v@example.org> 250"}
	if got := exchangeCodes(conv); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("exchanges %q, want %q", got, want)
	}
	if len(conv.Creds) != 1 || conv.Creds[0].User != "u" || conv.Creds[0].Password != "p" || conv.AuthUser() != "u" {
		t.Errorf("creds %+v", conv.Creds)
	}
	if len(conv.Transactions) != 1 || conv.Transactions[0].MailCode != 250 {
		t.Errorf("transactions %+v", conv.Transactions)
	}
}
