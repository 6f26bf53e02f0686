package shell

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// PasswordEnv is the environment variable :auth takes the password from
// when no person is typing (-c, --script, piped input). A password is never
// taken from the command line, where ps and the history would show it.
const PasswordEnv = "SMTPSH_PASSWORD"

// maxPassword bounds a password read for :auth, in bytes.
const maxPassword = 1024

// passwordReader is a LineReader that can read a line without echoing it.
type passwordReader interface {
	ReadPassword(prompt string) ([]byte, error)
}

// ReadPassword reads a line without echo, for :auth. It is called on the
// session's goroutine while no ReadLine is in progress.
func (r *Readline) ReadPassword(prompt string) ([]byte, error) {
	return r.rl.ReadPassword(prompt)
}

// saslClient is the client side of one AUTH exchange (RFC 4954 §4) that
// :auth holds on the user's behalf. It knows the password or token and
// says, for every line, what the server sees and what the user may see.
type saslClient struct {
	mech        string // upper case: PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER, SCRAM-SHA-1, SCRAM-SHA-256
	user, pass  string // pass is the bearer token for XOAUTH2 and OAUTHBEARER
	host        string // OAUTHBEARER's host and port kvpairs (RFC 7628 §3.1)
	port        int
	initial     bool // the message went with the AUTH command
	answers     int  // responses sent after 334 challenges
	loginAnswer int  // LOGIN: 0 user name next, 1 password next
	tokenSent   bool // XOAUTH2, OAUTHBEARER: the token went out
	scram       *smtp.SCRAMClient
}

// saslMechanisms are the mechanisms :auth speaks, as the user types them.
const saslMechanisms = "plain|login|cram-md5|scram-sha-1|scram-sha-256|xoauth2|oauthbearer|any"

// tokenMech reports whether mech authenticates with an OAuth bearer token.
func tokenMech(mech string) bool {
	return mech == "XOAUTH2" || mech == "OAUTHBEARER"
}

// knownMech checks a mechanism name and returns it in upper case.
func knownMech(mech string) (string, error) {
	m := strings.ToUpper(mech)
	switch m {
	case "PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER", smtp.SCRAMSHA1, smtp.SCRAMSHA256:
		return m, nil
	}
	return "", fmt.Errorf("unknown mechanism %q: :auth speaks %s", mech, strings.ReplaceAll(saslMechanisms, "|", ", "))
}

