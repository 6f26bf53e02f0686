package capture

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

// Credential is what one AUTH exchange (RFC 4954) gives away to whoever
// captured it. PLAIN and LOGIN carry the password itself, base64 being an
// encoding, not encryption; CRAM-MD5 carries an HMAC-MD5 of a challenge the
// server chose, which a password cracker can attack offline; XOAUTH2 and
// OAUTHBEARER carry a bearer token that works as it is until it expires;
// SCRAM carries nothing replayable. Which is why AUTH belongs after
// STARTTLS or on implicit TLS (RFC 8314).
type Credential struct {
	ConvID         int
	Client, Server netip.AddrPort
	At             time.Time
	// Mechanism is the SASL mechanism, upper-case ("PLAIN").
	Mechanism string
	// Authzid, User and Password are as decoded; Password is empty for
	// the mechanisms that do not send it.
	Authzid, User, Password string
	// Challenge and Response are CRAM-MD5's base64 challenge (the 334
	// text) and response; Digest is the response's hex HMAC-MD5 (RFC 2195 §2).
	Challenge, Response, Digest string
	// Token is the bearer token of XOAUTH2 or OAUTHBEARER (RFC 7628 §3.1).
	Token string
	// Nonce is the client nonce of SCRAM's client-first message (RFC 5802 §5.1).
	Nonce string
	// Replayable says the captured secret works as it is (a password or a
	// token), not only as input to a cracker.
	Replayable bool
	// Cancelled says the client sent "*" (RFC 4954 §4).
	Cancelled bool
	// Result is the code of the final reply: 235 for success (RFC 4954
	// §6), 0 if the capture holds none.
	Result int
	// Err says what could not be decoded, if anything.
	Err string
}

// Accepted reports whether the server accepted the credentials (235).
func (c *Credential) Accepted() bool { return c.Result == 235 }

// HashcatLine returns the CRAM-MD5 exchange as hashcat's mode 10200
// ("CRAM-MD5") takes it: "$cram_md5$" base64-challenge "$" base64-response,
// as in hashcat's example hashes
// ("$cram_md5$PG5vLXJlcGx5QGhhc2hjYXQubmV0Pg==$dXNlciA0NGVhZmQy…",
// password "hashcat"). Mode 16400, "CRAM-MD5 Dovecot", is Dovecot's stored
// "{CRAM-MD5}" hash, not a captured exchange. It returns "" for other
// mechanisms and for an exchange whose challenge was not captured.
func (c *Credential) HashcatLine() string {
	if c.Mechanism != "CRAM-MD5" || c.Challenge == "" || c.Digest == "" {
		return ""
	}
	return "$cram_md5$" + c.Challenge + "$" + c.Response
}

// JohnLine returns the CRAM-MD5 exchange for John the Ripper's HMAC-MD5
// format (--format=hmac-md5, src/hmacMD5_fmt_plug.c): "user:" then the
// same "$cram_md5$…" form, which that format's prepare() turns into its
// "challenge#digest" form. That format takes challenges of at most 64
// bytes (55 in its SIMD build). "" when HashcatLine is "".
func (c *Credential) JohnLine() string {
	h := c.HashcatLine()
	if h == "" {
		return ""
	}
	return strings.NewReplacer(":", "_", "\n", "_").Replace(c.User) + ":" + h
}

// authExchange is one AUTH command and what followed it.
type authExchange struct {
	mech       string
	ir         string
	hasIR      bool
	at         time.Time
	responses  []string // client lines after AUTH
	challenges [maxSASL + 1]string
	clientOpen bool // the client side may still send responses
	cancelled  bool
	seen334    int // challenges seen so far
	result     int
	done       bool
}

// open reports whether a client line may answer a challenge; a nil
// exchange is closed.
func (a *authExchange) open() bool { return a != nil && a.clientOpen && !a.done }

