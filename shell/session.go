package shell

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/smtpsh/smtpsh/internal/dial"
	"github.com/smtpsh/smtpsh/internal/explain"
	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// DefaultTimeout is how long the shell waits to connect and for each reply
// when Config.Timeout is zero. RFC 5321 §4.5.3.2 lets servers take minutes;
// a person at a prompt wants to hear sooner, and --timeout raises it.
const DefaultTimeout = 30 * time.Second

// Dialer opens the byte stream to a server. The default is plain TCP;
// internal/dial (issue 5) brings implicit TLS, STARTTLS and proxies.
type Dialer interface {
	Dial(ctx context.Context, addr string) (net.Conn, error)
}

// TCPDialer dials plain TCP with a net.Dialer.
type TCPDialer struct {
	Dialer net.Dialer
}

// Dial connects to addr ("host:port") over TCP.
func (d *TCPDialer) Dial(ctx context.Context, addr string) (net.Conn, error) {
	return d.Dialer.DialContext(ctx, "tcp", addr)
}

// Config is what a Session needs.
type Config struct {
	// Addr is the server, "host:port".
	Addr string
	// Name is the target as the prompt shows it ("lab:2525"); Addr when
	// empty.
	Name string
	// EHLOName is the name offered when completing EHLO and HELO.
	EHLOName string
	// Timeout bounds connecting and the wait for each reply; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// NoExplain turns off the one-line explanation after each reply.
	NoExplain bool
	// Dialer opens the connection; nil means a TCPDialer.
	Dialer Dialer
	// Terminal says whether colour may be used; decided once by the caller
	// with render.Detect.
	Terminal render.Terminal
	// KB explains replies; nil means explain.New().
	KB *explain.KB
	// Renderer renders :explain's long form; nil means one built for
	// Terminal when first needed.
	Renderer *render.Renderer
	// Now returns the time for transcript events; nil means time.Now.
	Now func() time.Time
	// StartTLS (--starttls) upgrades the connection right after the first
	// EHLO is answered, then sends that EHLO again (RFC 3207 §4.2). A
	// server that does not advertise STARTTLS ends the session with
	// ExitTLS rather than let it go on in plaintext.
	StartTLS bool
	// LMTP: the server speaks LMTP (RFC 2033): LHLO is the greeting to
	// offer, and the end of the data gets one reply per accepted
	// recipient (§4.2).
	LMTP bool
	// Observer, when set, sees every transcript event and meta-command
	// (the lessons engine).
	Observer Observer
}

// state is what the completer and the prompt read, from readline's
// goroutine, while the session's goroutine changes it.
type state struct {
	phase  Phase
	sasl   bool // a 334 asked for a SASL response (RFC 4954 §4)
	tls    bool
	authed bool
	ehlo   bool // caps holds an EHLO reply
	caps   smtp.Capabilities
	addrs  []string // addresses used in MAIL, RCPT, VRFY and EXPN
	// bdat: a BDAT chunk was sent in this transaction, so DATA may not
	// follow (RFC 3030 §3). chunkLeft is how many octets of a typed
	// BDAT's chunk are still to be typed, and chunkCmd that BDAT line.
	bdat      bool
	chunkLeft uint64
	chunkCmd  string
	// lastCodes are the last reply's code and enhanced code, which
	// :explain completes.
	lastCodes []string
	// lmtp: Config.LMTP. rcpts are the recipients accepted in this
	// transaction, whose replies LMTP gives after the data (RFC 2033 §4.2).
	lmtp  bool
	rcpts []string
}

// pending is a command sent and not yet answered.
type pending struct {
	verb   smtp.Verb // explain.Greeting for the greeting
	line   string    // as sent; "" for the greeting
	sent   time.Time
	warned bool // the user was told it is overdue
	// group and groupLen place the command in a :pipeline group
	// (1-based); zero outside one.
	group, groupLen int
	// rcpt is the recipient an LMTP end-of-data reply is for.
	rcpt string
}

