package audit

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
)

// Method is how users are enumerated.
type Method string

// The methods. Auto tries VRFY, then EXPN, then RCPT, each only for the
// users the one before could not settle.
const (
	MethodAuto Method = "auto"
	MethodVRFY Method = "vrfy"
	MethodEXPN Method = "expn"
	MethodRCPT Method = "rcpt"
)

// ParseMethod reads a --method value.
func ParseMethod(s string) (Method, error) {
	switch m := Method(strings.ToLower(s)); m {
	case "":
		return MethodAuto, nil
	case MethodAuto, MethodVRFY, MethodEXPN, MethodRCPT:
		return m, nil
	}
	return "", fmt.Errorf("method %q: want vrfy, expn, rcpt or auto", s)
}

// Status is what enumeration concluded about one user.
type Status string

// The statuses.
const (
	Exists    Status = "exists"
	NotExists Status = "does not exist"
	Unknown   Status = "unknown"
)

// EnumOptions says whom to look for and how.
type EnumOptions struct {
	// Users are names ("alice") or addresses ("alice@example.org").
	Users []string
	// Method is MethodAuto when empty.
	Method Method
	// Domain completes bare names for RCPT (and VRFY/EXPN when the server
	// wants an address); the server's own name when empty.
	Domain string
	// RandomName, when set, makes the catch-all probe's name (tests);
	// otherwise it is "smtpsh-" and ten random letters.
	RandomName func() string
}

// UserResult is the verdict on one user and the reply that decided it.
type UserResult struct {
	User     string   `json:"user"`
	Status   Status   `json:"status"`
	Method   Method   `json:"method,omitempty"`
	Exchange Exchange `json:"exchange"`
	// Why says how the reply was read (RFC section where one decides).
	Why string `json:"why"`
}

// Enumeration is the result of Enumerate.
type Enumeration struct {
	Method Method `json:"method"`
	Domain string `json:"domain"`
	// Used lists the methods whose answers were trusted.
	Used []Method `json:"used,omitempty"`
	// Steps says, method by method, what the catch-all probe showed and
	// why enumeration moved on.
	Steps []string `json:"steps"`
	// Users are the results in the order given.
	Users []UserResult `json:"users"`
	// Reason is set when nothing could be concluded.
	Reason string `json:"reason,omitempty"`
}

// Found returns the users that exist.
func (e *Enumeration) Found() []string {
	var out []string
	for _, u := range e.Users {
		if u.Status == Exists {
			out = append(out, u.User)
		}
	}
	return out
}

// Bounds on user lists (network-facing: the names go into commands).
const (
	maxUsers      = 10000
	maxUserLength = 256
)

// ParseUsers reads a user list: one name or address a line, blank lines
// and lines starting with # skipped. A name with spaces, control bytes or
// angle brackets would change the command it goes into, so it is an error.
func ParseUsers(text string) ([]string, error) {
	var out []string
	for i, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(strings.TrimSuffix(l, "\r"))
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if err := checkUser(l); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if len(out) == maxUsers {
			return nil, fmt.Errorf("line %d: more than %d users", i+1, maxUsers)
		}
		out = append(out, l)
	}
	return out, nil
}

func checkUser(u string) error {
	if len(u) > maxUserLength {
		return fmt.Errorf("user name longer than %d bytes", maxUserLength)
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c == 0x7f || c == '<' || c == '>' {
			return fmt.Errorf("user %q: no spaces, control bytes or angle brackets", u)
		}
	}
	return nil
}

func randomName() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 10)
	rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return "smtpsh-" + string(b)
}

