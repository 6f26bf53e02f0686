package smtp

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// maxOAuthField bounds a user name or token this package encodes or
// decodes, in bytes: RFC 4954 §4 bounds a SASL line at 12288 octets.
const maxOAuthField = 8192

// EncodeXOAUTH2 returns Google's XOAUTH2 initial response: base64 of
// "user=" user ^A "auth=Bearer " token ^A ^A (developers.google.com,
// "OAuth 2.0 Mechanism", the SASL XOAUTH2 format).
func EncodeXOAUTH2(user, token string) string {
	return base64.StdEncoding.EncodeToString([]byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01"))
}

// DecodeXOAUTH2 decodes an XOAUTH2 initial response into the user and the
// bearer token. It accepts exactly the format EncodeXOAUTH2 writes, with
// the "Bearer" scheme in any case (RFC 6750 §2.1); anything else is a
// *SyntaxError.
func DecodeXOAUTH2(b64 string) (user, token string, err error) {
	const what = "SASL XOAUTH2"
	b, err := DecodeBase64Line(b64)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", what, err)
	}
	s, ok := strings.CutSuffix(string(b), "\x01\x01")
	if !ok {
		return "", "", syntaxErr(what, 0, "the message does not end with ^A^A")
	}
	u, a, ok := strings.Cut(s, "\x01")
	if !ok {
		return "", "", syntaxErr(what, 0, "no ^A between user= and auth=")
	}
	user, ok = strings.CutPrefix(u, "user=")
	if !ok {
		return "", "", syntaxErr(what, 0, "the message does not start with user=")
	}
	v, ok := strings.CutPrefix(a, "auth=")
	if !ok {
		return user, "", syntaxErr(what, 0, "the second field is not auth=")
	}
	token, ok = cutBearer(v)
	if !ok || token == "" {
		return user, "", syntaxErr(what, 0, "auth= does not hold \"Bearer\" and a token (RFC 6750 §2.1)")
	}
	return user, token, nil
}

// cutBearer returns the token of "Bearer token" (RFC 6750 §2.1: the scheme
// is case-insensitive).
func cutBearer(v string) (string, bool) {
	if len(v) < 7 || !strings.EqualFold(v[:7], "Bearer ") {
		return "", false
	}
	return v[7:], true
}

// OAuthBearer is the client's OAUTHBEARER message (RFC 7628 §3.1).
type OAuthBearer struct {
	// Authzid is the gs2 header's "a=" identity; may be empty.
	Authzid string
	// Host and Port are the server the client means (RFC 7628 §3.1:
	// "host" and "port" kvpairs, optional). Port 0 is absent.
	Host string
	Port int
	// Token is the bearer token of the "auth" kvpair.
	Token string
}

// EncodeOAuthBearer returns m as the base64 OAUTHBEARER initial response
// (RFC 7628 §3.1):
//
//	gs2-header = "n," ["a=" saslname] ","
//	client-resp = gs2-header kvsep *kvpair kvsep ; kvsep is ^A
//	kvpair = key "=" value kvsep
//
// The authzid escapes ',' and '=' as RFC 5801 §4 says (=2C, =3D).
func EncodeOAuthBearer(m OAuthBearer) string {
	var b strings.Builder
	b.WriteString("n,")
	if m.Authzid != "" {
		b.WriteString("a=" + encodeSASLName(m.Authzid))
	}
	b.WriteString(",\x01")
	if m.Host != "" {
		b.WriteString("host=" + m.Host + "\x01")
	}
	if m.Port > 0 {
		b.WriteString("port=" + strconv.Itoa(m.Port) + "\x01")
	}
	b.WriteString("auth=Bearer " + m.Token + "\x01\x01")
	return base64.StdEncoding.EncodeToString([]byte(b.String()))
}

