package shell

import (
	"fmt"
	"strings"

	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
)

// hiddenPassword stands for a password in what the shell prints: neither
// it nor its length is shown.
const hiddenPassword = "********"

// saslNote says what a SASL message the user typed decodes to, with the
// password hidden: the initial response of "AUTH mech resp" (initial true)
// or a response to a 334 challenge (RFC 4954 §4). mech is the mechanism
// of the exchange, challenge the last challenge's base64 text. "" when
// there is nothing to say.
func saslNote(mech, challenge, resp string, initial bool) string {
	switch resp {
	case "*":
		if !initial {
			return "\"*\" cancels the AUTH exchange (RFC 4954 §4)"
		}
	case "=":
		if initial {
			return "\"=\" is an empty initial response (RFC 4954 §4)"
		}
	}
	switch strings.ToUpper(mech) {
	case "PLAIN": // RFC 4616 §2
		authz, user, _, err := smtp.DecodePlain(resp)
		if err != nil && user == "" {
			return "does not decode as PLAIN: " + render.Escape(err.Error())
		}
		note := fmt.Sprintf("PLAIN: authzid %q, user %q, password %s", render.Escape(authz), render.Escape(user), hiddenPassword)
		if err != nil {
			note += " (" + render.Escape(err.Error()) + ")"
		}
		return note
	case "LOGIN": // draft-murchison-sasl-login-00 §2
		prompt := smtp.LoginUsername
		if !initial {
			prompt, _, _ = smtp.ParseLoginPrompt(challenge)
		}
		if prompt != smtp.LoginUsername {
			return "LOGIN: the password, " + hiddenPassword
		}
		user, err := smtp.DecodeLogin(resp)
		if err != nil {
			return "does not decode as base64: " + render.Escape(err.Error())
		}
		return fmt.Sprintf("LOGIN: user %q", render.Escape(user))
	case "CRAM-MD5": // RFC 2195 §2
		if initial {
			return "CRAM-MD5 has no initial response: the server sends a challenge first (RFC 2195 §2)"
		}
		user, digest, err := smtp.DecodeCRAMMD5(challenge, resp)
		if err != nil {
			return "does not decode as CRAM-MD5: " + render.Escape(err.Error())
		}
		return fmt.Sprintf("CRAM-MD5: user %q, HMAC-MD5 digest %s (the password itself is never sent)", render.Escape(user), render.Escape(digest))
	case "XOAUTH2":
		if !initial && resp == "" {
			return "an empty response acknowledges the error and asks for the final reply"
		}
		user, _, err := smtp.DecodeXOAUTH2(resp)
		if err != nil {
			return "does not decode as XOAUTH2: " + render.Escape(err.Error())
		}
		return fmt.Sprintf("XOAUTH2: user %q, bearer token %s (replayable until it expires)", render.Escape(user), hiddenPassword)
	case "OAUTHBEARER": // RFC 7628 §3.1
		if resp == smtp.OAuthErrorAck && !initial {
			return "^A acknowledges the server's error and asks for the final reply (RFC 7628 §3.2.3)"
		}
		m, err := smtp.DecodeOAuthBearer(resp)
		if err != nil {
			return "does not decode as OAUTHBEARER: " + render.Escape(err.Error())
		}
		return fmt.Sprintf("OAUTHBEARER: authzid %q, host %q, port %d, bearer token %s (replayable until it expires)", render.Escape(m.Authzid), render.Escape(m.Host), m.Port, hiddenPassword)
	case smtp.SCRAMSHA1, smtp.SCRAMSHA256: // RFC 5802 §7
		if !initial && resp == "" {
			return "an empty response acknowledges the server-final message (RFC 4954 §4)"
		}
		d, err := smtp.DescribeSCRAM(resp)
		if err != nil {
			return "does not decode as SCRAM: " + render.Escape(err.Error())
		}
		return render.Escape(d)
	}
	return ""
}