// Enumerate asks the server which of opts.Users exist.
func (a *Auditor) Enumerate(ctx context.Context, opts EnumOptions) (*Enumeration, error) {
	if opts.Method == "" {
		opts.Method = MethodAuto
	}
	if _, err := ParseMethod(string(opts.Method)); err != nil {
		return nil, err
	}
	for _, u := range opts.Users {
		if err := checkUser(u); err != nil {
			return nil, err
		}
	}
	if len(opts.Users) > maxUsers {
		return nil, fmt.Errorf("more than %d users", maxUsers)
	}
	if opts.RandomName == nil {
		opts.RandomName = randomName
	}
	e := &Enumeration{Method: opts.Method, Domain: opts.Domain}
	e.Users = make([]UserResult, len(opts.Users))
	for i, u := range opts.Users {
		e.Users[i] = UserResult{User: u, Status: Unknown, Why: "not tried"}
	}
	methods := []Method{opts.Method}
	if opts.Method == MethodAuto {
		methods = []Method{MethodVRFY, MethodEXPN, MethodRCPT}
	}
	s := &enumSession{a: a, e: e, opts: opts}
	defer func() { s.c.quit(ctx) }()
	if err := s.connect(ctx); err != nil {
		e.Reason = "could not talk to the server: " + err.Error()
		e.Steps = append(e.Steps, e.Reason)
		return e, nil
	}
	if e.Domain == "" {
		e.Domain = s.c.serverName()
	}
	for _, m := range methods {
		if !s.pending() {
			break
		}
		if err := s.method(ctx, m); err != nil {
			e.Steps = append(e.Steps, fmt.Sprintf("%s: stopped: %v", strings.ToUpper(string(m)), err))
			e.Reason = "the connection was lost and could not be reopened: " + err.Error()
			break
		}
	}
	switch {
	case len(e.Used) > 0 || e.Reason != "":
	case len(s.anyName) > 0 && len(s.anyName) == len(methods):
		// Every method said the random name exists: the server answers
		// 250 to any name, which a fact about users cannot be drawn from.
		var even []string
		for _, ex := range s.anyName {
			even = append(even, evenTo(ex, "a random name"))
		}
		e.Reason = answersEverything(s.anyName[0].Code, even, "no method can tell users apart (a catch-all, RFC 5321 §3.4, or a server that accepts anything)")
	default:
		e.Reason = "no method could tell users apart: " + strings.Join(e.Steps, "; ")
	}
	return e, nil
}

type enumSession struct {
	a     *Auditor
	e     *Enumeration
	opts  EnumOptions
	c     *conn
	tries int
	inTx  bool // MAIL accepted, for RCPT
	// anyName holds the catch-all probes answered 250 or 251: each
	// method that said a random name exists.
	anyName []Exchange
}

func (s *enumSession) connect(ctx context.Context) error {
	c, err := s.a.open(ctx)
	for err != nil && lostConnection(err) {
		c, err = s.a.reconnect(ctx, &s.tries, err)
	}
	s.c, s.inTx = c, false
	return err
}

func (s *enumSession) pending() bool {
	for _, u := range s.e.Users {
		if u.Status == Unknown {
			return true
		}
	}
	return false
}

// address completes a bare name with the domain.
func (s *enumSession) address(u string) string {
	if strings.Contains(u, "@") || s.e.Domain == "" {
		return u
	}
	return u + "@" + s.e.Domain
}

// probe asks about one user with method m, reconnecting once per loss.
func (s *enumSession) probe(ctx context.Context, m Method, user string) (Exchange, error) {
	for {
		ex, err := s.try(ctx, m, user)
		if err == nil || !lostConnection(err) {
			return ex, err
		}
		c, rerr := s.a.reconnect(ctx, &s.tries, err)
		if rerr != nil {
			return ex, rerr
		}
		s.c, s.inTx = c, false
	}
}

func (s *enumSession) try(ctx context.Context, m Method, user string) (Exchange, error) {
	switch m {
	case MethodRCPT:
		if !s.inTx {
			ex, err := s.c.cmd(ctx, "MAIL FROM:<>")
			if err != nil {
				return ex, err
			}
			if ex.Code/100 != 2 {
				return ex, &refusedError{what: "MAIL FROM:<>", ex: ex}
			}
			s.inTx = true
		}
		return s.c.cmd(ctx, "RCPT TO:<"+s.address(user)+">")
	default:
		verb := strings.ToUpper(string(m))
		ex, err := s.c.cmd(ctx, verb+" "+user)
		// RFC 5321 §3.5.1 lets a server want a full address: 501 or 553
		// to a bare name is about the form, so ask again with the domain.
		if err == nil && (ex.Code == 501 || ex.Code == 553) && !strings.Contains(user, "@") && s.e.Domain != "" {
			return s.c.cmd(ctx, verb+" "+s.address(user))
		}
		return ex, err
	}
}