// DecodeOAuthBearer decodes an OAUTHBEARER initial response (RFC 7628
// §3.1, grammar at EncodeOAuthBearer). Channel binding ("p=", "y") is not
// defined for OAUTHBEARER and is an error; unknown keys are skipped, as
// §3.1 asks.
func DecodeOAuthBearer(b64 string) (OAuthBearer, error) {
	const what = "SASL OAUTHBEARER"
	var m OAuthBearer
	b, err := DecodeBase64Line(b64)
	if err != nil {
		return m, fmt.Errorf("%s: %w", what, err)
	}
	if len(b) > 2*maxOAuthField {
		return m, syntaxErr(what, 0, "message of %d octets is too long", len(b))
	}
	s := string(b)
	gs2, rest, ok := strings.Cut(s, "\x01")
	if !ok {
		return m, syntaxErr(what, 0, "no ^A after the gs2 header (RFC 7628 §3.1)")
	}
	f := strings.Split(gs2, ",")
	if len(f) != 3 || f[2] != "" {
		return m, syntaxErr(what, 0, "gs2 header %q is not \"n,[a=user],\" (RFC 7628 §3.1)", gs2)
	}
	if f[0] != "n" {
		return m, syntaxErr(what, 1, "gs2 flag %q: OAUTHBEARER has no channel binding, the flag is \"n\" (RFC 7628 §3.1)", f[0])
	}
	if f[1] != "" {
		a, ok := strings.CutPrefix(f[1], "a=")
		if !ok {
			return m, syntaxErr(what, 3, "the authzid field does not start with a= (RFC 5801 §4)")
		}
		if m.Authzid, ok = decodeSASLName(a); !ok {
			return m, syntaxErr(what, 5, "bad escape in the authzid: only =2C and =3D are allowed (RFC 5801 §4)")
		}
	}
	body, ok := strings.CutSuffix(rest, "\x01")
	if !ok {
		return m, syntaxErr(what, 0, "the message does not end with ^A^A (RFC 7628 §3.1)")
	}
	seenAuth := false
	for _, kv := range strings.Split(body, "\x01") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return m, syntaxErr(what, 0, "kvpair %q has no '=' (RFC 7628 §3.1)", kv)
		}
		switch k {
		case "host":
			m.Host = v
		case "port":
			p, err := strconv.Atoi(v)
			if err != nil || p < 0 || p > 65535 {
				return m, syntaxErr(what, 0, "port %q is not a port number (RFC 7628 §3.1)", v)
			}
			m.Port = p
		case "auth":
			t, ok := cutBearer(v)
			if !ok || t == "" {
				return m, syntaxErr(what, 0, "auth= does not hold \"Bearer\" and a token (RFC 6750 §2.1)")
			}
			m.Token, seenAuth = t, true
		}
	}
	if !seenAuth {
		return m, syntaxErr(what, 0, "no auth= kvpair (RFC 7628 §3.1)")
	}
	return m, nil
}

// OAuthError is the JSON a server sends in a 334 challenge when it refuses
// a token (RFC 7628 §3.2.2; Google's XOAUTH2 sends the same object). The
// client answers it with OAuthErrorAck and then gets the final 5xx.
type OAuthError struct {
	// Status is the error, as RFC 6749 §5.2 and RFC 6750 §3.1 name them
	// ("invalid_token"); Google sends an HTTP status such as "400".
	Status string `json:"status"`
	// Scope is the scope the token would need; may be empty.
	Scope string `json:"scope,omitempty"`
	// OpenIDConfiguration is where to discover the authorization server
	// ("openid-configuration", RFC 7628 §3.2.2); may be empty.
	OpenIDConfiguration string `json:"openid-configuration,omitempty"`
	// Schemes is Google's list of accepted schemes ("Bearer").
	Schemes string `json:"schemes,omitempty"`
}

// OAuthErrorAck is the client's answer to an OAuthError challenge:
// base64 of a single ^A (RFC 7628 §3.2.3, "dummy" client response). For
// XOAUTH2, Google asks for an empty response instead; servers accept either.
const OAuthErrorAck = "AQ=="

// EncodeOAuthError returns e as the base64 text of a 334 challenge.
func EncodeOAuthError(e OAuthError) string {
	b, _ := json.Marshal(e) // a struct of strings always marshals
	return base64.StdEncoding.EncodeToString(b)
}

// ParseOAuthError decodes the base64 JSON of an OAUTHBEARER or XOAUTH2
// error challenge (RFC 7628 §3.2.2). A challenge that is not base64 or
// not a JSON object with a "status" string is an error.
func ParseOAuthError(challengeB64 string) (OAuthError, error) {
	const what = "SASL OAuth error"
	var e OAuthError
	b, err := DecodeBase64Line(challengeB64)
	if err != nil {
		return e, fmt.Errorf("%s: %w", what, err)
	}
	if len(b) > maxOAuthField {
		return e, syntaxErr(what, 0, "JSON of %d octets is too long", len(b))
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, syntaxErr(what, 0, "not a JSON object of strings: %v (RFC 7628 §3.2.2)", err)
	}
	if e.Status == "" {
		return e, syntaxErr(what, 0, "no \"status\" (RFC 7628 §3.2.2)")
	}
	return e, nil
}

// encodeSASLName escapes ',' and '=' in a saslname (RFC 5801 §4, RFC 5802
// §5.1).
func encodeSASLName(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// decodeSASLName undoes encodeSASLName; false for a '=' that starts
// neither escape.
func decodeSASLName(s string) (string, bool) {
	if !strings.Contains(s, "=") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}