// authReply applies a reply to AUTH or to a SASL response.
func (d *Decoder) authReply(at time.Time, c *command) {
	a := c.auth
	r := &d.reply
	if a == nil || a.done {
		return
	}
	if r.code == 334 { // RFC 4954 §4: a challenge
		a.seen334++
		if c.authStep < len(a.challenges) {
			a.challenges[c.authStep] = r.last
		}
		return
	}
	a.result = r.code
	d.finishAuth(a)
}

// finishAuth decodes an exchange into a Credential.
func (d *Decoder) finishAuth(a *authExchange) {
	if a.done {
		return
	}
	a.done = true
	a.clientOpen = false
	if d.auth == a {
		d.auth = nil
	}
	info := d.conv.Info
	cr := &Credential{ConvID: info.ID, Client: info.Client, Server: info.Server, At: a.at,
		Mechanism: a.mech, Result: a.result, Cancelled: a.cancelled}
	if err := decodeAuth(cr, a); err != nil {
		cr.Err = err.Error()
	}
	d.conv.Creds = append(d.conv.Creds, cr)
}

// message returns the n-th SASL message the client sent: the initial
// response counts first when there is one (RFC 4954 §4).
func (a *authExchange) message(n int) (string, bool) {
	var msgs []string
	if a.hasIR {
		msgs = append(msgs, a.ir)
	}
	msgs = append(msgs, a.responses...)
	if n < len(msgs) {
		return msgs[n], true
	}
	return "", false
}

var errNoResponse = errors.New("the capture holds no response")

// decodeAuth fills cr from the exchange.
func decodeAuth(cr *Credential, a *authExchange) error {
	switch {
	case a.mech == "PLAIN":
		// RFC 4616 §2; an empty initial response ("=") means the
		// message follows a 334 (RFC 4954 §4).
		msg, ok := a.message(0)
		if ok && msg == "=" {
			msg, ok = a.message(1)
		}
		if !ok {
			return errNoResponse
		}
		cr.Replayable = true
		var err error
		cr.Authzid, cr.User, cr.Password, err = smtp.DecodePlain(msg)
		return err
	case a.mech == "LOGIN":
		return decodeLogin(cr, a)
	case a.mech == "CRAM-MD5":
		// RFC 2195 §2: 334 base64(challenge), then base64(user SP digest).
		resp, ok := a.message(0)
		if !ok {
			return errNoResponse
		}
		cr.Challenge, cr.Response = a.challenges[0], resp
		if cr.Challenge == "" {
			b, err := smtp.DecodeBase64Line(resp)
			if err != nil {
				return fmt.Errorf("CRAM-MD5 response: %w", err)
			}
			if i := bytes.LastIndexByte(b, ' '); i > 0 {
				cr.User, cr.Digest = string(b[:i]), string(b[i+1:])
			}
			return errors.New("the CRAM-MD5 challenge is not in the capture")
		}
		var err error
		cr.User, cr.Digest, err = smtp.DecodeCRAMMD5(cr.Challenge, resp)
		return err
	case a.mech == "XOAUTH2":
		return decodeXOAUTH2(cr, a)
	case a.mech == "OAUTHBEARER":
		return decodeOAuthBearer(cr, a)
	case strings.HasPrefix(a.mech, "SCRAM-"):
		return decodeSCRAM(cr, a)
	}
	return fmt.Errorf("mechanism %s is not decoded", a.mech)
}

// decodeLogin reads LOGIN (draft-murchison-sasl-login-00 §2): the user and
// then the password, each answering a prompt ("Username:", "Password:"),
// the user possibly as the initial response.
func decodeLogin(cr *Credential, a *authExchange) error {
	cr.Replayable = true
	var vals []string // decoded messages in order, paired with the prompt before each
	var prompts []smtp.LoginPrompt
	var firstErr error
	add := func(b64 string, challenge string) {
		v, err := smtp.DecodeLogin(b64)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		p := smtp.LoginPromptOther
		if challenge != "" {
			p, _, _ = smtp.ParseLoginPrompt(challenge)
		}
		vals = append(vals, v)
		prompts = append(prompts, p)
	}
	if a.hasIR && a.ir != "=" {
		add(a.ir, "")
		prompts[0] = smtp.LoginUsername // RFC 4954 §4: the IR is the first response
	}
	for i, r := range a.responses {
		if r == "*" {
			break
		}
		add(r, a.challenges[i])
	}
	if len(vals) == 0 {
		return errNoResponse
	}
	user, pass := -1, -1
	for i, p := range prompts {
		switch {
		case p == smtp.LoginUsername && user < 0:
			user = i
		case p == smtp.LoginPassword && pass < 0:
			pass = i
		}
	}
	// Prompts unseen (one-sided capture) or unusual: user first, then password.
	if user < 0 && pass != 0 {
		user = 0
	}
	if pass < 0 && user+1 < len(vals) {
		pass = user + 1
	}
	if user >= 0 {
		cr.User = vals[user]
	}
	if pass >= 0 {
		cr.Password = vals[pass]
	}
	return firstErr
}

