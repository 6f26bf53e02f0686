package send

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/shell"
	"github.com/smtpsh/smtpsh/transcripts"
)

// Options are the protocol side of one `smtpsh send`: what to say, in
// which order, and where to stop.
type Options struct {
	// EHLO is the name EHLO gives (RFC 5321 §4.1.1.1), or LHLO with LMTP.
	EHLO string
	// LMTP greets with LHLO instead of EHLO (RFC 2033 §4.1); the shell
	// must be configured for LMTP too (shell.Config.LMTP), so that it
	// waits for one reply per accepted recipient after the message.
	LMTP bool
	// XCLIENT holds Postfix XCLIENT attributes, "NAME=value …", sent with
	// the shell's :xclient once EHLO (and STARTTLS) are done; EHLO is sent
	// again after its 220, a new greeting (Postfix XCLIENT_README).
	XCLIENT string
	// From is the reverse-path's mailbox; "" is the null path <>.
	From string
	// Recipients are the forward-paths, To, Cc and Bcc together.
	Recipients []string
	// Message is the message to send; it may be nil when the session
	// stops before DATA.
	Message []byte
	// StartTLS sends STARTTLS after EHLO, then EHLO again (RFC 3207 §4.2).
	StartTLS bool
	// Auth and User run the shell's ":auth Auth User" (RFC 4954).
	Auth, User string
	// EightBitMIME adds BODY=8BITMIME to MAIL (RFC 6152), SMTPUTF8 the
	// SMTPUTF8 parameter (RFC 6531 §3.4), RequireTLS REQUIRETLS (RFC 8689
	// §4.1).
	EightBitMIME, SMTPUTF8, RequireTLS bool
	// BDAT sends the message with BDAT (RFC 3030) when the server
	// advertises CHUNKING.
	BDAT bool
	// Pipeline sends MAIL and the RCPTs in one write (RFC 2920) when the
	// server advertises PIPELINING.
	Pipeline bool
	// Notify is RCPT's NOTIFY (RFC 3461 §4.1); Ret and EnvID are MAIL's
	// RET and ENVID (§4.3, §4.4).
	Notify, Ret, EnvID string
	// QuitAfter ends the session after this phase; PhaseNone (or
	// PhaseDot) sends the whole message.
	QuitAfter Phase
}

// Check validates the DSN values and the phase (RFC 3461 §4).
func (o *Options) Check() error {
	if o.Notify != "" {
		n := strings.ToUpper(o.Notify)
		parts := strings.Split(n, ",")
		for _, p := range parts {
			switch p {
			case "SUCCESS", "FAILURE", "DELAY":
			case "NEVER":
				if len(parts) > 1 {
					return fmt.Errorf("--notify %q: NEVER goes alone (RFC 3461 §4.1)", o.Notify)
				}
			default:
				return fmt.Errorf("--notify %q: want NEVER, or a comma list of SUCCESS, FAILURE and DELAY (RFC 3461 §4.1)", o.Notify)
			}
		}
		o.Notify = n
	}
	if o.Ret != "" {
		switch r := strings.ToUpper(o.Ret); r {
		case "FULL", "HDRS":
			o.Ret = r
		default:
			return fmt.Errorf("--ret %q: want FULL or HDRS (RFC 3461 §4.3)", o.Ret)
		}
	}
	if o.EnvID != "" {
		// RFC 3461 §4.4: printable US-ASCII, at most 100 characters
		// (xtext-encoded on the wire, so a space is fine).
		if len(o.EnvID) > 100 || !printableASCII(o.EnvID) {
			return fmt.Errorf("--envid %q: want at most 100 printable US-ASCII characters (RFC 3461 §4.4)", o.EnvID)
		}
	}
	if o.EHLO == "" || strings.ContainsAny(o.EHLO, " \t\r\n") {
		return fmt.Errorf("--ehlo %q: want a domain or an address literal", o.EHLO)
	}
	if o.Auth != "" && (o.User == "" || strings.ContainsAny(o.User+o.Auth, " \t\r\n")) {
		return fmt.Errorf("--auth %s needs --user USER (no spaces)", o.Auth)
	}
	if o.XCLIENT != "" {
		if err := checkXCLIENT(o.XCLIENT); err != nil {
			return fmt.Errorf("--xclient %q: %w", o.XCLIENT, err)
		}
	}
	return nil
}

// xclientAttrs are the attributes XCLIENT takes (Postfix XCLIENT_README,
// "XCLIENT Command syntax").
var xclientAttrs = []string{"NAME", "ADDR", "PORT", "PROTO", "HELO", "LOGIN", "DESTADDR", "DESTPORT"}

