package lab

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"

	"github.com/xdg-go/scram"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

// scramIterations is the PBKDF2 count the lab asks of SCRAM clients: RFC
// 7677 §4 asks for at least 4096 with SHA-256, and clients such as
// xdg-go/scram refuse fewer.
const scramIterations = 4096

// checkToken compares a bearer token with the profile's token for user,
// in constant time.
func (s *session) checkToken(user, token string) bool {
	want, ok := s.p.Auth.Tokens[user]
	return ok && want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(token)) == 1
}

// ackLine reads the client's answer to a challenge that ends an exchange
// (an OAuth error, RFC 7628 §3.2.3; SCRAM's server-final, RFC 4954 §4):
// an empty line, "=" or "AQ==" (^A). "*" cancels.
func (s *session) ackLine(b64 string) error {
	line, err := s.challenge(b64)
	if err != nil {
		return err
	}
	switch line {
	case "", "=", smtp.OAuthErrorAck:
		return nil
	case "*":
		return smtp.ErrAuthCancelled
	}
	if _, err := smtp.DecodeBase64Line(line); err != nil {
		return err
	}
	return nil
}

// authOAuth answers XOAUTH2 (Google's format) and OAUTHBEARER (RFC 7628).
// A refused token gets the JSON error challenge the mechanism defines,
// Gmail's for XOAUTH2 and RFC 7628 §3.2.2's for OAUTHBEARER, and after the
// client's acknowledgement the failure (ok false).
func (s *session) authOAuth(mech, ir string) (string, bool, error) {
	msg := ir
	if msg == "" || msg == "=" {
		var err error
		if msg, err = s.challenge(""); err != nil {
			return "", false, err
		}
	}
	var user, token string
	var oerr smtp.OAuthError
	if mech == "XOAUTH2" {
		var err error
		if user, token, err = smtp.DecodeXOAUTH2(msg); err != nil {
			return "", false, err
		}
		oerr = smtp.OAuthError{Status: "400", Schemes: "Bearer", Scope: "https://mail.google.com/"}
	} else {
		m, err := smtp.DecodeOAuthBearer(msg)
		if err != nil {
			return "", false, err
		}
		user, token = m.Authzid, m.Token
		if user == "" {
			// RFC 7628 §3.1: without "a=" the token says who; the
			// lab's tokens are opaque, so it needs the name.
			s.note("AUTH OAUTHBEARER: no a= user in the gs2 header")
		}
		oerr = smtp.OAuthError{Status: "invalid_token", Scope: "mail", OpenIDConfiguration: "https://" + s.p.Hostname + "/.well-known/openid-configuration"}
	}
	if s.checkToken(user, token) {
		return user, true, nil
	}
	s.note("AUTH %s: the token for %q is not the profile's", mech, user)
	if err := s.ackLine(smtp.EncodeOAuthError(oerr)); err != nil {
		return user, false, err
	}
	return user, false, nil
}

// scramCredentials derives the keys a SCRAM server stores (RFC 5802 §3:
// StoredKey and ServerKey, never the password) from a directory password.
// The salt is derived from the host and user so that the same lab gives
// the same salt every time, as a server with stored keys would. An unknown
// user gets keys of a random password, so the exchange runs to the proof
// and fails there: the lab does not say which users exist.
func (s *session) scramCredentials(h scram.HashGeneratorFcn, user string) (scram.StoredCredentials, error) {
	pass, ok := s.p.Users[user]
	if !ok {
		var b [16]byte
		rand.Read(b[:])
		pass = base64.StdEncoding.EncodeToString(b[:])
	}
	c, err := h.NewClient(user, pass, "")
	if err != nil {
		return scram.StoredCredentials{}, err
	}
	salt := sha256.Sum256([]byte("smtpsh-lab-scram\x00" + s.p.Hostname + "\x00" + user))
	return c.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt[:16]), Iters: scramIterations})
}

// authSCRAM answers SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677)
// with xdg-go/scram's server: client-first (initial response or after an
// empty 334), 334 server-first, client-final with the proof, and on a
// good proof 334 server-final ("v=", the server's signature), which the
// client acknowledges with an empty line (RFC 4954 §4: 235 carries no
// data). A wrong proof gets 535 at once.
func (s *session) authSCRAM(mech, ir string) (string, bool, error) {
	h, err := smtp.SCRAMHash(mech)
	if err != nil {
		return "", false, err
	}
	srv, err := h.NewServer(func(user string) (scram.StoredCredentials, error) {
		return s.scramCredentials(h, user)
	})
	if err != nil {
		return "", false, err
	}
	conv := srv.NewConversation()
	msg := ir
	if msg == "" || msg == "=" {
		if msg, err = s.challenge(""); err != nil {
			return "", false, err
		}
	}
	// Two client messages: client-first, client-final (RFC 5802 §5).
	for range 2 {
		b, err := smtp.DecodeBase64Line(msg)
		if err != nil {
			return conv.Username(), false, err
		}
		out, err := conv.Step(string(b))
		if err != nil {
			s.note("AUTH %s: %v", mech, err)
			return conv.Username(), false, nil
		}
		if conv.Done() {
			if !conv.Valid() {
				return conv.Username(), false, nil
			}
			if err := s.ackLine(base64.StdEncoding.EncodeToString([]byte(out))); err != nil {
				return conv.Username(), false, err
			}
			if conv.AuthzID() != "" && conv.AuthzID() != conv.Username() {
				s.note("AUTH %s: %s may not act as %s", mech, conv.Username(), conv.AuthzID())
				return conv.Username(), false, nil
			}
			return conv.Username(), true, nil
		}
		if msg, err = s.challenge(base64.StdEncoding.EncodeToString([]byte(out))); err != nil {
			return conv.Username(), false, err
		}
	}
	return conv.Username(), false, fmt.Errorf("%s: the exchange did not end", mech)
}
