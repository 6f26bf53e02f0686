package smtp

import (
	"fmt"
	"strings"
)

// ChooseOptions say what a client has to authenticate with.
type ChooseOptions struct {
	// TLS says the connection is encrypted.
	TLS bool
	// Token says the client holds an OAuth bearer token instead of a
	// password: only XOAUTH2 and OAUTHBEARER can use it.
	Token bool
	// Force allows mechanisms that send a replayable secret (PLAIN,
	// LOGIN, a bearer token) on a connection without TLS.
	Force bool
}

// passwordOrder is the preference among password mechanisms, strongest
// first: SCRAM never sends the password or anything replayable and proves
// the server knows it too (RFC 5802 §3; SHA-256 over SHA-1, RFC 7677 §1);
// CRAM-MD5 sends an HMAC a cracker can attack offline (RFC 2195 §3);
// PLAIN and LOGIN send the password itself (RFC 4616 §6).
var passwordOrder = [...]string{SCRAMSHA256, SCRAMSHA1, "CRAM-MD5", "PLAIN", "LOGIN"}

// tokenOrder prefers the standard OAUTHBEARER (RFC 7628) over Google's
// XOAUTH2.
var tokenOrder = [...]string{"OAUTHBEARER", "XOAUTH2"}

// ChooseMechanism picks the strongest of the advertised SASL mechanisms
// (the EHLO AUTH keyword's list, RFC 4954 §3) that the client can use, and
// says why in a sentence. Mechanisms that send a replayable secret are
// picked only on TLS or with Force (RFC 4954 §4 and §14: a password in
// clear text is readable by anyone on the path). It is an error when none
// fits; the error says what was advertised and what would help.
func ChooseMechanism(advertised []string, o ChooseOptions) (mech, why string, err error) {
	has := func(m string) bool {
		for _, a := range advertised {
			if strings.EqualFold(a, m) {
				return true
			}
		}
		return false
	}
	list := strings.Join(advertised, " ")
	if list == "" {
		list = "nothing"
	}
	clear := o.TLS || o.Force
	if o.Token {
		for _, m := range tokenOrder {
			if !has(m) {
				continue
			}
			if !clear {
				return "", "", fmt.Errorf("%s is advertised but the connection is not encrypted: a bearer token is replayable until it expires; STARTTLS first, or force it", m)
			}
			why = "a token was given; OAUTHBEARER (RFC 7628) is the standard form, XOAUTH2 Google's older one"
			if m == "XOAUTH2" {
				why = "a token was given and XOAUTH2 (Google's format) is the token mechanism advertised"
			}
			return m, why, nil
		}
		return "", "", fmt.Errorf("a token was given but neither OAUTHBEARER nor XOAUTH2 is advertised (the server offers %s)", list)
	}
	for _, m := range passwordOrder {
		if !has(m) {
			continue
		}
		switch m {
		case SCRAMSHA256, SCRAMSHA1:
			return m, m + " is the strongest advertised: neither the password nor anything replayable crosses the wire, and the server proves it knows the password too (RFC 5802 §3)", nil
		case "CRAM-MD5":
			return m, "CRAM-MD5 is the strongest advertised: the password is not sent, only an HMAC-MD5 of the server's challenge (RFC 2195), which a cracker can still attack offline", nil
		}
		if !clear {
			return "", "", fmt.Errorf("only %s is advertised and it sends the password itself (base64 is not encryption): STARTTLS first, or force it", list)
		}
		why = m + " sends the password itself; acceptable because the connection is encrypted"
		if !o.TLS {
			why = m + " sends the password itself in clear text: forced without TLS"
		}
		return m, why, nil
	}
	return "", "", fmt.Errorf("no mechanism smtpsh speaks with a password is advertised (the server offers %s)", list)
}