// maxXCLIENT bounds the attributes' text; Postfix takes a command line of
// at most 2048 bytes (line_length_limit), and the values are xtext-encoded.
const maxXCLIENT = 1000

// checkXCLIENT checks "NAME=value …": known attribute names, no control
// characters. The shell's :xclient xtext-encodes the values (RFC 3461 §4).
func checkXCLIENT(attrs string) error {
	if len(attrs) > maxXCLIENT {
		return fmt.Errorf("longer than %d bytes", maxXCLIENT)
	}
	fields := strings.Fields(attrs)
	if len(fields) == 0 {
		return fmt.Errorf("want NAME=value attributes, e.g. ADDR=192.0.2.1 NAME=client.example")
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		known := false
		for _, a := range xclientAttrs {
			known = known || strings.EqualFold(a, k)
		}
		if !ok || !known {
			return fmt.Errorf("%q is not NAME=value with NAME one of %s", f, strings.Join(xclientAttrs, " "))
		}
		if !utf8Printable(v) {
			return fmt.Errorf("%s: a control character in the value", strings.ToUpper(k))
		}
	}
	return nil
}

// utf8Printable reports whether s is valid UTF-8 with no control
// characters (NAME and HELO may be internationalized; xtext carries them).
func utf8Printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return utf8.ValidString(s)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// Failure is where the server said no: the phase and the exchange.
type Failure struct {
	Phase    Phase
	Exchange Exchange
	// Why says what happened when the exchange is not enough (no reply,
	// nothing sent).
	Why string
	// index is the exchange's place in Exchanges.
	index int
}

// stage is how far the script has gone.
type stage int

const (
	stageEHLO stage = iota
	stageStartTLS
	stageEHLOAgain
	stageXCLIENT
	stageEHLOAfterXCLIENT
	stageAuth
	stageMail
	stageRcpt
	stageData
	stageDone
)

// Script is the input of the shell session `smtpsh send` runs. It is the
// session's LineReader (the lines to send, one phase at a time), its
// Observer (the events, from which it pairs commands and replies) and its
// MessageSource (the message :send sends). Before it gives the lines of a
// phase it checks the replies to the phase before: the first refusal ends
// the input, so the shell sends QUIT, and Failure says where.
type Script struct {
	o   Options
	out io.Writer

	mu      sync.Mutex
	events  []transcripts.Event
	closed  bool
	tls     bool
	stage   stage
	rcpt    int      // recipients sent
	queue   []string // lines of the current step still to give
	step    Phase    // the phase of the last step given
	start   int      // how many exchanges there were when it was given
	checked int      // exchanges already checked
	failure *Failure
	done    bool // every step was given and answered well
	// warning is the last warning the shell printed ("   ! …"), which
	// says why a step sent nothing when output is discarded (--json).
	warning string
}

// NewScript returns the script for o, printing to out.
func NewScript(o Options, out io.Writer) *Script {
	return &Script{o: o, out: out}
}

// messageName is the name :send takes the message by.
func (s *Script) messageName() string {
	return fmt.Sprintf("<message, %d bytes>", len(s.o.Message))
}

// Message returns the message for :send.
func (s *Script) Message(name string) ([]byte, bool) {
	if name != s.messageName() {
		return nil, false
	}
	return s.o.Message, true
}

// ReadLine returns the next line to send, or io.EOF when the script is
// over: every phase done, a reply refused, or the connection closed.
func (s *Script) ReadLine() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 {
		l := s.queue[0]
		s.queue = s.queue[1:]
		return l, nil
	}
	if s.failure != nil || s.done {
		return "", io.EOF
	}
	xs := Exchanges(s.events)
	if !s.check(xs) {
		return "", io.EOF
	}
	if s.closed {
		return "", io.EOF
	}
	lines, phase := s.next(xs)
	if len(lines) == 0 {
		s.done = true
		return "", io.EOF
	}
	s.step, s.start, s.warning = phase, len(xs), ""
	s.queue = lines[1:]
	return lines[0], nil
}

// check looks at the exchanges not yet checked and records the first
// refusal. It reports whether the session may go on.
func (s *Script) check(xs []Exchange) bool {
	for ; s.checked < len(xs); s.checked++ {
		x := xs[s.checked]
		if !x.done {
			if s.closed {
				s.failure = &Failure{Phase: phaseOrStep(x.Phase, s.step), Exchange: x, Why: "the connection closed before the reply", index: s.checked}
				return false
			}
			return true // the shell will wait for it
		}
		if x.Phase == PhaseQuit {
			continue
		}
		if !acceptable(x) {
			s.failure = &Failure{Phase: phaseOrStep(x.Phase, s.step), Exchange: x, index: s.checked}
			return false
		}
	}
	if s.step != PhaseNone && s.start == len(xs) && !s.closed {
		// The step sent nothing: the shell refused to (a password
		// missing, say) and said why.
		why := "nothing was sent"
		if s.warning != "" {
			why += ": " + s.warning
		}
		s.failure = &Failure{Phase: s.step, Why: why}
		return false
	}
	return true
}

