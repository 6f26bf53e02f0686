package smtp

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
)

// ErrAuthCancelled is returned by DecodeBase64Line for the client's "*"
// line, which cancels the AUTH exchange (RFC 4954 §4); the server answers
// 501.
var ErrAuthCancelled = errors.New("AUTH exchange cancelled by the client (\"*\", RFC 4954 §4)")

// DecodeBase64Line decodes one line of an AUTH exchange (RFC 4954 §4): a
// client response, a server challenge after "334 ", or an initial response.
// "=" stands for an empty response and gives an empty, non-nil slice; "*"
// gives ErrAuthCancelled. Otherwise the line must be base64 as RFC 4648 §4
// defines it, padded and canonical; anything else is a *SyntaxError whose
// Column is the 1-based column of the first bad character.
func DecodeBase64Line(s string) ([]byte, error) {
	const what = "SASL base64"
	switch s {
	case "=":
		return []byte{}, nil
	case "*":
		return nil, ErrAuthCancelled
	case "":
		// RFC 4954 §4: an empty initial response is sent as "=", and a
		// response line holds base64; an empty line is neither. Some
		// clients send it for an empty response anyway.
		return nil, syntaxErr(what, 0, "empty line (an empty response is written \"=\", RFC 4954 §4)")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return nil, syntaxErr(what, i+1, "%q is not a base64 character (RFC 4648 §4)", c)
		}
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err == nil {
		return b, nil
	}
	var ce base64.CorruptInputError
	if errors.As(err, &ce) {
		off := int(ce)
		if len(s)%4 != 0 && !strings.Contains(s, "=") {
			if _, err2 := base64.RawStdEncoding.Strict().DecodeString(s); err2 == nil {
				return nil, syntaxErr(what, len(s)+1, "missing '=' padding: length %d is not a multiple of 4 (RFC 4648 §3.2)", len(s))
			}
		}
		if _, err2 := base64.StdEncoding.DecodeString(s); err2 == nil {
			return nil, syntaxErr(what, off+1, "non-canonical base64: the unused bits before the padding are not zero (RFC 4648 §3.5)")
		}
		if off >= len(s) {
			return nil, syntaxErr(what, len(s)+1, "truncated: length %d is not a multiple of 4", len(s))
		}
		return nil, syntaxErr(what, off+1, "invalid base64 at offset %d", off)
	}
	return nil, fmt.Errorf("%s: %w", what, err)
}

// EncodePlain returns the base64 PLAIN message (RFC 4616 §2) for an
// optional authorization identity, a user and a password, as sent after
// "AUTH PLAIN " or in answer to "334 ".
func EncodePlain(authzid, user, pass string) string {
	_, ir, _ := sasl.NewPlainClient(authzid, user, pass).Start()
	return base64.StdEncoding.EncodeToString(ir)
}

// DecodePlain decodes a PLAIN message (RFC 4616 §2):
//
//	message = [authzid] UTF8NUL authcid UTF8NUL passwd
//	authcid = 1*SAFE ; SAFE is any UTF-8 except NUL
//	passwd  = 1*SAFE
//
// A message without exactly two NULs is an error. When the NULs are there but
// a field is empty or not UTF-8, the fields are returned along with the
// error, so a capture can still show what was sent.
func DecodePlain(b64 string) (authzid, user, pass string, err error) {
	const what = "SASL PLAIN"
	b, err := DecodeBase64Line(b64)
	if err != nil {
		return "", "", "", fmt.Errorf("%s: %w", what, err)
	}
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", "", "", syntaxErr(what, 0, "no NUL separator in the %d decoded octets: expected authzid NUL user NUL password (RFC 4616 §2)", len(b))
	}
	j := bytes.IndexByte(b[i+1:], 0)
	if j < 0 {
		return "", "", "", syntaxErr(what, 0, "only one NUL separator (at decoded offset %d): expected authzid NUL user NUL password (RFC 4616 §2)", i)
	}
	j += i + 1
	if k := bytes.IndexByte(b[j+1:], 0); k >= 0 {
		return "", "", "", syntaxErr(what, 0, "a third NUL at decoded offset %d: the password may not contain NUL (RFC 4616 §2)", j+1+k)
	}
	authzid, user, pass = string(b[:i]), string(b[i+1:j]), string(b[j+1:])
	switch {
	case user == "":
		err = syntaxErr(what, 0, "empty user name (authcid, RFC 4616 §2)")
	case pass == "":
		err = syntaxErr(what, 0, "empty password (RFC 4616 §2)")
	case !utf8.ValidString(authzid) || !utf8.ValidString(user) || !utf8.ValidString(pass):
		err = syntaxErr(what, 0, "a field is not valid UTF-8 (RFC 4616 §2)")
	}
	return authzid, user, pass, err
}

// EncodeLogin returns s in base64, as a LOGIN response
// (draft-murchison-sasl-login-00 §2) carries a user name or password.
func EncodeLogin(s string) string {
	return base64.StdEncoding.EncodeToString([]byte(s))
}