// refusedError is a MAIL refused before RCPT enumeration could start.
type refusedError struct {
	what string
	ex   Exchange
}

func (e *refusedError) Error() string { return e.what + " refused: " + e.ex.String() }

// method runs one method: the catch-all probe, then every unsettled user.
// It returns an error only when the connection is lost for good.
func (s *enumSession) method(ctx context.Context, m Method) error {
	name := strings.ToUpper(string(m))
	random := s.opts.RandomName()
	ex, err := s.probe(ctx, m, random)
	if err != nil {
		if rf, ok := err.(*refusedError); ok {
			s.e.Steps = append(s.e.Steps, fmt.Sprintf("%s: %v; moving on", name, rf))
			return nil
		}
		return err
	}
	if why, ok := catchAll(ex, random); !ok {
		if ex.Code == 250 || ex.Code == 251 {
			s.anyName = append(s.anyName, ex)
		}
		s.e.Steps = append(s.e.Steps, fmt.Sprintf("%s: %s; moving on", name, why))
		s.reset(ctx, m)
		return nil
	}
	s.e.Steps = append(s.e.Steps, fmt.Sprintf("%s: the random name %s is refused (%s), so its answers tell users apart", name, random, ex))
	s.e.Used = append(s.e.Used, m)
	for i := range s.e.Users {
		u := &s.e.Users[i]
		if u.Status != Unknown {
			continue
		}
		ex, err := s.probe(ctx, m, u.User)
		if err != nil {
			return err
		}
		st, why := classify(ex)
		if st != Unknown || u.Method == "" {
			*u = UserResult{User: u.User, Status: st, Method: m, Exchange: ex, Why: why}
		}
	}
	s.reset(ctx, m)
	return nil
}

// reset ends the RCPT method's transaction (RFC 5321 §4.1.1.5).
func (s *enumSession) reset(ctx context.Context, m Method) {
	if m == MethodRCPT && s.inTx && !s.c.closed {
		s.c.cmd(ctx, "RSET")
		s.inTx = false
	}
}

// catchAll reads the reply to a name that cannot exist: only a refusal
// that means "no such user" lets the method tell users apart.
func catchAll(ex Exchange, random string) (string, bool) {
	switch {
	case ex.Code == 250 || ex.Code == 251:
		return fmt.Sprintf("the random name %s \"exists\" (%s): the server accepts any name, so this method proves nothing", random, ex), false
	case ex.Code == 252:
		return fmt.Sprintf("answers 252 even for the random name %s: it will not verify (RFC 5321 §3.5.3)", random), false
	case ex.Code == 502 || ex.Code == 500 || ex.Code == 504:
		return fmt.Sprintf("not available (%s)", ex), false
	case ex.Code == 530:
		return fmt.Sprintf("needs authentication first (%s)", ex), false
	case ex.Code/100 == 4:
		return fmt.Sprintf("a temporary failure (%s)", ex), false
	case ex.Code == 550 || ex.Code == 551 || ex.Code == 553:
		return "", true
	}
	return fmt.Sprintf("the random name got %s, which does not say \"no such user\"", ex), false
}

// classify reads the reply about one user.
func classify(ex Exchange) (Status, string) {
	text := strings.ToLower(strings.Join(ex.Reply, " "))
	switch {
	case ex.Code == 250:
		return Exists, "250: the server knows this mailbox"
	case ex.Code == 251:
		return Exists, "251: user not local, the server will forward (RFC 5321 §3.4)"
	case ex.Code == 252:
		return Unknown, "252: the server will not verify, but will accept a message (RFC 5321 §3.5.3); neither yes nor no"
	case ex.Code/100 == 5 && strings.Contains(text, "mailing list"):
		return Exists, fmt.Sprintf("%d, but the name is a mailing list, not a user (RFC 5321 §3.5.2): it exists as a list", ex.Code)
	case ex.Code == 550 || ex.Code == 551 || ex.Code == 553:
		return NotExists, fmt.Sprintf("%d: mailbox unavailable or unknown (RFC 5321 §4.2.2)", ex.Code)
	case ex.Code/100 == 4:
		return Unknown, fmt.Sprintf("%d: a temporary failure; try again later", ex.Code)
	}
	return Unknown, fmt.Sprintf("%d does not say whether the user exists", ex.Code)
}