// phaseOrStep is p, or the step's phase for a reply nobody asked for.
func phaseOrStep(p, step Phase) Phase {
	if p == PhaseNone {
		return step
	}
	return p
}

// next returns the lines of the next step and its phase; none when the
// script is over.
func (s *Script) next(xs []Exchange) ([]string, Phase) {
	q := s.o.QuitAfter
	if q == PhaseNone {
		q = PhaseDot
	}
	if q <= PhaseBanner {
		return nil, PhaseNone
	}
	caps := capabilities(xs)
	greet := "EHLO " + s.o.EHLO
	if s.o.LMTP {
		greet = "LHLO " + s.o.EHLO // RFC 2033 §4.1
	}
	for {
		switch s.stage {
		case stageEHLO:
			s.stage = stageStartTLS
			return []string{greet}, PhaseEHLO
		case stageStartTLS:
			if q == PhaseEHLO {
				return nil, PhaseNone
			}
			if !s.o.StartTLS || s.tls {
				s.stage = stageXCLIENT
				continue
			}
			s.stage = stageEHLOAgain
			return []string{"STARTTLS"}, PhaseTLS
		case stageEHLOAgain:
			// RFC 3207 §4.2: what the server said before TLS is
			// forgotten; ask again.
			s.stage = stageXCLIENT
			return []string{greet}, PhaseTLS
		case stageXCLIENT:
			// After TLS, before AUTH, as swaks does by default: the
			// server then treats the rest of the session as the named
			// client's.
			if q <= PhaseTLS {
				return nil, PhaseNone
			}
			if s.o.XCLIENT == "" {
				s.stage = stageAuth
				continue
			}
			s.stage = stageEHLOAfterXCLIENT
			return []string{":xclient " + s.o.XCLIENT}, PhaseXCLIENT
		case stageEHLOAfterXCLIENT:
			// XCLIENT's 220 is a new greeting: the session starts over
			// and EHLO is due again (Postfix XCLIENT_README).
			s.stage = stageAuth
			return []string{greet}, PhaseXCLIENT
		case stageAuth:
			if q <= PhaseXCLIENT {
				return nil, PhaseNone
			}
			s.stage = stageMail
			if s.o.Auth != "" {
				return []string{":auth " + strings.ToLower(s.o.Auth) + " " + s.o.User}, PhaseAuth
			}
		case stageMail:
			if q <= PhaseAuth {
				return nil, PhaseNone
			}
			mail := s.mailCommand(caps)
			if q > PhaseMail && s.o.Pipeline && caps.Has("PIPELINING") && len(s.o.Recipients) > 0 {
				// RFC 2920 §3.1: MAIL and RCPT may be grouped; DATA
				// follows once their replies are in (:send).
				lines := []string{":pipeline", mail}
				for _, r := range s.o.Recipients {
					lines = append(lines, s.rcptCommand(r))
				}
				s.rcpt = len(s.o.Recipients)
				s.stage = stageData
				return append(lines, ""), PhaseRcpt
			}
			s.stage = stageRcpt
			return []string{mail}, PhaseMail
		case stageRcpt:
			if q <= PhaseMail {
				return nil, PhaseNone
			}
			if s.rcpt < len(s.o.Recipients) {
				s.rcpt++
				return []string{s.rcptCommand(s.o.Recipients[s.rcpt-1])}, PhaseRcpt
			}
			s.stage = stageData
		case stageData:
			if q <= PhaseRcpt {
				return nil, PhaseNone
			}
			s.stage = stageDone
			bdat := s.o.BDAT && caps.Has("CHUNKING")
			if q == PhaseData {
				if bdat {
					// BDAT has no command of its own before the text
					// (RFC 3030 §2): stopping at data is stopping here.
					return nil, PhaseNone
				}
				return []string{"DATA"}, PhaseData
			}
			if s.o.BDAT {
				// :send --bdat says so itself when CHUNKING is not
				// advertised, and sends with DATA.
				return []string{":send --bdat " + s.messageName()}, PhaseDot
			}
			return []string{":send " + s.messageName()}, PhaseDot
		default:
			return nil, PhaseNone
		}
	}
}