// newSASLClient checks the mechanism and user of ":auth MECH USER"; secret
// is the password, or the token for XOAUTH2 and OAUTHBEARER.
func newSASLClient(mech, user, secret string) (*saslClient, error) {
	m, err := knownMech(mech)
	if err != nil {
		return nil, err
	}
	what := "password"
	if tokenMech(m) {
		what = "token"
	}
	if user == "" {
		return nil, errors.New("no user name: :auth " + strings.ToLower(m) + " USER")
	}
	if strings.ContainsAny(user, "\x00\x01\r\n") {
		// ^A separates XOAUTH2's and OAUTHBEARER's fields.
		return nil, errors.New("the user name contains NUL, ^A, CR or LF")
	}
	if secret == "" {
		return nil, errors.New("empty " + what)
	}
	if strings.ContainsAny(secret, "\x00\x01\r\n") {
		// RFC 4616 §2: NUL separates PLAIN's fields; ^A separates the
		// OAuth kvpairs (RFC 7628 §3.1); CR LF would end the line.
		return nil, errors.New("the " + what + " contains NUL, ^A, CR or LF")
	}
	c := &saslClient{mech: m, user: user, pass: secret}
	if strings.HasPrefix(m, "SCRAM-") {
		if c.scram, err = smtp.NewSCRAMClient(m, user, secret, ""); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// tokenMessage is the XOAUTH2 or OAUTHBEARER message with the token.
func (c *saslClient) tokenMessage() string {
	c.tokenSent = true
	if c.mech == "XOAUTH2" {
		return smtp.EncodeXOAUTH2(c.user, c.pass)
	}
	return smtp.EncodeOAuthBearer(smtp.OAuthBearer{Authzid: c.user, Host: c.host, Port: c.port, Token: c.pass})
}

// start returns the AUTH command and the form of it that may be shown,
// and notes on what it carries. PLAIN, XOAUTH2 and OAUTHBEARER send their
// message as the initial response (RFC 4954 §4) only when withSecret is
// true (the connection is encrypted, or the user accepted a clear-text
// secret): otherwise a server that refuses AUTH before TLS (538, RFC 4954
// §6) never sees it. SCRAM's client-first holds no secret and always goes
// with AUTH (RFC 5802 §5). LOGIN (draft-murchison-sasl-login-00 §2) and
// CRAM-MD5 (RFC 2195 §2) wait for the server's challenge.
func (c *saslClient) start(withSecret bool) (line, shown string, notes []string, err error) {
	switch {
	case c.mech == "PLAIN" && withSecret:
		c.initial = true
		notes = append(notes, fmt.Sprintf("PLAIN: authzid \"\", user %q, password %s (RFC 4616 §2)", render.Escape(c.user), hiddenPassword))
		return "AUTH PLAIN " + smtp.EncodePlain("", c.user, c.pass), "AUTH PLAIN " + hiddenPassword, notes, nil
	case tokenMech(c.mech) && withSecret:
		c.initial = true
		notes = append(notes, c.tokenNote())
		return "AUTH " + c.mech + " " + c.tokenMessage(), "AUTH " + c.mech + " " + hiddenPassword, notes, nil
	case c.scram != nil:
		c.initial = true
		first, err := c.scram.Start()
		if err != nil {
			return "", "", nil, err
		}
		if d, derr := smtp.DescribeSCRAM(first); derr == nil {
			notes = append(notes, d)
		}
		return "AUTH " + c.mech + " " + first, "AUTH " + c.mech + " " + first, notes, nil
	}
	return "AUTH " + c.mech, "AUTH " + c.mech, nil, nil
}

// tokenNote says what an XOAUTH2 or OAUTHBEARER message holds.
func (c *saslClient) tokenNote() string {
	if c.mech == "XOAUTH2" {
		return fmt.Sprintf("XOAUTH2: user=%q ^A auth=Bearer %s ^A^A (Google's format; the token is replayable until it expires)", render.Escape(c.user), hiddenPassword)
	}
	return fmt.Sprintf("OAUTHBEARER: gs2 header \"n,a=%s,\", host=%q, port=%d, auth=Bearer %s (RFC 7628 §3.1; the token is replayable until it expires)", render.Escape(c.user), render.Escape(c.host), c.port, hiddenPassword)
}

// answer returns the response to a 334 challenge (its base64 text), the
// form of it that may be shown, and notes saying what the challenge and the
// response decode to, with the password hidden.
func (c *saslClient) answer(challenge string) (resp, shown string, notes []string, err error) {
	c.answers++
	if c.answers > 3 {
		// No mechanism here takes more than two: a server that keeps
		// asking is answered with "*", which cancels (RFC 4954 §4).
		return "*", "*", []string{"the server keeps asking: cancelling with \"*\" (RFC 4954 §4)"}, nil
	}
	if c.scram == nil {
		if b, derr := smtp.DecodeBase64Line(challenge); derr == nil {
			notes = append(notes, fmt.Sprintf("challenge decodes to %q", render.Escape(string(b))))
		} else if challenge != "" {
			notes = append(notes, "challenge does not decode: "+render.Escape(derr.Error()))
		}
	}
	switch c.mech {
	case "PLAIN":
		// RFC 4616 §2 via RFC 4954 §4: an empty challenge asks for the
		// message the client did not send with AUTH.
		resp = smtp.EncodePlain("", c.user, c.pass)
		notes = append(notes, fmt.Sprintf("answer: authzid \"\", user %q, password %s", render.Escape(c.user), hiddenPassword))
		return resp, hiddenPassword, notes, nil
	case "LOGIN":
		prompt, _, perr := smtp.ParseLoginPrompt(challenge)
		if perr != nil || prompt == smtp.LoginPromptOther {
			// The draft says clients should not depend on the prompt's
			// text: the first answer is the user, the second the
			// password.
			prompt = smtp.LoginUsername
			if c.loginAnswer > 0 {
				prompt = smtp.LoginPassword
			}
		}
		c.loginAnswer++
		if prompt == smtp.LoginUsername {
			resp = smtp.EncodeLogin(c.user)
			notes = append(notes, fmt.Sprintf("answer: %q", render.Escape(c.user)))
			return resp, resp, notes, nil
		}
		notes = append(notes, "answer: the password, "+hiddenPassword)
		return smtp.EncodeLogin(c.pass), hiddenPassword, notes, nil
	case "CRAM-MD5":
		resp, err = smtp.CRAMMD5Response(challenge, c.user, c.pass)
		if err != nil {
			return "*", "*", notes, fmt.Errorf("cannot answer the CRAM-MD5 challenge, cancelling: %w", err)
		}
		_, digest, _ := smtp.DecodeCRAMMD5(challenge, resp)
		notes = append(notes, fmt.Sprintf("answer: %q and the HMAC-MD5 of the challenge keyed with the password, %s (the password itself is never sent, RFC 2195 §2)", render.Escape(c.user), digest))
		return resp, resp, notes, nil
	case "XOAUTH2", "OAUTHBEARER":
		if !c.tokenSent && challenge == "" {
			// An empty challenge asks for the message not sent with
			// AUTH (RFC 4954 §4).
			notes = append(notes, c.tokenNote())
			return c.tokenMessage(), hiddenPassword, notes, nil
		}
		// RFC 7628 §3.2.2: a refused token gets a 334 with a JSON error;
		// the client acknowledges it and the server then says 5xx.
		if e, perr := smtp.ParseOAuthError(challenge); perr == nil {
			notes = append(notes, oauthErrorNote(e))
		}
		if c.mech == "XOAUTH2" {
			notes = append(notes, "answer: an empty line, as Google asks, to get the final reply")
			return "", "", notes, nil
		}
		notes = append(notes, "answer: a single ^A (\"AQ==\"), RFC 7628 §3.2.3, to get the final reply")
		return smtp.OAuthErrorAck, smtp.OAuthErrorAck, notes, nil
	case smtp.SCRAMSHA1, smtp.SCRAMSHA256:
		if d, derr := smtp.DescribeSCRAM(challenge); derr == nil {
			notes = append(notes, d)
		} else {
			notes = append(notes, "challenge does not decode: "+render.Escape(derr.Error()))
		}
		resp, err = c.scram.Next(challenge)
		if err != nil {
			return "*", "*", notes, fmt.Errorf("cancelling: %w", err)
		}
		if resp == "" {
			notes = append(notes, "the server's signature checks out: it knows the password too; answer: an empty line (RFC 4954 §4)")
			return "", "", notes, nil
		}
		if d, derr := smtp.DescribeSCRAM(resp); derr == nil {
			notes = append(notes, "answer: "+d)
		}
		return resp, resp, notes, nil
	}
	return "*", "*", notes, fmt.Errorf("mechanism %s", c.mech)
}

// oauthErrorNote explains an OAuth error challenge (RFC 7628 §3.2.2).
func oauthErrorNote(e smtp.OAuthError) string {
	n := fmt.Sprintf("the server refuses the token: status %q", render.Escape(e.Status))
	if e.Scope != "" {
		n += fmt.Sprintf(", scope needed %q", render.Escape(e.Scope))
	}
	if e.OpenIDConfiguration != "" {
		n += fmt.Sprintf(", discovery at %s", render.Escape(e.OpenIDConfiguration))
	}
	switch e.Status {
	case "invalid_token", "400", "401":
		n += " (expired, revoked or for another account: get a new token)"
	case "insufficient_scope":
		n += " (the token lacks the mail scope: request it again with that scope)"
	}
	return n + " (RFC 7628 §3.2.2)"
}

// TokenEnv is the environment variable :auth xoauth2 and :auth oauthbearer
// take the bearer token from before asking for it; :auth any uses the
// token mechanisms when it is set.
const TokenEnv = "SMTPSH_OAUTH_TOKEN"

// readPassword asks for the password without echo on a terminal, or takes
// it from $SMTPSH_PASSWORD in a script. Never from argv.
func (s *Session) readPassword(user string) (string, error) {
	return s.readSecret("password", user, PasswordEnv)
}

// readToken takes the bearer token from $SMTPSH_OAUTH_TOKEN, or asks for
// it without echo on a terminal. Never from argv.
func (s *Session) readToken(user string) (string, error) {
	if t, ok := os.LookupEnv(TokenEnv); ok && t != "" {
		if len(t) > maxPassword*8 {
			return "", fmt.Errorf("%s is longer than %d bytes", TokenEnv, maxPassword*8)
		}
		return t, nil
	}
	return s.readSecret("token", user, TokenEnv)
}

// readSecret reads a password or token without echo on a terminal, or from
// the environment variable env in a script.
func (s *Session) readSecret(what, user, env string) (string, error) {
	limit := maxPassword
	if what == "token" {
		limit *= 8 // JWT access tokens run to a few kilobytes
	}
	if pr, ok := s.in.(passwordReader); ok && s.in.Interactive() {
		b, err := pr.ReadPassword(fmt.Sprintf("%s for %s: ", what, render.Escape(user)))
		if err != nil {
			return "", fmt.Errorf("reading the %s: %w", what, err)
		}
		if len(b) > limit {
			return "", fmt.Errorf("%s longer than %d bytes", what, limit)
		}
		return string(b), nil
	}
	p, ok := os.LookupEnv(env)
	if !ok || p == "" {
		return "", fmt.Errorf("no %s: in a script, set %s (a %s is never taken from the command line)", what, env, what)
	}
	if len(p) > limit {
		return "", fmt.Errorf("%s is longer than %d bytes", env, limit)
	}
	return p, nil
}

// auth is ":auth MECH USER" and ":auth any USER [force]".
func (s *Session) auth(arg string) {
	f := strings.Fields(arg)
	force := len(f) == 3 && strings.EqualFold(f[0], "any") && strings.EqualFold(f[2], "force")
	if len(f) != 2 && !force {
		s.warn(":auth %s USER (the password or token is asked for, or taken from %s / %s in a script); :auth any USER [force]", saslMechanisms, PasswordEnv, TokenEnv)
		return
	}
	if !strings.EqualFold(f[0], "any") {
		if _, err := newSASLClient(f[0], f[1], "x"); err != nil {
			s.warn("%s", render.Escape(err.Error()))
			return
		}
	}
	s.mu.Lock()
	phase, tls, authed, ehlo, caps := s.st.phase, s.st.tls, s.st.authed, s.st.ehlo, s.st.caps
	s.mu.Unlock()
	switch {
	case s.closed || phase == PhaseClosed:
		s.warn("the connection is closed")
		return
	case s.quitSent:
		s.warn("QUIT was sent: the session is ending")
		return
	case len(s.pending) > 0:
		s.warn("wait for the replies to the commands sent before :auth")
		return
	case authed:
		s.warn("already authenticated: RFC 4954 §4 allows one successful AUTH per session (expect 503)")
	}
	mech := strings.ToUpper(f[0])
	if mech == "ANY" {
		_, hasToken := os.LookupEnv(TokenEnv)
		m, why, err := smtp.ChooseMechanism(caps.AuthMechanisms(), smtp.ChooseOptions{TLS: tls, Token: hasToken && os.Getenv(TokenEnv) != "", Force: force})
		if err != nil {
			s.warn(":auth any: %s", render.Escape(err.Error()))
			if !ehlo {
				s.note("send EHLO first: the mechanisms are in its AUTH line (RFC 4954 §3)")
			}
			return
		}
		s.note("choosing %s: %s", m, why)
		mech = m
	}
	var secret string
	var err error
	if tokenMech(mech) {
		secret, err = s.readToken(f[1])
	} else {
		secret, err = s.readPassword(f[1])
	}
	if err != nil {
		s.warn("%s", render.Escape(err.Error()))
		if !s.in.Interactive() {
			s.fail(ExitProtocol, ":auth: %w", err)
		}
		return
	}
	c, err := newSASLClient(mech, f[1], secret)
	if err != nil {
		s.warn("%s", render.Escape(err.Error()))
		return
	}
	c.host, c.port = splitHostPort(s.cfg.Addr)
	switch {
	case !ehlo:
		s.warn("AUTH is an extension: send EHLO first (RFC 4954 §3); expect 503")
	case !caps.Has("AUTH"):
		s.warn("the server did not advertise AUTH; many hide it until STARTTLS (RFC 4954 §6)")
	case !advertises(caps.AuthMechanisms(), c.mech):
		s.warn("%s is not among the advertised mechanisms (%s)", c.mech, strings.Join(caps.AuthMechanisms(), " "))
	}
	// The secret goes with the AUTH command only where the server said
	// it takes it: on TLS, or when it advertised the mechanism on this
	// plain connection. Otherwise a 538 (RFC 4954 §6) costs no secret.
	withSecret := tls || ehlo && advertises(caps.AuthMechanisms(), c.mech)
	if !tls {
		switch {
		case c.scram != nil:
			s.note("no TLS: SCRAM sends neither the password nor anything replayable, but the rest of the session is readable; a server that keeps AUTH for encrypted connections answers 538 5.7.11 (RFC 4954 §6)")
		case c.mech == "CRAM-MD5":
			s.note("no TLS: CRAM-MD5 sends no password, but its HMAC can be cracked offline; a server that keeps AUTH for encrypted connections answers 538 5.7.11 (RFC 4954 §6)")
		case tokenMech(c.mech):
			s.note("no TLS: the bearer token would cross the network in clear text and work for anyone until it expires; a server that keeps AUTH for encrypted connections answers 538 5.7.11 (RFC 4954 §6)")
		default:
			s.note("no TLS: the password would cross the network in clear text (base64 is an encoding, not encryption); a server that keeps AUTH for encrypted connections answers 538 5.7.11 (RFC 4954 §6)")
		}
	}
	s.run(s.saslSteps(c, withSecret))
}

// splitHostPort returns the host and port of "host:port" for OAUTHBEARER's
// kvpairs; "" and 0 when addr is not of that form (a Unix socket).
func splitHostPort(addr string) (string, int) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return h, 0
	}
	return h, n
}

