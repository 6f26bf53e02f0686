package smtp

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestXOAUTH2(t *testing.T) {
	// Google's "OAuth 2.0 Mechanism" page: the example user and token and
	// the base64 it shows for them.
	const googleB64 = "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
	if got := EncodeXOAUTH2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"); got != googleB64 {
		t.Errorf("EncodeXOAUTH2 = %s, want Google's %s", got, googleB64)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, in    string
		user, token string
		err         string
	}{
		{"google example", googleB64, "someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", ""},
		{"scheme in lower case", b64("user=a@b\x01auth=bearer tok\x01\x01"), "a@b", "tok", ""},
		{"no final ^A^A", b64("user=a@b\x01auth=Bearer tok"), "", "", "does not end with ^A^A"},
		{"no user=", b64("name=a@b\x01auth=Bearer tok\x01\x01"), "", "", "does not start with user="},
		{"basic scheme", b64("user=a@b\x01auth=Basic dG9r\x01\x01"), "a@b", "", "Bearer"},
		{"not base64", "dXNlcj1h!", "", "", "not a base64 character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user, token, err := DecodeXOAUTH2(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if user != tc.user || token != tc.token {
				t.Errorf("got (%q, %q), want (%q, %q)", user, token, tc.user, tc.token)
			}
		})
	}
}

func TestOAuthBearer(t *testing.T) {
	// RFC 7628 §4.1's example (SMTP uses the same message as IMAP).
	const rfcText = "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
	rfc := OAuthBearer{Authzid: "user@example.com", Host: "server.example.com", Port: 143, Token: "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="}
	if got, _ := base64.StdEncoding.DecodeString(EncodeOAuthBearer(rfc)); string(got) != rfcText {
		t.Errorf("EncodeOAuthBearer = %q, want RFC 7628 §4.1's %q", got, rfcText)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name string
		in   string
		want OAuthBearer
		err  string
	}{
		{"RFC 7628 §4.1", b64(rfcText), rfc, ""},
		{"no authzid, no host", b64("n,,\x01auth=Bearer abc\x01\x01"), OAuthBearer{Token: "abc"}, ""},
		{"escaped authzid", b64("n,a=a=2Cb=3Dc,\x01auth=Bearer t\x01\x01"), OAuthBearer{Authzid: "a,b=c", Token: "t"}, ""},
		{"unknown key skipped", b64("n,,\x01mfa=yes\x01auth=Bearer t\x01\x01"), OAuthBearer{Token: "t"}, ""},
		{"channel binding flag", b64("p=tls-unique,,\x01auth=Bearer t\x01\x01"), OAuthBearer{}, "no channel binding"},
		{"no auth", b64("n,,\x01host=x\x01\x01"), OAuthBearer{Host: "x"}, "no auth= kvpair"},
		{"bad port", b64("n,,\x01port=99999\x01auth=Bearer t\x01\x01"), OAuthBearer{}, "not a port number"},
		{"bad escape", b64("n,a=x=41,\x01auth=Bearer t\x01\x01"), OAuthBearer{}, "bad escape"},
		{"no final kvsep", b64("n,,\x01auth=Bearer t"), OAuthBearer{}, "does not end with ^A^A"},
		// The client's reply to an error challenge is not a message.
		{"the ^A ack", OAuthErrorAck, OAuthBearer{}, "gs2 header \"\" is not"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeOAuthBearer(tc.in)
			if tc.err != "" {
				var se *SyntaxError
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &se) {
					t.Fatalf("err = %v, want a *SyntaxError with %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseOAuthError(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want OAuthError
		err  string
	}{
		{
			// RFC 7628 §4.3's failure challenge.
			name: "RFC 7628 §4.3",
			in:   "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=",
			want: OAuthError{Status: "invalid_token", Scope: "example_scope", OpenIDConfiguration: "https://example.com/.well-known/openid-configuration"},
		},
		{
			// Gmail's answer to an expired XOAUTH2 token.
			name: "Gmail XOAUTH2",
			in:   base64.StdEncoding.EncodeToString([]byte(`{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}`)),
			want: OAuthError{Status: "400", Schemes: "Bearer", Scope: "https://mail.google.com/"},
		},
		{name: "no status", in: base64.StdEncoding.EncodeToString([]byte(`{"scope":"x"}`)), want: OAuthError{Scope: "x"}, err: "no \"status\""},
		{name: "not JSON", in: base64.StdEncoding.EncodeToString([]byte(`Username:`)), err: "not a JSON object"},
		{name: "not base64", in: "{}", err: "not a base64 character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseOAuthError(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if tc.err == "" {
				back, err := ParseOAuthError(EncodeOAuthError(got))
				if err != nil || back != got {
					t.Errorf("round trip: %+v, %v", back, err)
				}
			}
		})
	}
}

// FuzzDecodeOAuthBearer checks that any input decodes or fails without a
// panic, and that what decodes encodes back to a message that decodes the
// same.
func FuzzDecodeOAuthBearer(f *testing.F) {
	f.Add("bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB")
	f.Add(EncodeOAuthBearer(OAuthBearer{Token: "t"}))
	f.Add(OAuthErrorAck)
	f.Fuzz(func(t *testing.T, s string) {
		m, err := DecodeOAuthBearer(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(m.Host+m.Token, "\x01") {
			t.Fatalf("a field holds the separator: %+v", m)
		}
		back, err := DecodeOAuthBearer(EncodeOAuthBearer(m))
		if err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", m, err)
		}
		if back != m {
			t.Fatalf("round trip %+v -> %+v", m, back)
		}
	})
}