// Session is one conversation with one server. Build it with New, run it
// with Run, and read what happened with Transcript.
type Session struct {
	cfg Config
	kb  *explain.KB
	// next is a meta-command's next step (:auth, :compose, :send), run
	// once every command sent so far has its reply (see send.go).
	next step
	tr   *transcripts.Transcript
	now  func() time.Time

	in   LineReader
	out  io.Writer
	conn net.Conn
	tap  *tapConn // conn, with :raw's copy of what was read
	// dc is the connection when it came from internal/dial, the only kind
	// that can be upgraded to TLS; nil otherwise.
	dc *dial.Conn
	// rbuf buffers tap for rr, the reply reader. Both belong to the reader
	// goroutine, except while it is parked after a 220 (see starttls.go).
	rbuf *bufio.Reader
	rr   *smtp.ReplyReader

	mu sync.Mutex // guards st
	st state

	pending  []pending
	last     *smtp.Reply
	lastVerb smtp.Verb
	quitSent bool
	// saslMech is the mechanism of the last AUTH command, and
	// lastChallenge the base64 text of the last 334 reply.
	saslMech, lastChallenge string
	// quitAnswered is when the reply to QUIT came; zero before.
	quitAnswered time.Time
	closed       bool
	failure      *ExitError // how the session failed, if it did
	prevCaps     *smtp.Capabilities
	// tlsDue: the server answered STARTTLS with 220 and the handshake is
	// to run. autoTLSDue: --starttls and the first EHLO was answered.
	// autoTLSDone: --starttls already acted. autoEHLO: send ehloLine, the
	// last EHLO or LHLO sent, again after the handshake.
	// autoTLSRefused: the server refused the STARTTLS of --starttls.
	tlsDue, autoTLSDue, autoTLSDone, autoEHLO, autoTLSRefused bool
	ehloLine                                                  string
	// piping: :pipeline is collecting the commands in pipe.
	piping bool
	pipe   []string
	// reconnectDue: :reconnect asked for a new connection once this one
	// is closed.
	reconnectDue bool
	// observed is how many transcript events the Observer has seen.
	observed int
	// runCtx is Run's context, for meta-commands that work on their own
	// (the audit checks); auditConfirmed: the user allowed probing a
	// server that is not on this machine.
	runCtx         context.Context
	auditConfirmed bool
	// inHeader: the message typed after DATA's 354 is still in its
	// header section (RFC 5322 §2.1: up to the first empty line).
	inHeader bool
}