// saslSteps returns the steps of an AUTH exchange: the AUTH command, then
// one response to each 334 challenge until the server says anything else
// (235, 535, 538: RFC 4954 §4, §6), every line shown decoded with the
// password hidden.
func (s *Session) saslSteps(c *saslClient, withSecret bool) step {
	var answer step
	answer = func() step {
		if s.closed || s.last == nil || s.last.Code != 334 {
			return nil
		}
		resp, shown, notes, err := c.answer(s.lastChallenge)
		for _, n := range notes {
			s.note("%s", n)
		}
		if err != nil {
			s.warn("%s", render.Escape(err.Error()))
		}
		if !s.sendSecret(resp, shown, smtp.AUTH) {
			return nil
		}
		return answer
	}
	return func() step {
		line, shown, notes, err := c.start(withSecret)
		if err != nil {
			s.warn("%s", render.Escape(err.Error()))
			return nil
		}
		for _, n := range notes {
			s.note("%s", n)
		}
		s.saslMech = c.mech
		if !s.sendSecret(line, shown, smtp.AUTH) || c.initial && c.mech == "PLAIN" {
			return nil
		}
		return answer
	}
}

// advertises reports whether mechs holds mech, ignoring case.
func advertises(mechs []string, mech string) bool {
	for _, m := range mechs {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// sendSecret sends a line the shell composed that holds a secret: what is
// printed (and shown by :raw) is shown, the transcript gets line (its
// writers redact AUTH arguments and SASL responses, RFC 4954 §4), and the
// history never sees it.
func (s *Session) sendSecret(line, shown string, verb smtp.Verb) bool {
	if s.closed {
		return false
	}
	s.print(render.ClientLine("C: ", shown))
	s.printRawSent([]byte(shown + "\r\n"))
	at := s.now()
	if _, err := s.conn.Write([]byte(line + "\r\n")); err != nil {
		s.warn("cannot send: %v", err)
		s.closeConn(transcripts.SideUnknown, "write failed")
		s.fail(ExitProtocol, "sending to %s: %w", s.cfg.Addr, err)
		return false
	}
	s.tr.AddClient(at, line)
	s.pending = append(s.pending, pending{verb: verb, line: shown, sent: at})
	return true
}