// DecodeLogin decodes one base64 LOGIN response (a user name or password).
// Errors are as for DecodeBase64Line.
func DecodeLogin(b64 string) (string, error) {
	b, err := DecodeBase64Line(b64)
	if err != nil {
		return "", fmt.Errorf("SASL LOGIN: %w", err)
	}
	return string(b), nil
}

// LoginPrompt is what a LOGIN challenge asks for.
type LoginPrompt int

// LOGIN prompts.
const (
	// LoginPromptOther is a prompt that is neither of the usual ones;
	// the draft says clients should not depend on its text.
	LoginPromptOther LoginPrompt = iota
	// LoginUsername is "Username:" ("VXNlcm5hbWU6"), or the draft's
	// "User Name".
	LoginUsername
	// LoginPassword is "Password:" ("UGFzc3dvcmQ6").
	LoginPassword
)

// String names the prompt.
func (p LoginPrompt) String() string {
	switch p {
	case LoginUsername:
		return "username"
	case LoginPassword:
		return "password"
	}
	return "other"
}

// ParseLoginPrompt decodes a LOGIN challenge, the text after "334 ", and
// says which prompt it is. Servers send "Username:" and "Password:"
// (Exim, Postfix with Cyrus or Dovecot, Exchange); the draft
// (draft-murchison-sasl-login-00 §2) shows "User Name" and "Password".
// Matching ignores case, a trailing colon and a trailing NUL.
func ParseLoginPrompt(challengeB64 string) (LoginPrompt, string, error) {
	b, err := DecodeBase64Line(challengeB64)
	if err != nil {
		return LoginPromptOther, "", fmt.Errorf("SASL LOGIN prompt: %w", err)
	}
	text := string(b)
	key := strings.TrimSuffix(strings.TrimSuffix(text, "\x00"), ":")
	switch {
	case strings.EqualFold(key, "Username"), strings.EqualFold(key, "User Name"):
		return LoginUsername, text, nil
	case strings.EqualFold(key, "Password"):
		return LoginPassword, text, nil
	}
	return LoginPromptOther, text, nil
}

// CRAMMD5Response computes the client's answer to a CRAM-MD5 challenge
// (RFC 2195 §2): base64 of the user, a space and the lower-case hex
// HMAC-MD5 of the decoded challenge keyed with secret.
func CRAMMD5Response(challengeB64, user, secret string) (string, error) {
	ch, err := DecodeBase64Line(challengeB64)
	if err != nil {
		return "", fmt.Errorf("SASL CRAM-MD5 challenge: %w", err)
	}
	resp := user + " " + cramDigest(ch, secret)
	return base64.StdEncoding.EncodeToString([]byte(resp)), nil
}

func cramDigest(challenge []byte, secret string) string {
	m := hmac.New(md5.New, []byte(secret))
	m.Write(challenge)
	return hex.EncodeToString(m.Sum(nil))
}

// DecodeCRAMMD5 decodes a CRAM-MD5 exchange (RFC 2195 §2) into the user
// name and hex digest. The challenge should be an RFC 5322 msg-id
// ("<…@…>"); a challenge that does not decode is an error. The response is
// the user, one space, and 32 lower-case hex digits; the user is everything
// before the last space, so it may itself contain spaces.
func DecodeCRAMMD5(challengeB64, responseB64 string) (user, digest string, err error) {
	const what = "SASL CRAM-MD5"
	if _, err := DecodeBase64Line(challengeB64); err != nil {
		return "", "", fmt.Errorf("%s challenge: %w", what, err)
	}
	b, err := DecodeBase64Line(responseB64)
	if err != nil {
		return "", "", fmt.Errorf("%s response: %w", what, err)
	}
	i := bytes.LastIndexByte(b, ' ')
	if i < 0 {
		return "", "", syntaxErr(what, 0, "response %q has no space between the user and the digest (RFC 2195 §2)", b)
	}
	user, digest = string(b[:i]), string(b[i+1:])
	if user == "" {
		return "", "", syntaxErr(what, 0, "empty user name before the digest (RFC 2195 §2)")
	}
	if len(digest) != 32 {
		return user, "", syntaxErr(what, 0, "digest is %d characters, not 32 hex digits (RFC 2195 §2)", len(digest))
	}
	for k := 0; k < len(digest); k++ {
		if c := digest[k]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return user, "", syntaxErr(what, 0, "digest character %d is %q, not a lower-case hex digit (RFC 2195 §2)", k+1, c)
		}
	}
	return user, digest, nil
}

// VerifyCRAMMD5 reports whether digest (lower-case hex) is the HMAC-MD5 of
// the decoded challenge keyed with secret (RFC 2195 §2), in constant time.
// user is not part of the digest; it is taken so that a call reads as the
// exchange it checks, and must not be empty.
func VerifyCRAMMD5(challenge, user, digest, secret string) bool {
	if user == "" {
		return false
	}
	want := cramDigest([]byte(challenge), secret)
	return hmac.Equal([]byte(want), []byte(digest))
}
