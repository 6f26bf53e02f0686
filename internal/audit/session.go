package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/smtpsh/smtpsh/internal/dial"
	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// Defaults for Config's zero fields.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultTarpit        = 5 * time.Second
	DefaultBackoff       = 2 * time.Second
	DefaultMaxReconnects = 2
	DefaultEHLOName      = "audit.smtpsh.invalid"
	// maxBackoff caps the doubling back-off after 421s and drops.
	maxBackoff = 30 * time.Second
	// maxTranscripts bounds how many connections' transcripts are kept.
	maxTranscripts = 64
	// maxEvents bounds one connection's transcript.
	maxEvents = 4096
)

// Config says which server to audit and how carefully.
type Config struct {
	// Addr is the server, "host:port".
	Addr string
	// Dial says how to reach it (TLS, proxy, timeouts): the shell's and
	// smtpsh audit's connection flags.
	Dial dial.Options
	// StartTLS upgrades every connection after EHLO and says EHLO again
	// (RFC 3207 §4.2).
	StartTLS bool
	// EHLOName is the name sent in EHLO/HELO; DefaultEHLOName when empty.
	EHLOName string
	// Timeout bounds the wait for each reply; DefaultTimeout when zero.
	Timeout time.Duration
	// Tarpit is how slow a reply must be to count as a tarpit; the
	// auditor then halves its rate and reports it. DefaultTarpit when zero.
	Tarpit time.Duration
	// Rate is the most commands per second (0: as fast as replies come).
	Rate float64
	// MaxReconnects is how many times a check reconnects after a 421 or a
	// dropped connection; DefaultMaxReconnects when zero, none when < 0.
	MaxReconnects int
	// Backoff is the first wait before reconnecting; it doubles each time.
	// DefaultBackoff when zero.
	Backoff time.Duration
	// Out receives each probe and reply as the shell shows them ("C: …",
	// "S: …", notes and warnings), rendered for Terminal; nil for silence.
	Out io.Writer
	// Terminal decides colour for Out.
	Terminal render.Terminal
	// OnEvent, when set, is called with every transcript event as it
	// happens (the shell feeds its observers with it).
	OnEvent func(transcripts.Event)
	// Sleep waits d or until ctx ends; nil means a real timer. Tests make
	// back-off instant with it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Auditor runs checks against one server. It is not safe for concurrent
// use; its checks run one after the other, each on its own connection.
type Auditor struct {
	cfg         Config
	transcripts []*transcripts.Transcript
	interval    time.Duration // between commands; grows on a tarpit
	last        time.Time     // when the last command was sent
	backoff     time.Duration
	tarpits     []string
	remote      net.Addr // the last connection's peer
}

// New returns an Auditor for cfg.
func New(cfg Config) (*Auditor, error) {
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("audit: server address %s: %w", render.Escape(cfg.Addr), err)
	}
	if cfg.EHLOName == "" {
		cfg.EHLOName = DefaultEHLOName
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Tarpit <= 0 {
		cfg.Tarpit = DefaultTarpit
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	switch {
	case cfg.MaxReconnects == 0:
		cfg.MaxReconnects = DefaultMaxReconnects
	case cfg.MaxReconnects < 0:
		cfg.MaxReconnects = 0
	}
	if cfg.Rate < 0 {
		return nil, fmt.Errorf("audit: rate %v: want 0 (unlimited) or more", cfg.Rate)
	}
	a := &Auditor{cfg: cfg, backoff: cfg.Backoff}
	if cfg.Rate > 0 {
		a.interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	return a, nil
}

// Transcripts returns the transcript of every connection the auditor has
// opened, oldest first (at most 64; each bounded).
func (a *Auditor) Transcripts() []*transcripts.Transcript { return a.transcripts }

// Tarpits returns what the auditor noticed about slow replies.
func (a *Auditor) Tarpits() []string { return a.tarpits }

// Exchange is one probe and the reply that answered it: the evidence
// behind a verdict.
type Exchange struct {
	// Command is the line sent, without CRLF ("" for the greeting).
	Command string `json:"command"`
	// Code is the reply code; 0 when no reply came.
	Code int `json:"code,omitempty"`
	// Reply holds the reply's lines as received.
	Reply []string `json:"reply,omitempty"`
	// Elapsed is how long the reply took.
	Elapsed time.Duration `json:"elapsed_ns,omitempty"`
}

// String is the exchange on one line: `VRFY alice → 252 2.0.0 alice`.
func (e Exchange) String() string {
	r := strings.Join(e.Reply, " / ")
	if e.Code == 0 {
		r = "(no reply)"
	}
	if e.Command == "" {
		return r
	}
	return render.Escape(e.Command) + " → " + render.Escape(r)
}

// ClosingError is a 421 reply: the server is closing the connection
// (RFC 5321 §3.8).
type ClosingError struct{ Exchange Exchange }

func (e *ClosingError) Error() string {
	return "the server is closing the connection (421, RFC 5321 §3.8): " + e.Exchange.String()
}

// ConnError is a connection that failed: dropped, timed out or unreadable.
type ConnError struct {
	Command string // the command whose reply was awaited ("" for the greeting)
	Err     error
}

func (e *ConnError) Error() string {
	if e.Command == "" {
		return "waiting for the greeting: " + e.Err.Error()
	}
	return "after " + render.Escape(e.Command) + ": " + e.Err.Error()
}

func (e *ConnError) Unwrap() error { return e.Err }

// lostConnection reports whether err means the connection is gone (a 421
// or a ConnError), so the check may reconnect.
func lostConnection(err error) bool {
	var ce *ClosingError
	var ne *ConnError
	return errors.As(err, &ce) || errors.As(err, &ne)
}

// conn is one connection of the auditor: greeting read, EHLO (or HELO) said.
type conn struct {
	a        *Auditor
	c        *dial.Conn
	rr       *smtp.ReplyReader
	tr       *transcripts.Transcript
	greeting Exchange
	hello    Exchange
	caps     smtp.Capabilities
	esmtp    bool
	closed   bool
}

func (a *Auditor) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if a.cfg.Sleep != nil {
		return a.cfg.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (a *Auditor) print(s string) {
	if a.cfg.Out != nil {
		fmt.Fprintln(a.cfg.Out, s)
	}
}

// note prints and records a remark of the auditor's on c's transcript.
func (c *conn) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	c.a.print(render.Note(c.a.cfg.Terminal, "# "+s))
	c.event(transcripts.Event{Kind: transcripts.Note, Time: time.Now(), Text: s})
}

func (c *conn) warn(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	c.a.print(render.Warning(c.a.cfg.Terminal, "! "+s))
	c.event(transcripts.Event{Kind: transcripts.Note, Time: time.Now(), Text: s})
}

func (c *conn) event(e transcripts.Event) {
	if len(c.tr.Events) < maxEvents {
		c.tr.Events = append(c.tr.Events, e)
	}
	if c.a.cfg.OnEvent != nil {
		c.a.cfg.OnEvent(e)
	}
}

// open connects, reads the greeting and says EHLO (HELO when EHLO is
// refused, RFC 5321 §4.1.4), upgrading with STARTTLS when configured. A
// 421 or 554 greeting is returned as an error with the connection closed.
func (a *Auditor) open(ctx context.Context) (*conn, error) {
	dc, err := dial.Dial(ctx, a.cfg.Addr, a.cfg.Dial)
	if err != nil {
		return nil, err
	}
	tr := &transcripts.Transcript{Server: a.cfg.Addr, Client: dc.LocalAddr().String(), Started: time.Now(), Source: "audit"}
	if len(a.transcripts) < maxTranscripts {
		a.transcripts = append(a.transcripts, tr)
	}
	a.remote = dc.RemoteAddr()
	c := &conn{a: a, c: dc, rr: smtp.NewReplyReader(dc.Reader(), nil), tr: tr}
	via := ""
	if a.cfg.Dial.Proxy != "" {
		via = dc.Path().String()
	}
	c.event(transcripts.Event{Kind: transcripts.Connect, Time: time.Now(), Addr: a.cfg.Addr, Via: via})
	g, err := c.read(ctx, "")
	c.greeting = g
	if err != nil {
		c.close("")
		return nil, err
	}
	if g.Code != 220 {
		c.close("")
		return nil, &ClosingError{Exchange: g}
	}
	if err := c.sayHello(ctx); err != nil {
		return nil, err
	}
	if a.cfg.StartTLS {
		ex, err := c.cmd(ctx, "STARTTLS")
		if err != nil {
			return nil, err
		}
		if ex.Code != 220 {
			c.close("")
			return nil, fmt.Errorf("STARTTLS refused: %s", ex)
		}
		insp, err := dc.StartTLS(ctx)
		if err != nil {
			c.close("")
			return nil, err
		}
		info := transcripts.TLSInfo{}
		if insp != nil {
			info.Version, info.CipherSuite = insp.Version, insp.CipherSuite
		}
		c.event(transcripts.Event{Kind: transcripts.TLS, Time: time.Now(), TLS: &info})
		c.rr.Reset(dc.Reader())
		if err := c.sayHello(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *conn) sayHello(ctx context.Context) error {
	ex, err := c.cmd(ctx, "EHLO "+c.a.cfg.EHLOName)
	if err != nil {
		return err
	}
	if ex.Code == 250 {
		c.hello, c.esmtp = ex, true
		r := &smtp.Reply{Code: 250}
		for _, l := range ex.Reply {
			if len(l) > 4 {
				r.Lines = append(r.Lines, l[4:])
			} else {
				r.Lines = append(r.Lines, "")
			}
		}
		c.caps, _ = smtp.ParseEHLO(r)
		return nil
	}
	ex, err = c.cmd(ctx, "HELO "+c.a.cfg.EHLOName)
	if err != nil {
		return err
	}
	if ex.Code != 250 {
		c.close("")
		return fmt.Errorf("the server refused both EHLO and HELO: %s", ex)
	}
	c.hello = ex
	return nil
}

// serverName is the name the server gives itself: the first word of its
// EHLO/HELO reply (RFC 5321 §4.1.1.1), else of its greeting.
func (c *conn) serverName() string {
	for _, ex := range []Exchange{c.hello, c.greeting} {
		if len(ex.Reply) > 0 && len(ex.Reply[0]) > 4 {
			f := strings.Fields(ex.Reply[0][4:])
			// A server that starts its text with an enhanced code
			// ("250 2.0.0 Ok") gives no name there (RFC 3463 §2).
			if len(f) > 0 {
				if _, err := smtp.ParseEnhancedCode(f[0]); err == nil {
					continue
				}
			}
			if len(f) > 0 && strings.Contains(f[0], ".") {
				return strings.Trim(f[0], "[]<>")
			}
		}
	}
	return ""
}

// pace waits until the next command may go, by Config.Rate and any
// tarpit back-off.
func (a *Auditor) pace(ctx context.Context) error {
	if a.interval > 0 && !a.last.IsZero() {
		if wait := a.interval - time.Since(a.last); wait > 0 {
			if err := a.sleep(ctx, wait); err != nil {
				return err
			}
		}
	}
	a.last = time.Now()
	return nil
}

// cmd sends one command line and reads its reply. A 421 closes the
// connection and returns a *ClosingError; a lost connection a *ConnError.
func (c *conn) cmd(ctx context.Context, line string) (Exchange, error) {
	if c.closed {
		return Exchange{Command: line}, &ConnError{Command: line, Err: errors.New("connection already closed")}
	}
	if err := c.a.pace(ctx); err != nil {
		return Exchange{Command: line}, err
	}
	c.a.print(render.ClientLine("C: ", line))
	c.event(transcripts.Event{Kind: transcripts.Client, Time: time.Now(), Text: line})
	if err := c.write([]byte(line + "\r\n")); err != nil {
		c.close("")
		return Exchange{Command: line}, &ConnError{Command: line, Err: err}
	}
	return c.read(ctx, line)
}

func (c *conn) write(b []byte) error {
	c.c.SetWriteDeadline(time.Now().Add(c.a.cfg.Timeout))
	_, err := c.c.Write(b)
	return err
}

// read reads one reply, answering command.
func (c *conn) read(ctx context.Context, command string) (Exchange, error) {
	ex := Exchange{Command: command}
	deadline := time.Now().Add(c.a.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.c.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	start := time.Now()
	r, err := c.rr.ReadReply()
	ex.Elapsed = time.Since(start)
	if r != nil {
		ex.Code = r.Code
		ex.Reply = r.Raw()
		for _, l := range ex.Reply {
			c.a.print(render.ServerLine(c.a.cfg.Terminal, r.Code, "S: ", l))
			c.event(transcripts.Event{Kind: transcripts.Server, Time: time.Now(), Text: l})
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		var ne net.Error
		switch {
		case errors.Is(err, io.EOF):
			err = errors.New("the server closed the connection")
		case errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded):
			err = fmt.Errorf("no reply within %v", c.a.cfg.Timeout)
		}
		c.close(err.Error())
		if ctx.Err() != nil {
			return ex, ctx.Err()
		}
		return ex, &ConnError{Command: command, Err: err}
	}
	if ex.Elapsed >= c.a.cfg.Tarpit {
		c.a.tarpit(c, ex)
	}
	if r.Code == 421 {
		// RFC 5321 §3.8: 421 closes the channel; do not talk on.
		c.close("421")
		return ex, &ClosingError{Exchange: ex}
	}
	return ex, nil
}

// tarpit records a slow reply and halves the command rate.
func (a *Auditor) tarpit(c *conn, ex Exchange) {
	s := fmt.Sprintf("tarpit: the reply to %s took %.1fs; slowing down", ex.Command, ex.Elapsed.Seconds())
	if ex.Command == "" {
		s = fmt.Sprintf("tarpit: the greeting took %.1fs; slowing down", ex.Elapsed.Seconds())
	}
	if len(a.tarpits) < 32 {
		a.tarpits = append(a.tarpits, s)
	}
	c.warn("%s", s)
	a.interval = min(max(2*a.interval, ex.Elapsed), maxBackoff)
}

// writeData sends raw bytes (message text), recorded as one Data event.
func (c *conn) writeData(b []byte) error {
	c.a.print(render.ClientLine("C: ", string(b)))
	c.event(transcripts.Event{Kind: transcripts.Data, Time: time.Now(), Text: string(b)})
	if err := c.write(b); err != nil {
		c.close("")
		return &ConnError{Command: "(message text)", Err: err}
	}
	return nil
}

// quit says QUIT (without waiting long) and closes.
func (c *conn) quit(ctx context.Context) {
	if c == nil || c.closed {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, _ = c.cmd(ctx, "QUIT")
	c.close("QUIT")
}

func (c *conn) close(reason string) {
	if c.closed {
		return
	}
	c.closed = true
	c.c.Close()
	c.event(transcripts.Event{Kind: transcripts.Close, Time: time.Now(), Side: transcripts.SideClient, Text: reason})
}

// reconnect waits the back-off (doubling each time, RFC 5321 §4.5.4.1 asks
// clients to wait before retrying) and opens a new connection.
func (a *Auditor) reconnect(ctx context.Context, tries *int, why error) (*conn, error) {
	if *tries >= a.cfg.MaxReconnects {
		return nil, fmt.Errorf("gave up after %d reconnection(s): %v", *tries, why)
	}
	*tries++
	a.print(render.Warning(a.cfg.Terminal, fmt.Sprintf("! %v; reconnecting in %v", why, a.backoff)))
	if err := a.sleep(ctx, a.backoff); err != nil {
		return nil, err
	}
	a.backoff = min(2*a.backoff, maxBackoff)
	return a.open(ctx)
}
