package capture

import (
	"testing"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

// TestCredentialsFromSmtpshClient decodes what smtpsh's own :auth sends
// (the internal/smtp encoders it uses) for the token and SCRAM mechanisms:
// the capture side and the client side agree on the formats.
func TestCredentialsFromSmtpshClient(t *testing.T) {
	scram, err := smtp.NewSCRAMClient("SCRAM-SHA-256", "al,ice", "wonderland", "")
	if err != nil {
		t.Fatal(err)
	}
	first, err := scram.Start()
	if err != nil {
		t.Fatal(err)
	}
	wantNonce := smtpSCRAMNonce(t, first)
	tests := []struct {
		name     string
		exchange string
		want     Credential
	}{
		{
			name:     "XOAUTH2 initial response",
			exchange: "C: AUTH XOAUTH2 " + smtp.EncodeXOAUTH2("alice@example.com", "ya29.token") + "\nS: 235 2.7.0 Accepted",
			want:     Credential{Mechanism: "XOAUTH2", User: "alice@example.com", Token: "ya29.token", Replayable: true, Result: 235},
		},
		{
			name: "XOAUTH2 refused: the JSON challenge and the empty answer",
			exchange: "C: AUTH XOAUTH2 " + smtp.EncodeXOAUTH2("alice@example.com", "ya29.old") +
				"\nS: 334 " + smtp.EncodeOAuthError(smtp.OAuthError{Status: "400", Schemes: "Bearer", Scope: "https://mail.google.com/"}) +
				"\nC: \nS: 535-5.7.8 Username and Password not accepted.",
			want: Credential{Mechanism: "XOAUTH2", User: "alice@example.com", Token: "ya29.old", Replayable: true, Result: 535},
		},
		{
			name:     "OAUTHBEARER with host and port",
			exchange: "C: AUTH OAUTHBEARER " + smtp.EncodeOAuthBearer(smtp.OAuthBearer{Authzid: "alice", Host: "smtp.example.com", Port: 587, Token: "tok"}) + "\nS: 235 2.7.0 Accepted",
			want:     Credential{Mechanism: "OAUTHBEARER", User: "alice", Token: "tok", Replayable: true, Result: 235},
		},
		{
			name:     "SCRAM-SHA-256 client-first: user and nonce, not replayable",
			exchange: "C: AUTH SCRAM-SHA-256 " + first + "\nS: 535 5.7.8 Error: authentication failed",
			want:     Credential{Mechanism: "SCRAM-SHA-256", User: "al,ice", Nonce: wantNonce, Result: 535},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conv := decodeSteps(t, testInfo(587), keepAll, authSteps(tt.exchange))
			if len(conv.Creds) != 1 {
				t.Fatalf("%d credentials, want 1", len(conv.Creds))
			}
			got := conv.Creds[0]
			if got.Mechanism != tt.want.Mechanism || got.User != tt.want.User || got.Token != tt.want.Token ||
				got.Nonce != tt.want.Nonce || got.Replayable != tt.want.Replayable || got.Result != tt.want.Result || got.Err != "" {
				t.Errorf("credential\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

// smtpSCRAMNonce returns the r= of a client-first message, read with
// internal/smtp's own parser.
func smtpSCRAMNonce(t *testing.T, b64 string) string {
	t.Helper()
	m, err := smtp.ParseSCRAM(b64)
	if err != nil {
		t.Fatal(err)
	}
	if m.Get('r') == "" {
		t.Fatal("no nonce in the client-first message")
	}
	return m.Get('r')
}