// New returns a Session for cfg. It connects only when Run is called.
func New(cfg Config) (*Session, error) {
	if cfg.Addr == "" {
		return nil, errors.New("shell: no server address")
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Addr
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &TCPDialer{}
	}
	kb := cfg.KB
	if kb == nil {
		var err error
		if kb, err = explain.New(); err != nil {
			return nil, fmt.Errorf("shell: %w", err)
		}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	s := &Session{cfg: cfg, kb: kb, now: now, tr: &transcripts.Transcript{Server: cfg.Addr, Source: "live"}}
	return s, nil
}

// Transcript returns what the session recorded so far, also after Run
// failed. Secrets are in it; transcripts.Write redacts them by default.
func (s *Session) Transcript() *transcripts.Transcript { return s.tr }

// Phase returns the current protocol phase.
func (s *Session) Phase() Phase {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.phase
}

// replyResult is one reply, or the error met reading it, from the reader
// goroutine.
type replyResult struct {
	r   *smtp.Reply
	err error
	at  time.Time
}

// inputResult is one line, or the error met reading it, from the input
// goroutine.
type inputResult struct {
	line string
	err  error
}

// Run connects, then runs the conversation with lines from in until the
// input ends (the shell then sends QUIT), :quit, or the server closes. The
// error is an *ExitError saying which exit status applies; nil means the
// session ended cleanly and every expectation held.
func (s *Session) Run(ctx context.Context, in LineReader) error {
	s.in = in
	s.out = in.Stdout()
	s.runCtx = ctx
	if c, ok := in.(completing); ok {
		c.SetCompleter(s.complete)
	}
	// The input goroutine outlives each connection: a line being read
	// cannot be abandoned, and :reconnect keeps the same prompt.
	done := make(chan struct{})
	defer close(done)
	want := make(chan struct{}, 1)
	lines := make(chan inputResult, 1)
	go readInput(in, want, lines, done)
	requested := false
	if s.cfg.Observer != nil {
		s.cfg.Observer.Start(s.out)
	}
	defer s.observe()
	for first := true; ; first = false {
		if err := s.connect(ctx); err != nil {
			if first || !in.Interactive() {
				return err
			}
			s.warn("%s", render.Escape(err.Error()))
		} else {
			if !first && in.Interactive() {
				// A person who reconnected is judged on the new
				// connection; a script keeps its first failure.
				s.failure = nil
			}
			if err := s.converse(ctx, &requested, want, lines); err != nil {
				return err
			}
		}
		if in.Interactive() && !s.reconnectDue && !s.quitSent {
			// The server closed the connection, or it could not be
			// opened: stay, so the user can read, :save or :reconnect.
			if err := s.offline(&requested, want, lines); err != nil {
				return err
			}
		}
		if !s.reconnectDue {
			break
		}
		s.reconnectDue = false
	}
	if !in.Interactive() {
		s.drainScript(requested, want, lines)
	}
	if s.failure != nil {
		return s.failure
	}
	return nil
}

// connect opens the connection and resets what the session knew of the
// last one (a new connection starts over, RFC 5321 §3.1); the addresses
// used stay for completion, and the transcript goes on with a new connect
// event.
func (s *Session) connect(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	conn, err := s.cfg.Dialer.Dial(dctx, s.cfg.Addr)
	cancel()
	if err != nil {
		var tlsErr *dial.TLSError
		if errors.As(err, &tlsErr) {
			return exitErr(ExitTLS, "TLS with %s failed: %w", s.cfg.Addr, err)
		}
		return exitErr(ExitConnect, "cannot connect to %s: %w", s.cfg.Addr, err)
	}
	s.mu.Lock()
	s.st = state{addrs: s.st.addrs, lmtp: s.cfg.LMTP}
	s.mu.Unlock()
	s.next, s.prevCaps, s.pipe, s.piping = nil, nil, nil, false
	s.quitSent, s.quitAnswered, s.closed = false, time.Time{}, false
	s.tlsDue, s.autoTLSDue, s.autoTLSDone, s.autoEHLO, s.autoTLSRefused = false, false, false, false, false
	s.ehloLine = ""
	s.tap = &tapConn{Conn: conn}
	s.conn = s.tap
	s.dc, _ = conn.(*dial.Conn)
	start := s.now()
	if s.tr.Started.IsZero() {
		s.tr.Started = start
		s.tr.Client = conn.LocalAddr().String()
	}
	via, transport := describeTransport(conn)
	s.tr.AddConnect(start, s.cfg.Addr, via)
	s.note("connected to %s", render.Escape(conn.RemoteAddr().String()))
	for _, n := range transport {
		s.note("%s", n)
	}
	if s.dc != nil && s.dc.TLS() != nil {
		s.tr.AddTLS(start, tlsInfo(s.dc.TLS()))
		s.mu.Lock()
		s.st.tls = true // implicit TLS (RFC 8314 §3.3)
		s.mu.Unlock()
	}
	s.pending = []pending{{verb: explain.Greeting, sent: start}}
	return nil
}

// converse runs one connection until it closes. requested says whether a
// line was asked of the input goroutine and not yet received; it carries
// over to the next connection.
func (s *Session) converse(ctx context.Context, requested *bool, want chan<- struct{}, lines <-chan inputResult) error {
	in := s.in
	done := make(chan struct{})
	defer close(done)
	replies := make(chan replyResult)
	resume := make(chan struct{}, 1)
	// The reader's buffer is ours, not internal/smtp's, so that the bytes
	// it holds after a 220 to STARTTLS can be seen (starttls.go).
	s.rbuf = bufio.NewReaderSize(s.tap, replyBufferSize)
	s.rr = smtp.NewReplyReader(s.rbuf, nil)
	go readReplies(s.rr, replies, resume, done, s.now)

	defer s.conn.Close()
	timer := time.NewTimer(s.cfg.Timeout)
	defer timer.Stop()
	grace := time.NewTimer(typeAhead)
	defer grace.Stop()
	for !s.closed {
		if !*requested && s.wantsInput() {
			in.SetPrompt(s.prompt())
			want <- struct{}{}
			*requested = true
		}
		var timeout, graceOver <-chan time.Time
		switch {
		case s.waiting() != nil:
			timer.Reset(time.Until(s.waiting().sent.Add(s.cfg.Timeout)))
			timeout = timer.C
		case len(s.pending) == 0 && !s.quitAnswered.IsZero():
			timer.Reset(time.Until(s.quitAnswered.Add(min(quitLinger, s.cfg.Timeout))))
			timeout = timer.C
		}
		if !*requested && in.Interactive() && len(s.pending) > 0 && !s.quitSent {
			grace.Reset(time.Until(s.pending[len(s.pending)-1].sent.Add(typeAhead)))
			graceOver = grace.C
		}
		select {
		case <-graceOver:
			// A slow server: let the user type on; its reply will be
			// printed above the line being edited.
			in.SetPrompt(s.prompt())
			want <- struct{}{}
			*requested = true
		case <-ctx.Done():
			s.closeConn(transcripts.SideClient, "interrupted")
			return fmt.Errorf("interrupted: %w", ctx.Err())
		case rr := <-replies:
			s.printRawReceived()
			s.handleReply(rr)
			parked := parks(rr)
			if parked && s.afterParkedReply(ctx) {
				resume <- struct{}{}
			}
			s.afterReply(parked)
			if s.next != nil && len(s.pending) == 0 && !s.closed {
				s.next = s.next()
			}
		case l := <-lines:
			*requested = false
			if err := s.handleInput(l); err != nil {
				return err
			}
		case <-timeout:
			if len(s.pending) == 0 {
				// QUIT was answered but the server keeps the
				// connection open: the client may close now.
				s.closeConn(transcripts.SideClient, "")
				continue
			}
			p := s.waiting()
			what := "greeting"
			if p.verb != explain.Greeting {
				what = fmt.Sprintf("reply to %q", render.Escape(p.line))
			}
			if !in.Interactive() || p.verb == smtp.QUIT {
				// A script cannot wait for ever, and nor can a
				// user who asked to leave.
				s.warn("no %s after %s: closing the connection", what, s.cfg.Timeout)
				s.closeConn(transcripts.SideClient, "timeout")
				return exitErr(ExitProtocol, "timeout: no %s after %s (--timeout raises the limit)", what, s.cfg.Timeout)
			}
			p.warned = true
			s.warn("still no %s after %s; keep waiting, or :quit", what, s.cfg.Timeout)
		}
		s.observe()
		if *requested && in.Interactive() {
			in.SetPrompt(s.prompt()) // the phase may have changed
		}
	}
	return nil
}

// offline runs the prompt of an interactive session whose connection is
// closed: meta-commands work (:save, :info, :explain, :reconnect), SMTP
// lines are refused, and :quit or Ctrl-D leave.
func (s *Session) offline(requested *bool, want chan<- struct{}, lines <-chan inputResult) error {
	s.note("the connection is closed: :reconnect connects again, :save keeps the transcript, :quit or Ctrl-D leaves")
	for {
		if !*requested {
			s.in.SetPrompt(s.prompt())
			want <- struct{}{}
		}
		*requested = false
		l := <-lines
		switch {
		case errors.Is(l.err, ErrInterrupt):
			continue
		case errors.Is(l.err, io.EOF):
			return nil
		case l.err != nil:
			return fmt.Errorf("reading input: %w", l.err)
		}
		t := strings.TrimSpace(l.line)
		switch {
		case t == "":
		case strings.HasPrefix(t, ":"):
			name, _, _ := strings.Cut(t, " ")
			switch strings.ToLower(name) {
			case ":quit", ":q", ":exit":
				return nil
			}
			_ = s.in.SaveHistory(t)
			if err := s.meta(t); err != nil {
				return err
			}
			s.observe()
			if s.reconnectDue {
				return nil
			}
		default:
			s.warn("not sent, the connection is closed: :reconnect connects again")
		}
	}
}

// drainScript reads what is left of a script once the connection closed:
// "expect" lines still check the last reply (typically QUIT's 221), and
// any line that can no longer be sent fails the script.
func (s *Session) drainScript(requested bool, want chan<- struct{}, lines <-chan inputResult) {
	for {
		if !requested {
			want <- struct{}{}
		}
		requested = false
		l := <-lines
		if l.err != nil {
			return
		}
		if code, ok := expectLine(l.line); ok {
			s.expect(code)
			continue
		}
		if t := strings.TrimSpace(l.line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		s.warn("not sent, the connection is closed: %s", render.Escape(l.line))
		s.fail(ExitProtocol, "the connection closed before the script ended")
		return
	}
}

// typeAhead is how long the prompt waits for the replies to what was just
// typed before it lets the user type on. Replies usually come within
// milliseconds, and waiting for them gives the next prompt the right phase;
// a slow server must not block typing.
const typeAhead = 250 * time.Millisecond

// waiting returns the oldest command whose reply is not yet overdue
// (or, for an interactive session, overdue without the user being told).
func (s *Session) waiting() *pending {
	for i := range s.pending {
		if !s.pending[i].warned {
			return &s.pending[i]
		}
	}
	return nil
}

// wantsInput reports whether the session should read the next input line
// now: once every command sent has its reply. A script always waits (up to
// the timeout) so that `expect` checks the reply to the line before it; a
// person waits at most typeAhead (see Run).
func (s *Session) wantsInput() bool {
	// After QUIT nothing more is read: the session is ending (and a read
	// started now would race with readline's Close).
	return (len(s.pending) == 0 || s.chunkPending()) && !s.quitSent
}

// quitLinger is how long the shell waits, after the reply to QUIT, for the
// server to close the connection (RFC 5321 §4.1.1.10) before closing it;
// less when the timeout is shorter.
const quitLinger = 2 * time.Second

// replyBufferSize is the size of the reply reader's buffer: at least
// internal/smtp's DefaultMaxReplyLineLength, so the ReplyReader uses it
// as is.
const replyBufferSize = 4096

// readReplies reads replies until the connection fails or done is closed.
// After a reply that parks (a 220) it waits for resume before reading
// again: the session may be about to start TLS on the stream (see
// starttls.go).
func readReplies(rr *smtp.ReplyReader, out chan<- replyResult, resume <-chan struct{}, done <-chan struct{}, now func() time.Time) {
	for {
		r, err := rr.ReadReply()
		res := replyResult{r: r, err: err, at: now()}
		select {
		case out <- res:
		case <-done:
			return
		}
		if err != nil && !inStep(err) {
			return
		}
		if parks(res) {
			select {
			case <-resume:
			case <-done:
				return
			}
		}
	}
}

// parks reports whether the reply reader stops after rr until the session
// resumes it: after a whole 220 reply, the greeting or the answer to
// STARTTLS (RFC 3207 §4), after which the stream may become TLS.
func parks(rr replyResult) bool {
	return rr.err == nil && rr.r != nil && rr.r.Code == 220
}

// inStep reports whether the reply reader is still at a reply boundary
// after err, so the conversation can go on.
func inStep(err error) bool {
	var long *smtp.LineTooLongError
	if errors.As(err, &long) {
		return long.Resynced
	}
	var many *smtp.TooManyLinesError
	if errors.As(err, &many) {
		return many.Resynced
	}
	var mismatch *smtp.CodeMismatchError
	var syntax *smtp.SyntaxError
	return errors.As(err, &mismatch) || errors.As(err, &syntax)
}

// readInput reads one line each time the session asks, until done.
func readInput(in LineReader, want <-chan struct{}, out chan<- inputResult, done <-chan struct{}) {
	for {
		select {
		case <-want:
		case <-done:
			return
		}
		l, err := in.ReadLine()
		select {
		case out <- inputResult{line: l, err: err}:
		case <-done:
			return
		}
	}
}

// print writes one line of output.
func (s *Session) print(line string) {
	fmt.Fprintln(s.out, line)
}

// note prints a comment of ours.
func (s *Session) note(format string, args ...any) {
	s.print(render.Note(s.cfg.Terminal, "   "+fmt.Sprintf(format, args...)))
}

// warn prints a warning of ours.
func (s *Session) warn(format string, args ...any) {
	s.print(render.Warning(s.cfg.Terminal, "   ! "+fmt.Sprintf(format, args...)))
}

// prompt returns the prompt for the current state: the target, TLS and AUTH
// state and the phase ("lab:2525 tls auth mail> "); "data> " in DATA.
func (s *Session) prompt() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.phase == PhaseData {
		return "data> "
	}
	if s.st.chunkLeft > 0 {
		return fmt.Sprintf("bdat %d> ", s.st.chunkLeft)
	}
	if s.piping {
		return fmt.Sprintf("pipeline %d> ", len(s.pipe)+1)
	}
	var b strings.Builder
	b.WriteString(s.cfg.Name)
	if s.st.tls {
		b.WriteString(" tls")
	}
	if s.st.authed {
		b.WriteString(" auth")
	}
	b.WriteString(" ")
	if s.st.sasl {
		b.WriteString("sasl")
	} else {
		b.WriteString(s.st.phase.String())
	}
	b.WriteString("> ")
	return b.String()
}

// handleInput acts on one input line. A non-nil error ends Run.
func (s *Session) handleInput(l inputResult) error {
	switch {
	case errors.Is(l.err, ErrInterrupt):
		return nil
	case errors.Is(l.err, io.EOF):
		s.endOfInput()
		return nil
	case l.err != nil:
		s.closeConn(transcripts.SideClient, "input error")
		return fmt.Errorf("reading input: %w", l.err)
	}
	line := l.line
	if !s.in.Interactive() {
		// In a script, "expect CODE" is always an expectation, also
		// after DATA's 354: a script cannot send it as message text.
		if code, ok := expectLine(line); ok {
			s.expect(code)
			return nil
		}
	}
	phase := s.Phase()
	if phase == PhaseData {
		s.sendData(line)
		return nil
	}
	if s.chunkPending() {
		s.sendChunkLine(line)
		return nil
	}
	if s.piping {
		s.pipeInput(line)
		return nil
	}
	if strings.HasPrefix(strings.TrimLeft(line, " \t"), ":") && !s.saslPending() {
		_ = s.in.SaveHistory(line)
		return s.meta(strings.TrimLeft(line, " \t"))
	}
	if !s.in.Interactive() {
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			return nil // blank lines and comments in scripts
		}
	} else if strings.TrimSpace(line) == "" {
		return nil
	}
	if s.quitSent {
		// RFC 5321 §4.1.1.10: after QUIT the server closes; anything
		// more would go nowhere.
		s.warn("not sent, QUIT was sent and the session is ending: %s", render.Escape(line))
		if !s.in.Interactive() {
			s.fail(ExitProtocol, "the script goes on after QUIT")
		}
		return nil
	}
	s.sendCommand(line, true)
	return nil
}

