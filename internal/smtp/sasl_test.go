package smtp

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
)

// RFC 2195 §2's example: user tim, secret "tanstaaftanstaaf".
const (
	rfc2195Challenge    = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
	rfc2195ChallengeRaw = "<1896.697170952@postoffice.reston.mci.net>"
	rfc2195Response     = "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
	rfc2195Digest       = "b913a602c7eda7a495b4e6e7334d3890"
)

func TestSASLDecodeBase64Line(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		col     int    // SyntaxError column when an error is expected
		wantErr string // substring of the error
	}{
		{name: "RFC 4954 §4 PLAIN response", in: "dGVzdAB0ZXN0ADEyMzQ=", want: "test\x00test\x001234"},
		{name: "LOGIN username prompt", in: "VXNlcm5hbWU6", want: "Username:"},
		{name: "empty response (RFC 4954 §4)", in: "=", want: ""},
		{name: "cancel (RFC 4954 §4)", in: "*", wantErr: "cancelled"},
		{name: "empty line", in: "", wantErr: "empty line"},
		{name: "missing padding", in: "dGVzdA", col: 7, wantErr: "missing '=' padding"},
		{name: "bad character", in: "dGVz!A==", col: 5, wantErr: "not a base64 character"},
		{name: "space inside", in: "dGVz dA==", col: 5, wantErr: "not a base64 character"},
		{name: "CR at the end", in: "dGVzdA==\r", col: 9, wantErr: "not a base64 character"},
		{name: "non-canonical trailing bits", in: "QR==", col: 3, wantErr: "non-canonical"},
		{name: "padding in the middle", in: "QQ==QQ==", col: 5, wantErr: "invalid base64"},
		{name: "truncated", in: "dGVzdA=", col: 8, wantErr: "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeBase64Line(tt.in)
			if tt.wantErr == "" {
				if err != nil || string(got) != tt.want || got == nil {
					t.Errorf("DecodeBase64Line(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("DecodeBase64Line(%q) error %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			var se *SyntaxError
			if tt.col > 0 && (!errors.As(err, &se) || se.Column != tt.col) {
				t.Errorf("error %v, want a SyntaxError at column %d", err, tt.col)
			}
		})
	}
	if _, err := DecodeBase64Line("*"); !errors.Is(err, ErrAuthCancelled) {
		t.Errorf("\"*\" gave %v, want ErrAuthCancelled", err)
	}
}

func TestPlain(t *testing.T) {
	tests := []struct {
		name                string
		b64                 string
		authzid, user, pass string
	}{
		// RFC 4616 §4's two exchanges, base64-encoded as SMTP sends them.
		{"RFC 4616 tim", "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", "", "tim", "tanstaaftanstaaf"},
		{"RFC 4616 Ursel as Kurt", "VXJzZWwAS3VydAB4aXBqM3BsbXE=", "Ursel", "Kurt", "xipj3plmq"},
		{"RFC 4954 §4", "dGVzdAB0ZXN0ADEyMzQ=", "test", "test", "1234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EncodePlain(tt.authzid, tt.user, tt.pass); got != tt.b64 {
				t.Errorf("EncodePlain = %q, want %q", got, tt.b64)
			}
			az, u, p, err := DecodePlain(tt.b64)
			if err != nil || az != tt.authzid || u != tt.user || p != tt.pass {
				t.Errorf("DecodePlain = %q %q %q %v", az, u, p, err)
			}
			// go-sasl's server must accept what EncodePlain produces.
			var seen [3]string
			srv := sasl.NewPlainServer(func(a, u, p string) error { seen = [3]string{a, u, p}; return nil })
			ir, _ := DecodeBase64Line(EncodePlain(tt.authzid, tt.user, tt.pass))
			if _, done, err := srv.Next(ir); err != nil || !done || seen != [3]string{tt.authzid, tt.user, tt.pass} {
				t.Errorf("go-sasl server: done %v, %v, saw %q", done, err, seen)
			}
		})
	}
}

