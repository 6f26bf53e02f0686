package lab

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

// auth answers AUTH (RFC 4954) with PLAIN (RFC 4616), LOGIN
// (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195), XOAUTH2 (Google's
// format), OAUTHBEARER (RFC 7628) and SCRAM-SHA-1/-256 (RFC 5802, 7677).
func (s *session) auth(cmd *smtp.Command) {
	switch {
	case len(s.p.Auth.Mechanisms) == 0 || !s.p.hasExtension("AUTH") || !s.esmtp && s.helo != "":
		// Postfix's answer when smtpd_sasl_auth_enable = no; RFC 4954
		// §3 ties AUTH to EHLO.
		s.reply(503, ec(5, 5, 1), "Error: authentication not enabled")
		return
	case s.needHELO():
		return
	case s.authUser != "":
		// RFC 4954 §4: one successful AUTH per session.
		s.reply(503, ec(5, 5, 1), "Error: already authenticated")
		return
	case s.tx != nil:
		s.reply(503, ec(5, 5, 1), "Error: MAIL transaction in progress")
		return
	case s.p.TLS.Required && !s.tls:
		s.reply(530, ec(5, 7, 0), "Must issue a STARTTLS command first")
		return
	case s.p.Auth.TLSOnly && !s.tls:
		// RFC 4954 §6. Postfix with smtpd_tls_auth_only hides AUTH and
		// answers 503 "authentication not enabled"; the lab gives the
		// code the RFC defines for this, which teaches more.
		s.reply(538, ec(5, 7, 11), "Encryption required for requested authentication mechanism")
		return
	case !slices.Contains(s.p.Auth.Mechanisms, cmd.Mechanism):
		// Postfix's wording; RFC 4954 §4 would allow 504 5.5.4.
		s.reply(535, ec(5, 7, 8), "Error: authentication failed: Invalid authentication mechanism")
		return
	}
	var (
		user string
		ok   bool
		err  error
	)
	switch cmd.Mechanism {
	case "PLAIN":
		user, ok, err = s.authPlain(cmd.InitialResponse)
	case "LOGIN":
		user, ok, err = s.authLogin(cmd.InitialResponse)
	case "CRAM-MD5":
		if cmd.InitialResponse != "" {
			// RFC 2195: the server speaks first; RFC 4954 §4.
			s.reply(501, ec(5, 5, 4), "Syntax: CRAM-MD5 takes no initial response")
			return
		}
		user, ok, err = s.authCRAMMD5()
	case "XOAUTH2", "OAUTHBEARER":
		user, ok, err = s.authOAuth(cmd.Mechanism, cmd.InitialResponse)
	case "SCRAM-SHA-1", "SCRAM-SHA-256":
		user, ok, err = s.authSCRAM(cmd.Mechanism, cmd.InitialResponse)
	}
	var se *smtp.SyntaxError
	switch {
	case errors.Is(err, smtp.ErrAuthCancelled):
		// RFC 4954 §4: "*" cancels; 501.
		s.reply(501, ec(5, 7, 0), "Authentication aborted")
	case errors.Is(err, errAuthRead):
		// The session has ended.
	case errors.As(err, &se) && se.What == "SASL base64":
		s.note("AUTH %s: %v", cmd.Mechanism, err)
		s.reply(501, ec(5, 5, 2), "Cannot decode response")
	case err != nil || !ok:
		if err != nil {
			s.note("AUTH %s: %v", cmd.Mechanism, err)
		}
		s.reply(535, ec(5, 7, 8), "Error: authentication failed: authentication failure")
	default:
		s.authUser = user
		s.note("authenticated as %s with %s", user, cmd.Mechanism)
		s.reply(235, ec(2, 7, 0), "Authentication successful")
	}
}

// errAuthRead reports that the client went away during an AUTH exchange.
var errAuthRead = errors.New("lab: reading a SASL response")

// challenge sends "334 text" and reads the client's one-line answer
// (RFC 4954 §4). The answer is recorded (transcripts redact it).
func (s *session) challenge(b64 string) (string, error) {
	s.write(334, smtp.EnhancedCode{}, []string{b64})
	s.timeout = s.p.Limits.CommandTimeout
	line, tooLong, err := s.readLine(maxAuthLine)
	if err != nil {
		s.readError(err)
		return "", errAuthRead
	}
	if tooLong {
		s.addClient(line + "…")
		return "", errors.New("SASL response longer than 12288 octets (RFC 4954 §4)")
	}
	s.addClient(line)
	return line, nil
}

// checkPassword compares in constant time.
func (s *session) checkPassword(user, pass string) bool {
	want, ok := s.p.Users[user]
	return ok && subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1
}

func (s *session) authPlain(ir string) (string, bool, error) {
	resp := ir
	if resp == "" {
		// RFC 4616 §2 has no challenge: an empty one.
		var err error
		if resp, err = s.challenge(""); err != nil {
			return "", false, err
		}
	}
	authz, user, pass, err := smtp.DecodePlain(resp)
	if err != nil {
		return "", false, err
	}
	if authz != "" && authz != user {
		s.note("AUTH PLAIN: %s may not act as %s", user, authz)
		return "", false, nil
	}
	return user, s.checkPassword(user, pass), nil
}

func (s *session) authLogin(ir string) (string, bool, error) {
	var (
		user string
		err  error
	)
	if ir != "" {
		user, err = smtp.DecodeLogin(ir)
	} else {
		var resp string
		if resp, err = s.challenge(smtp.EncodeLogin("Username:")); err != nil {
			return "", false, err
		}
		user, err = smtp.DecodeLogin(resp)
	}
	if err != nil {
		return "", false, err
	}
	resp, err := s.challenge(smtp.EncodeLogin("Password:"))
	if err != nil {
		return "", false, err
	}
	pass, err := smtp.DecodeLogin(resp)
	if err != nil {
		return "", false, err
	}
	return user, s.checkPassword(user, pass), nil
}

func (s *session) authCRAMMD5() (string, bool, error) {
	// RFC 2195 §2: the challenge is a msg-id, unique per exchange.
	var nonce [8]byte
	rand.Read(nonce[:])
	challenge := "<" + hex.EncodeToString(nonce[:]) + "." + strconv.FormatInt(s.srv.now().Unix(), 10) + "@" + s.p.Hostname + ">"
	b64 := base64.StdEncoding.EncodeToString([]byte(challenge))
	resp, err := s.challenge(b64)
	if err != nil {
		return "", false, err
	}
	user, digest, err := smtp.DecodeCRAMMD5(b64, resp)
	if err != nil {
		return "", false, err
	}
	pass, known := s.p.Users[user]
	return user, known && smtp.VerifyCRAMMD5(challenge, user, digest, pass), nil
}