// endOfInput is Ctrl-D or the end of a script: send QUIT (RFC 5321
// §4.1.1.10) unless it was sent; in DATA, close instead, since QUIT would be
// message text.
func (s *Session) endOfInput() {
	switch {
	case s.Phase() == PhaseData:
		s.warn("input ended inside DATA: closing without ending the message (a \".\" line would have sent it)")
		s.closeConn(transcripts.SideClient, "input ended in DATA")
		s.fail(ExitProtocol, "input ended inside DATA")
	case s.chunkPending():
		s.warn("input ended inside a BDAT chunk: closing without sending the rest of it")
		s.closeConn(transcripts.SideClient, "input ended in BDAT")
		s.fail(ExitProtocol, "input ended inside a BDAT chunk")
	case s.Phase() == PhaseTLSHandshake:
		s.closeConn(transcripts.SideClient, "input ended")
	case s.quitSent:
		if len(s.pending) == 0 {
			s.closeConn(transcripts.SideClient, "")
		}
	default:
		s.sendCommand("QUIT", false)
	}
}

// fail records the first failure; the session goes on or ends as the
// caller decides.
func (s *Session) fail(code int, format string, args ...any) {
	if s.failure == nil {
		s.failure = exitErr(code, format, args...)
	}
}

// expectLine parses a script's "expect CODE" line: CODE is a reply code
// ("250") or a class ("2", "2xx").
func expectLine(line string) (string, bool) {
	f := strings.Fields(line)
	if len(f) != 2 || !strings.EqualFold(f[0], "expect") {
		return "", false
	}
	c := strings.ToLower(f[1])
	c = strings.TrimSuffix(c, "xx")
	if len(c) != 1 && len(c) != 3 {
		return "", false
	}
	for _, r := range c {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return c, true
}

// expect checks the last reply against code; the first failure ends a
// script with ExitExpect after QUIT.
func (s *Session) expect(code string) {
	s.mu.Lock()
	left := s.st.chunkLeft
	s.mu.Unlock()
	if left > 0 {
		s.warn("expect %s: the BDAT chunk still needs %d octets, so the server has not answered", code, left)
		s.fail(ExitExpect, "expectation failed: expect %s inside a BDAT chunk", code)
		return
	}
	got := "no reply"
	if s.last != nil {
		got = fmt.Sprint(s.last.Code)
		if strings.HasPrefix(got, code) {
			s.note("expect %s: ok", code)
			return
		}
	}
	if len(code) == 1 {
		code += "xx"
	}
	s.warn("expect %s: got %s", code, got)
	s.fail(ExitExpect, "expectation failed: expected %s, got %s", code, got)
	if !s.quitSent && !s.closed {
		s.sendCommand("QUIT", false)
	}
}

// write sends bytes to the server; a failure closes the session.
func (s *Session) write(b []byte) bool {
	s.printRawSent(b)
	if _, err := s.conn.Write(b); err != nil {
		s.warn("cannot send: %v", err)
		s.closeConn(transcripts.SideUnknown, "write failed")
		s.fail(ExitProtocol, "sending to %s: %w", s.cfg.Addr, err)
		return false
	}
	return true
}

// sendCommand sends a command line exactly as typed, after warning about
// what a strict server would object to. Nothing is ever rewritten. typed
// is false for the QUIT the shell sends itself, which stays out of the
// history.
func (s *Session) sendCommand(line string, typed bool) {
	if s.closed {
		return
	}
	s.mu.Lock()
	sasl := s.st.sasl
	phase := s.st.phase
	s.mu.Unlock()
	verb, _ := smtp.SplitVerb(line)
	if !s.in.Interactive() {
		switch {
		case sasl:
			s.print(render.ClientLine("C: ", "<SASL response>"))
		case verb == smtp.AUTH:
			s.print(render.ClientLine("C: ", redactInitialResponse(line)))
		default:
			s.print(render.ClientLine("C: ", line))
		}
	}
	switch {
	case sasl:
		// A SASL response (RFC 4954 §4): base64, not a command. Never
		// saved in the history.
		verb = smtp.AUTH
		if n := saslNote(s.saslMech, s.lastChallenge, line, false); n != "" {
			s.note("%s", n)
		}
	case phase == PhaseTLSHandshake:
		s.warn("the server is waiting for a TLS handshake (RFC 3207 §4), so this line will be read as TLS garbage: this connection cannot be upgraded")
		s.checkCommand(line, verb, phase)
	default:
		if verb != smtp.AUTH && typed {
			_ = s.in.SaveHistory(line)
		}
		s.checkCommand(line, verb, phase)
	}
	at := s.now()
	if !s.write([]byte(line + "\r\n")) {
		return
	}
	s.tr.AddClient(at, line)
	if verb == smtp.QUIT && !sasl {
		s.quitSent = true
	}
	if verb == smtp.BDAT && !sasl {
		if s.startChunk(line) {
			return // the reply comes once the chunk is complete
		}
		s.expectEndOfData(verb, line, at) // BDAT 0 LAST
		return
	}
	s.pending = append(s.pending, pending{verb: verb, line: line, sent: at})
}

// checkCommand warns about what the user typed, in internal/smtp's words,
// and about a verb out of phase. The line is sent anyway: seeing what the
// server says is the point.
func (s *Session) checkCommand(line string, verb smtp.Verb, phase Phase) {
	cmd, err := smtp.ParseOptions{}.ParseCommand(line)
	if err != nil {
		s.warn("%s (sent as typed)", render.Escape(err.Error()))
	} else {
		for _, w := range cmd.Warnings {
			s.warn("%s", render.Escape(w.String()))
		}
		s.rememberAddresses(cmd)
		s.checkParams(cmd)
		if cmd.Verb == smtp.AUTH {
			s.saslMech = cmd.Mechanism
			if cmd.InitialResponse != "" {
				if n := saslNote(cmd.Mechanism, "", cmd.InitialResponse, true); n != "" {
					s.note("%s", n)
				}
			}
		}
	}
	s.mu.Lock()
	legal := verbLegal(verb, phase, &s.st)
	ext := s.st.ehlo
	s.mu.Unlock()
	if verb.Known() && !legal && phase != PhaseTLSHandshake && phase != PhaseClosed {
		switch {
		case verb == smtp.STARTTLS || verb == smtp.AUTH || verb == smtp.BDAT || verb == smtp.ETRN || verb == smtp.XCLIENT || verb == smtp.XFORWARD:
			if ext {
				s.warn("%s was not advertised in the EHLO reply, or is out of place in phase %s", verb, phase)
			} else {
				s.warn("%s is an extension: send EHLO first to see whether the server offers it", verb)
			}
		case verb != smtp.EHLO && verb != smtp.HELO:
			s.warn("%s is out of place in phase %s (expected %s)", verb, phase, verbList(s.legal(phase)))
		}
	}
}

// paramExtension is the EHLO keyword that a MAIL or RCPT parameter needs:
// RFC 1870 SIZE, RFC 6152 8BITMIME (BODY=), RFC 3461 DSN, RFC 6531
// SMTPUTF8, RFC 4954 §5 AUTH, RFC 8689 REQUIRETLS.
func paramExtension(keyword, value string) string {
	switch keyword {
	case "SIZE", "SMTPUTF8", "AUTH", "REQUIRETLS":
		return keyword
	case "BODY":
		if strings.EqualFold(value, "BINARYMIME") {
			return "BINARYMIME" // RFC 3030 §3
		}
		return "8BITMIME"
	case "RET", "ENVID", "NOTIFY", "ORCPT":
		return "DSN"
	}
	return ""
}

// checkParams warns about MAIL and RCPT parameters of extensions the
// server did not advertise: extensions are negotiated with EHLO (RFC 5321
// §2.2.1), so after HELO there are none, and a server answers a parameter
// it does not take with 555 (§4.1.1.11).
func (s *Session) checkParams(cmd *smtp.Command) {
	if len(cmd.Params) == 0 {
		return
	}
	s.mu.Lock()
	ehlo, caps := s.st.ehlo, s.st.caps
	s.mu.Unlock()
	if !ehlo {
		s.warn("%s parameters are ESMTP extensions, which exist only after EHLO (RFC 5321 §2.2.1): expect 555 (§4.1.1.11)", cmd.Verb)
		return
	}
	for _, p := range cmd.Params {
		if ext := paramExtension(p.Keyword, p.Value); ext != "" && !caps.Has(ext) {
			s.warn("%s needs the %s extension, which the server did not advertise", render.Escape(p.Keyword), ext)
		}
	}
}

// legal returns the verbs legal in phase, under the lock.
func (s *Session) legal(phase Phase) []smtp.Verb {
	s.mu.Lock()
	defer s.mu.Unlock()
	return legalVerbs(phase, &s.st)
}

func verbList(vs []smtp.Verb) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(v))
	}
	return b.String()
}