func TestSASLDecodePlainErrors(t *testing.T) {
	tests := []struct {
		name, b64, wantErr string
		keepsFields        bool
	}{
		{"no NUL", "dGltIHRhbnN0YWFm", "no NUL", false},
		{"one NUL", "AHRpbQ==", "only one NUL", false},
		{"NUL in the password", "AHRpbQBwdwB4", "third NUL", false},
		{"empty user", "AABwdw==", "empty user", true},
		{"bad base64", "AHRpbQ", "SASL PLAIN: SASL base64", false},
		{"cancelled", "*", "cancelled", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, pass, err := DecodePlain(tt.b64)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if tt.keepsFields != (pass != "") {
				t.Errorf("password %q returned with the error; want fields kept: %v", pass, tt.keepsFields)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	// Microsoft's [MS-XLOGIN] §4 example: Charlie / password.
	if got := EncodeLogin("Charlie"); got != "Q2hhcmxpZQ==" {
		t.Errorf("EncodeLogin(Charlie) = %q", got)
	}
	if got, err := DecodeLogin("cGFzc3dvcmQ="); err != nil || got != "password" {
		t.Errorf("DecodeLogin = %q, %v", got, err)
	}
	if _, err := DecodeLogin("cGFzc3dvcmQ"); err == nil || !strings.Contains(err.Error(), "SASL LOGIN") {
		t.Errorf("DecodeLogin of unpadded base64: %v", err)
	}
	// go-sasl's LOGIN client answers our decoded prompt with what we encode.
	c := sasl.NewLoginClient("Charlie", "password")
	_, ir, _ := c.Start()
	if EncodeLogin(string(ir)) != "Q2hhcmxpZQ==" {
		t.Errorf("initial response %q", ir)
	}
	_, text, _ := ParseLoginPrompt("UGFzc3dvcmQ6")
	if resp, err := c.Next([]byte(text)); err != nil || EncodeLogin(string(resp)) != "cGFzc3dvcmQ=" {
		t.Errorf("go-sasl answer to %q: %q, %v", text, resp, err)
	}
}

func TestParseLoginPrompt(t *testing.T) {
	tests := []struct {
		b64  string
		want LoginPrompt
		text string
	}{
		{"VXNlcm5hbWU6", LoginUsername, "Username:"},
		{"UGFzc3dvcmQ6", LoginPassword, "Password:"},
		{EncodeLogin("User Name\x00"), LoginUsername, "User Name\x00"},
		{EncodeLogin("username:"), LoginUsername, "username:"},
		{EncodeLogin("Enter your token"), LoginPromptOther, "Enter your token"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			p, text, err := ParseLoginPrompt(tt.b64)
			if err != nil || p != tt.want || text != tt.text {
				t.Errorf("ParseLoginPrompt(%q) = %v %q %v; want %v %q", tt.b64, p, text, err, tt.want, tt.text)
			}
		})
	}
	if _, _, err := ParseLoginPrompt("VXNlcm5hbWU"); err == nil {
		t.Error("malformed prompt accepted")
	}
}

func TestCRAMMD5(t *testing.T) {
	resp, err := CRAMMD5Response(rfc2195Challenge, "tim", "tanstaaftanstaaf")
	if err != nil || resp != rfc2195Response {
		t.Errorf("CRAMMD5Response = %q, %v; want RFC 2195's %q", resp, err, rfc2195Response)
	}
	user, digest, err := DecodeCRAMMD5(rfc2195Challenge, rfc2195Response)
	if err != nil || user != "tim" || digest != rfc2195Digest {
		t.Errorf("DecodeCRAMMD5 = %q %q %v", user, digest, err)
	}
	if !VerifyCRAMMD5(rfc2195ChallengeRaw, "tim", rfc2195Digest, "tanstaaftanstaaf") {
		t.Error("VerifyCRAMMD5 rejected RFC 2195's example")
	}
	for _, c := range []struct{ name, challenge, user, digest, secret string }{
		{"wrong secret", rfc2195ChallengeRaw, "tim", rfc2195Digest, "tanstaaf"},
		{"other challenge", "<1897.697170952@postoffice.reston.mci.net>", "tim", rfc2195Digest, "tanstaaftanstaaf"},
		{"upper-case digest", rfc2195ChallengeRaw, "tim", strings.ToUpper(rfc2195Digest), "tanstaaftanstaaf"},
		{"empty user", rfc2195ChallengeRaw, "", rfc2195Digest, "tanstaaftanstaaf"},
	} {
		if VerifyCRAMMD5(c.challenge, c.user, c.digest, c.secret) {
			t.Errorf("%s: VerifyCRAMMD5 accepted it", c.name)
		}
	}
}

func TestSASLDecodeCRAMMD5Errors(t *testing.T) {
	tests := []struct{ name, challenge, response, wantErr string }{
		{"bad challenge", "PDE4!", rfc2195Response, "challenge"},
		{"no space", rfc2195Challenge, EncodeLogin("timb913a602c7eda7a495b4e6e7334d3890"), "no space"},
		{"short digest", rfc2195Challenge, EncodeLogin("tim b913a602"), "not 32 hex"},
		{"upper-case digest", rfc2195Challenge, EncodeLogin("tim B913A602C7EDA7A495B4E6E7334D3890"), "lower-case hex"},
		{"empty user", rfc2195Challenge, EncodeLogin(" " + rfc2195Digest), "empty user"},
		{"cancelled", rfc2195Challenge, "*", "cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := DecodeCRAMMD5(tt.challenge, tt.response)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	// A user name with a space: the digest is after the last one.
	u, d, err := DecodeCRAMMD5(rfc2195Challenge, EncodeLogin("tim smith "+rfc2195Digest))
	if err != nil || u != "tim smith" || d != rfc2195Digest {
		t.Errorf("user with a space: %q %q %v", u, d, err)
	}
}

func ExampleDecodePlain() {
	// What a capture sees after "AUTH PLAIN " (RFC 4954 §4's example).
	authzid, user, pass, err := DecodePlain("dGVzdAB0ZXN0ADEyMzQ=")
	fmt.Printf("%q %q %q %v\n", authzid, user, pass, err)
	// Output:
	// "test" "test" "1234" <nil>
}
