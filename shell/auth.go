package shell

import (
	"errors"
	"fmt"
	"os"
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
// :auth holds on the user's behalf. It knows the password and says, for
// every line, what the server sees and what the user may see.
type saslClient struct {
	mech        string // upper case: PLAIN, LOGIN, CRAM-MD5
	user, pass  string
	initial     bool // PLAIN's message went with the AUTH command
	answers     int  // responses sent after 334 challenges
	loginAnswer int  // LOGIN: 0 user name next, 1 password next
}

// newSASLClient checks the mechanism and user of ":auth MECH USER".
func newSASLClient(mech, user, pass string) (*saslClient, error) {
	m := strings.ToUpper(mech)
	switch m {
	case "PLAIN", "LOGIN", "CRAM-MD5":
	default:
		return nil, fmt.Errorf("unknown mechanism %q: :auth speaks plain, login and cram-md5", mech)
	}
	if user == "" {
		return nil, errors.New("no user name: :auth " + strings.ToLower(m) + " USER")
	}
	if strings.ContainsAny(user, "\x00\r\n") {
		return nil, errors.New("the user name contains NUL, CR or LF")
	}
	if pass == "" {
		return nil, errors.New("empty password")
	}
	if strings.ContainsAny(pass, "\x00\r\n") {
		// RFC 4616 §2: NUL separates PLAIN's fields; CR LF would end
		// the line.
		return nil, errors.New("the password contains NUL, CR or LF")
	}
	return &saslClient{mech: m, user: user, pass: pass}, nil
}

// start returns the AUTH command and the form of it that may be shown. PLAIN
// sends its message as the initial response (RFC 4954 §4) only when
// withSecret is true (the connection is encrypted, or the user accepted a
// clear-text password): otherwise a server that refuses AUTH before TLS
// (538, RFC 4954 §6) never sees the password. LOGIN (draft-murchison-sasl-
// login-00 §2) and CRAM-MD5 (RFC 2195 §2) wait for the server's challenge.
func (c *saslClient) start(withSecret bool) (line, shown string) {
	if c.mech == "PLAIN" && withSecret {
		c.initial = true
		return "AUTH PLAIN " + smtp.EncodePlain("", c.user, c.pass), "AUTH PLAIN " + hiddenPassword
	}
	return "AUTH " + c.mech, "AUTH " + c.mech
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
	if b, derr := smtp.DecodeBase64Line(challenge); derr == nil {
		notes = append(notes, fmt.Sprintf("challenge decodes to %q", render.Escape(string(b))))
	} else if challenge != "" {
		notes = append(notes, "challenge does not decode: "+render.Escape(derr.Error()))
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
	}
	return "*", "*", notes, fmt.Errorf("mechanism %s", c.mech)
}

// readPassword asks for the password without echo on a terminal, or takes
// it from $SMTPSH_PASSWORD in a script. Never from argv.
func (s *Session) readPassword(user string) (string, error) {
	if pr, ok := s.in.(passwordReader); ok && s.in.Interactive() {
		b, err := pr.ReadPassword(fmt.Sprintf("password for %s: ", render.Escape(user)))
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		if len(b) > maxPassword {
			return "", fmt.Errorf("password longer than %d bytes", maxPassword)
		}
		return string(b), nil
	}
	p, ok := os.LookupEnv(PasswordEnv)
	if !ok || p == "" {
		return "", fmt.Errorf("no password: in a script, set %s (a password is never taken from the command line)", PasswordEnv)
	}
	if len(p) > maxPassword {
		return "", fmt.Errorf("%s is longer than %d bytes", PasswordEnv, maxPassword)
	}
	return p, nil
}

// auth is ":auth plain|login|cram-md5 USER".
func (s *Session) auth(arg string) {
	f := strings.Fields(arg)
	if len(f) != 2 {
		s.warn(":auth plain|login|cram-md5 USER (the password is asked for, or taken from %s in a script)", PasswordEnv)
		return
	}
	if _, err := newSASLClient(f[0], f[1], "x"); err != nil {
		s.warn("%s", render.Escape(err.Error()))
		return
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
	pass, err := s.readPassword(f[1])
	if err != nil {
		s.warn("%s", render.Escape(err.Error()))
		if !s.in.Interactive() {
			s.fail(ExitProtocol, ":auth: %w", err)
		}
		return
	}
	c, err := newSASLClient(f[0], f[1], pass)
	if err != nil {
		s.warn("%s", render.Escape(err.Error()))
		return
	}
	switch {
	case !ehlo:
		s.warn("AUTH is an extension: send EHLO first (RFC 4954 §3); expect 503")
	case !caps.Has("AUTH"):
		s.warn("the server did not advertise AUTH; many hide it until STARTTLS (RFC 4954 §6)")
	case !advertises(caps.AuthMechanisms(), c.mech):
		s.warn("%s is not among the advertised mechanisms (%s)", c.mech, strings.Join(caps.AuthMechanisms(), " "))
	}
	// The password goes with the AUTH command only where the server said
	// it takes it: on TLS, or when it advertised the mechanism on this
	// plain connection. Otherwise a 538 (RFC 4954 §6) costs no secret.
	withSecret := tls || ehlo && advertises(caps.AuthMechanisms(), c.mech)
	if !tls {
		s.note("no TLS: the password would cross the network in clear text (base64 is an encoding, not encryption); a server that keeps AUTH for encrypted connections answers 538 5.7.11 (RFC 4954 §6)")
	}
	s.run(s.saslSteps(c, withSecret))
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
		line, shown := c.start(withSecret)
		if c.initial {
			s.note("PLAIN: authzid \"\", user %q, password %s (RFC 4616 §2)", render.Escape(c.user), hiddenPassword)
		}
		s.saslMech = c.mech
		if !s.sendSecret(line, shown, smtp.AUTH) || c.initial {
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