// rememberAddresses keeps the addresses of a command for completion.
func (s *Session) rememberAddresses(cmd *smtp.Command) {
	var a string
	switch cmd.Verb {
	case smtp.MAIL, smtp.RCPT:
		if !cmd.Path.IsNull() {
			a = cmd.Path.Mailbox.String()
		}
	case smtp.VRFY, smtp.EXPN:
		if cmd.Mailbox != nil {
			a = cmd.Mailbox.String()
		}
	}
	if a == "" || a == "@" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.st.addrs {
		if x == a {
			return
		}
	}
	if len(s.st.addrs) < 100 {
		s.st.addrs = append(s.st.addrs, a)
	}
}

// sendData sends one line of message text after 354, dot-stuffed by
// internal/smtp's DotWriter (RFC 5321 §4.5.2); "." alone ends the data
// (§4.1.1.4) and waits for the server's reply.
func (s *Session) sendData(line string) {
	if !s.in.Interactive() {
		s.print(render.ClientLine("C: ", line))
	}
	at := s.now()
	if line == "." {
		if !s.write([]byte(".\r\n")) {
			return
		}
		s.tr.AddClient(at, ".")
		s.expectEndOfData(smtp.DATA, ".", at)
		s.setPhase(PhaseMail) // the reply decides; until then, no more data
		return
	}
	s.checkHeaderFrom(at, line)
	wire, err := stuffLine(line)
	if err != nil {
		s.warn("cannot dot-stuff this line: %v", err)
		return
	}
	if !s.write(wire) {
		return
	}
	// The DotWriter turns a bare CR or LF into CRLF, so one typed line
	// can be several on the wire: record each.
	for _, l := range strings.Split(strings.TrimSuffix(string(wire), "\r\n"), "\r\n") {
		s.tr.AddData(at, l)
	}
	if string(wire) != line+"\r\n" {
		s.note("sent as %s (dot-stuffed: a line starting with \".\" gets another, RFC 5321 §4.5.2)", render.Escape(strings.TrimSuffix(string(wire), "\r\n")))
	}
}