// mailCommand is MAIL FROM with the parameters asked for: SIZE when the
// server advertises it (RFC 1870 §3), BODY (RFC 6152), SMTPUTF8 (RFC 6531
// §3.4), RET and ENVID (RFC 3461 §4.3, §4.4), REQUIRETLS (RFC 8689 §4.1).
func (s *Script) mailCommand(caps smtp.Capabilities) string {
	var b strings.Builder
	b.WriteString("MAIL FROM:<" + s.o.From + ">")
	if caps.Has("SIZE") && len(s.o.Message) > 0 {
		fmt.Fprintf(&b, " SIZE=%d", len(s.o.Message))
	}
	if s.o.EightBitMIME {
		b.WriteString(" BODY=8BITMIME")
	}
	if s.o.SMTPUTF8 {
		b.WriteString(" SMTPUTF8")
	}
	if s.o.Ret != "" {
		b.WriteString(" RET=" + s.o.Ret)
	}
	if s.o.EnvID != "" {
		b.WriteString(" ENVID=" + smtp.EncodeXtext(s.o.EnvID))
	}
	if s.o.RequireTLS {
		b.WriteString(" REQUIRETLS")
	}
	return b.String()
}

// rcptCommand is RCPT TO with NOTIFY when asked (RFC 3461 §4.1).
func (s *Script) rcptCommand(r string) string {
	l := "RCPT TO:<" + r + ">"
	if s.o.Notify != "" {
		l += " NOTIFY=" + s.o.Notify
	}
	return l
}

// capabilities parses the reply to the last EHLO answered 250 (RFC 5321
// §4.1.1.1); none when there is none.
func capabilities(xs []Exchange) smtp.Capabilities {
	for i := len(xs) - 1; i >= 0; i-- {
		x := xs[i]
		if x.Verb != smtp.EHLO && x.Verb != smtp.LHLO || x.Code != 250 {
			continue
		}
		text := strings.Join(x.Reply, "\r\n") + "\r\n"
		r, err := smtp.NewReplyReader(bufio.NewReader(strings.NewReader(text)), nil).ReadReply()
		if err != nil {
			return smtp.Capabilities{}
		}
		caps, _ := smtp.ParseEHLO(r)
		return caps
	}
	return smtp.Capabilities{}
}

// Failure returns where the server said no; nil when it did not.
func (s *Script) Failure() *Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failure
}

// Done reports whether every step was given and answered well.
func (s *Script) Done() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// SetPrompt does nothing: no one types.
func (s *Script) SetPrompt(string) {}

// Stdout is where the session prints; the script keeps the last warning.
func (s *Script) Stdout() io.Writer { return warningTap{s} }

// warningTap passes the session's output on and keeps its last warning.
type warningTap struct{ s *Script }

// maxWarning bounds the warning kept.
const maxWarning = 500

func (w warningTap) Write(p []byte) (int, error) {
	for _, l := range strings.Split(string(p), "\n") {
		l = strings.TrimPrefix(l, "\x1b[33m") // render.Warning's colour
		if t, ok := strings.CutPrefix(l, "   ! "); ok {
			t = strings.TrimSuffix(t, "\x1b[0m")
			if len(t) > maxWarning {
				t = t[:maxWarning]
			}
			w.s.mu.Lock()
			w.s.warning = t
			w.s.mu.Unlock()
		}
	}
	return w.s.out.Write(p)
}

// SaveHistory keeps nothing: a script has no history.
func (s *Script) SaveHistory(string) error { return nil }

// Interactive is false: the shell echoes the lines and stops at the end.
func (s *Script) Interactive() bool { return false }

// Close does nothing.
func (s *Script) Close() error { return nil }

// Start is the Observer's start; nothing to do.
func (s *Script) Start(io.Writer) {}

// Event records a transcript event, for ReadLine to pair.
func (s *Script) Event(e transcripts.Event, _ io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e.Kind {
	case transcripts.Data:
		return // message text has no reply; keep the list short
	case transcripts.Close:
		s.closed = true
	case transcripts.TLS:
		s.tls = true
	case transcripts.Connect:
		s.closed = false
	}
	s.events = append(s.events, e)
}

// Meta lets the shell run every meta-command.
func (s *Script) Meta(string, string, io.Writer) bool { return false }

// Commands adds no meta-command.
func (s *Script) Commands() []shell.MetaCommand { return nil }

var (
	_ shell.LineReader    = (*Script)(nil)
	_ shell.Observer      = (*Script)(nil)
	_ shell.MessageSource = (*Script)(nil)
)