// decodeXOAUTH2 reads Google's XOAUTH2: base64 of
// "user=" user ^A "auth=Bearer " token ^A ^A.
func decodeXOAUTH2(cr *Credential, a *authExchange) error {
	msg, ok := a.message(0)
	if !ok {
		return errNoResponse
	}
	b, err := smtp.DecodeBase64Line(msg)
	if err != nil {
		return fmt.Errorf("XOAUTH2: %w", err)
	}
	for _, f := range strings.Split(string(b), "\x01") {
		k, v, _ := strings.Cut(f, "=")
		switch strings.ToLower(k) {
		case "user":
			cr.User = v
		case "auth":
			cr.Token = bearer(v)
		}
	}
	cr.Replayable = cr.Token != ""
	return nil
}

// decodeOAuthBearer reads RFC 7628 §3.1: a GS2 header "n,a=user," then
// kvpairs separated by ^A, one "auth=Bearer token".
func decodeOAuthBearer(cr *Credential, a *authExchange) error {
	msg, ok := a.message(0)
	if !ok {
		return errNoResponse
	}
	b, err := smtp.DecodeBase64Line(msg)
	if err != nil {
		return fmt.Errorf("OAUTHBEARER: %w", err)
	}
	fields := strings.Split(string(b), "\x01")
	for _, g := range strings.Split(fields[0], ",") {
		if u, ok := strings.CutPrefix(g, "a="); ok {
			cr.User = saslName(u)
		}
	}
	for _, f := range fields[1:] {
		if k, v, ok := strings.Cut(f, "="); ok && k == "auth" {
			cr.Token = bearer(v)
		}
	}
	cr.Replayable = cr.Token != ""
	return nil
}

// decodeSCRAM reads SCRAM's client-first message (RFC 5802 §7):
// gs2-header then "n=" saslname ",r=" c-nonce. The proof that follows is
// not a password, and a captured exchange cannot be replayed: the server's
// nonce differs each time.
func decodeSCRAM(cr *Credential, a *authExchange) error {
	msg, ok := a.message(0)
	if !ok {
		return errNoResponse
	}
	b, err := smtp.DecodeBase64Line(msg)
	if err != nil {
		return fmt.Errorf("%s: %w", a.mech, err)
	}
	parts := strings.SplitN(string(b), ",", 3)
	if len(parts) < 3 {
		return fmt.Errorf("%s: client-first message %q has no GS2 header (RFC 5802 §7)", a.mech, b)
	}
	if u, ok := strings.CutPrefix(parts[1], "a="); ok {
		cr.Authzid = saslName(u)
	}
	for _, f := range strings.Split(parts[2], ",") {
		switch {
		case strings.HasPrefix(f, "n="):
			cr.User = saslName(f[2:])
		case strings.HasPrefix(f, "r="):
			cr.Nonce = f[2:]
		}
	}
	return nil
}

// saslName undoes RFC 5802 §5.1's escaping of ',' and '='.
func saslName(s string) string {
	return strings.NewReplacer("=2C", ",", "=3D", "=").Replace(s)
}

// bearer returns the token of "Bearer token" (RFC 6750 §2.1).
func bearer(v string) string {
	if len(v) >= 7 && strings.EqualFold(v[:7], "Bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return strings.TrimSpace(v)
}