// stuffLine returns line as DATA text on the wire: a DotWriter over one
// line, without the end-of-data line its Close adds. Its output does not
// depend on how the body is split, so line by line is the same as whole.
func stuffLine(line string) ([]byte, error) {
	var b bytes.Buffer
	dw := smtp.NewDotWriter(&b)
	if _, err := io.WriteString(dw, line+"\r\n"); err != nil {
		return nil, err
	}
	if err := dw.Close(); err != nil {
		return nil, err
	}
	out, ok := bytes.CutSuffix(b.Bytes(), []byte(".\r\n"))
	if !ok {
		return nil, errors.New("DotWriter did not end with the end-of-data line")
	}
	return out, nil
}

// saslPending reports whether the server asked for a SASL response.
func (s *Session) saslPending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.sasl
}

func (s *Session) setPhase(p Phase) {
	s.mu.Lock()
	s.st.phase = p
	if p <= PhaseMail || p == PhaseClosed {
		s.st.bdat, s.st.rcpts = false, nil // the transaction is over
	}
	s.mu.Unlock()
}

// closeConn closes the connection and records who closed it.
func (s *Session) closeConn(side transcripts.Side, reason string) {
	if s.closed {
		return
	}
	s.closed = true
	s.conn.Close()
	s.tr.AddClose(s.now(), side, reason)
	s.setPhase(PhaseClosed)
}

