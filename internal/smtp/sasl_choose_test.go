package smtp

import (
	"strings"
	"testing"
)

func TestChooseMechanism(t *testing.T) {
	tests := []struct {
		name       string
		advertised string // as after "250-AUTH "
		o          ChooseOptions
		want, why  string
		err        string
	}{
		// Dovecot submission with SCRAM enabled.
		{"dovecot: SCRAM-SHA-256 first", "PLAIN LOGIN SCRAM-SHA-1 SCRAM-SHA-256", ChooseOptions{TLS: true}, "SCRAM-SHA-256", "neither the password", ""},
		{"SCRAM-SHA-1 over CRAM-MD5", "CRAM-MD5 SCRAM-SHA-1 PLAIN", ChooseOptions{}, "SCRAM-SHA-1", "", ""},
		// Postfix with Cyrus SASL and the lab's default profile.
		{"CRAM-MD5 over PLAIN without TLS", "PLAIN LOGIN CRAM-MD5", ChooseOptions{}, "CRAM-MD5", "HMAC-MD5", ""},
		// Exchange Online and Gmail on port 587 after STARTTLS.
		{"exchange: LOGIN on TLS", "LOGIN XOAUTH2", ChooseOptions{TLS: true}, "LOGIN", "encrypted", ""},
		{"gmail: PLAIN on TLS", "LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH", ChooseOptions{TLS: true}, "PLAIN", "", ""},
		{"PLAIN refused without TLS", "PLAIN LOGIN", ChooseOptions{}, "", "", "STARTTLS first"},
		{"PLAIN forced without TLS", "plain", ChooseOptions{Force: true}, "PLAIN", "clear text", ""},
		{"gmail with a token", "LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH", ChooseOptions{TLS: true, Token: true}, "OAUTHBEARER", "RFC 7628", ""},
		{"exchange with a token", "LOGIN XOAUTH2", ChooseOptions{TLS: true, Token: true}, "XOAUTH2", "Google", ""},
		{"token without TLS", "XOAUTH2", ChooseOptions{Token: true}, "", "", "replayable"},
		{"token, no token mechanism", "PLAIN LOGIN", ChooseOptions{TLS: true, Token: true}, "", "", "neither OAUTHBEARER nor XOAUTH2"},
		{"only unknown mechanisms", "GSSAPI NTLM", ChooseOptions{TLS: true}, "", "", "offers GSSAPI NTLM"},
		{"nothing advertised", "", ChooseOptions{TLS: true}, "", "", "offers nothing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why, err := ChooseMechanism(strings.Fields(tc.advertised), tc.o)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("(%q, %v), want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want || !strings.Contains(why, tc.why) {
				t.Errorf("(%q, %q, %v), want %q because …%s…", got, why, err, tc.want, tc.why)
			}
		})
	}
}