// redactInitialResponse hides the initial response of "AUTH MECH resp"
// (RFC 4954 §4) in the echo of a scripted line, as transcripts do: it
// encodes the password. The decoded line the shell prints next shows the
// user with the password masked.
func redactInitialResponse(line string) string {
	verb, rest := smtp.SplitVerb(line)
	if verb != smtp.AUTH {
		return line
	}
	mech, resp, ok := strings.Cut(strings.TrimLeft(rest, " "), " ")
	if !ok || resp == "" || resp == "=" {
		return line
	}
	return line[:len(line)-len(rest)] + mech + " <redacted>"
}

// checkHeaderFrom notes, for a message typed by hand, a From header field
// that differs from MAIL FROM, as :send and :compose do (the spoofing
// lesson). The note goes in the transcript too, where lessons look for it.
func (s *Session) checkHeaderFrom(at time.Time, line string) {
	if !s.inHeader {
		return
	}
	if line == "" {
		s.inHeader = false
		return
	}
	name, _, ok := strings.Cut(line, ":")
	if !ok || !strings.EqualFold(strings.TrimSpace(name), "From") {
		return
	}
	msg := []byte(line + "\r\n\r\n")
	if _, err := HeaderFrom(msg); err != nil {
		return // not an address list (yet): the server will judge
	}
	env, _ := envelopeFrom(s.tr)
	if n := fromNote(msg, env); n != "" {
		s.note("%s", render.Escape(n))
		s.tr.AddNote(at, "header From differs from MAIL FROM")
	}
}

// expectEndOfData records the reply or replies awaited after the end of a
// message (the "." of DATA, or BDAT with LAST, RFC 3030 §2): one for SMTP;
// for LMTP one per recipient accepted in the transaction, in RCPT order
// (RFC 2033 §4.2). Other BDAT chunks get one reply.
func (s *Session) expectEndOfData(verb smtp.Verb, line string, at time.Time) {
	s.mu.Lock()
	lmtp, rcpts := s.st.lmtp, append([]string(nil), s.st.rcpts...)
	s.mu.Unlock()
	if !lmtp || len(rcpts) == 0 || verb == smtp.BDAT && !bdatLast(line) {
		s.pending = append(s.pending, pending{verb: verb, line: line, sent: at})
		return
	}
	for _, r := range rcpts {
		s.pending = append(s.pending, pending{verb: verb, line: line, sent: at, rcpt: r})
	}
	s.note("LMTP: one reply per accepted recipient follows, in RCPT order (RFC 2033 §4.2): %d", len(rcpts))
}
