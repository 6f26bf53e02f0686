package lab

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// Buffer sizes and line bounds.
const (
	ioBufferSize = 4096
	// maxAuthLine is the longest AUTH command or SASL response line with
	// its CRLF (RFC 4954 §4: 12288 octets).
	maxAuthLine = 12288
	// maxTranscriptEvents bounds a session's in-memory transcript; a
	// client sending NOOP for minutes cannot make it grow further.
	maxTranscriptEvents = 100000
	// maxTranscriptDataLines bounds the data lines kept per message.
	maxTranscriptDataLines = 2000
)

// errShutdown ends a session waiting for a command when the server shuts down.
var errShutdown = errors.New("lab: server shutting down")

// session is one SMTP connection.
type session struct {
	srv *Server
	p   *Profile

	raw     net.Conn // the TCP connection
	conn    net.Conn // raw, or the TLS connection over it
	br      *bufio.Reader
	bw      *bufio.Writer
	timeout time.Duration // current per-read timeout
	idle    atomic.Bool   // waiting for a command line
	closed  atomic.Bool

	implicitTLS bool
	full        bool // over limits.sessions: 421 and close
	id          string
	remote      string // address:port
	remoteIP    string
	started     time.Time

	tls      bool
	helo     string // HELO/EHLO argument; "" before
	esmtp    bool   // greeted with EHLO
	authUser string
	tx       *transaction
	errors   int
	quit     bool

	tr      *transcripts.Transcript // nil without Config.LogDir
	scratch bytes.Buffer
}

// transaction is one mail transaction, from MAIL to the end of DATA/BDAT
// (RFC 5321 §3.3).
type transaction struct {
	from      string            // reverse-path mailbox, "" for <>
	params    map[string]string // MAIL parameters and per-recipient DSN ones
	smtputf8  bool
	rcpts     []string // accepted recipients, as mailbox text
	mailboxes []string // local mailboxes, deduplicated
	relayed   bool
	bdat      bool   // a BDAT was accepted: DATA is now a 503 (RFC 3030 §3)
	body      []byte // BDAT chunks so far
	oversize  bool   // BDAT chunks went past the size limit
}

func newSession(srv *Server, conn net.Conn, implicitTLS bool) *session {
	s := &session{
		srv:         srv,
		p:           srv.profile,
		raw:         conn,
		conn:        conn,
		implicitTLS: implicitTLS,
		id:          srv.nextID(),
		remote:      conn.RemoteAddr().String(),
		started:     srv.now(),
		timeout:     srv.profile.Limits.CommandTimeout,
	}
	s.remoteIP = s.remote
	if host, _, err := net.SplitHostPort(s.remote); err == nil {
		s.remoteIP = host
	}
	s.br = bufio.NewReaderSize(connReader{s}, ioBufferSize)
	s.bw = bufio.NewWriterSize(connWriter{s}, ioBufferSize)
	if srv.cfg.LogDir != "" {
		s.tr = &transcripts.Transcript{
			Server:  conn.LocalAddr().String(),
			Client:  s.remote,
			Started: s.started,
			Source:  "lab:" + srv.profile.Name,
			Meta:    map[string]string{"session": s.id},
		}
	}
	return s
}

// connReader reads from the session's current connection. It flushes
// pending replies before every read that would block, so a pipelined batch
// of commands (RFC 2920 §3.1) is answered with one write and a client is
// never left waiting for replies we hold. Each read gets the current
// timeout (RFC 5321 §4.5.3.2: the server times out per command).
type connReader struct{ s *session }

func (r connReader) Read(p []byte) (int, error) {
	s := r.s
	if s.bw.Buffered() > 0 {
		if err := s.bw.Flush(); err != nil {
			return 0, err
		}
	}
	s.conn.SetReadDeadline(time.Now().Add(s.timeout))
	// Shutdown sets closing, then wakes idle sessions by moving their
	// deadline; checking after setting ours means one of the two sees
	// the other.
	if s.idle.Load() && s.srv.closing.Load() {
		return 0, errShutdown
	}
	return s.conn.Read(p)
}

// connWriter writes to the session's current connection with a deadline,
// so a client that stops reading cannot hold the session forever.
type connWriter struct{ s *session }

func (w connWriter) Write(p []byte) (int, error) {
	w.s.conn.SetWriteDeadline(time.Now().Add(w.s.p.Limits.CommandTimeout))
	return w.s.conn.Write(p)
}

// wakeIfIdle makes a session blocked waiting for a command return at once,
// for Shutdown. It is called with the server's lock held.
func (s *session) wakeIfIdle() {
	if s.idle.Load() {
		s.raw.SetReadDeadline(time.Now())
	}
}

func (s *session) closeConn() {
	if !s.closed.Swap(true) {
		s.raw.Close()
	}
}

// run is the session's goroutine.
func (s *session) run() {
	defer s.srv.endSession(s)
	defer s.finish()
	s.note("connection from %s to %s (profile %s)", s.remote, s.raw.LocalAddr(), s.p.Name)
	if s.implicitTLS && !s.handshake() {
		return
	}
	if s.full {
		s.reply(421, ec(4, 3, 2), s.p.Hostname+" Error: too many connections")
		s.closeBy(transcripts.SideServer, "too many sessions")
		return
	}
	// RFC 5321 §4.2 and RFC 2034 §3: no enhanced code on the greeting.
	s.replyPlain(s.p.SMTP.GreetingCode, s.p.SMTP.Banner)
	for !s.quit {
		line, tooLong, err := s.readCommand()
		if err != nil {
			s.readError(err)
			return
		}
		if tooLong {
			s.addClient(line + "…")
			// RFC 5321 §4.5.3.1.4 and §4.2.4: 500 "Line too long".
			s.reply(500, ec(5, 5, 2), "Error: line too long")
			continue
		}
		s.addClient(line)
		s.command(line)
	}
	s.flush()
}

// readCommand reads one command line, without its line ending. tooLong
// reports a line over every limit, of which only a prefix is returned.
func (s *session) readCommand() (line string, tooLong bool, err error) {
	s.timeout = s.p.Limits.CommandTimeout
	s.idle.Store(true)
	defer s.idle.Store(false)
	if s.srv.closing.Load() {
		return "", false, errShutdown
	}
	limit := max(maxAuthLine, s.p.Limits.CommandLine+lineAllowance)
	return s.readLine(limit)
}

// lineAllowance is what the extensions may add to a MAIL or RCPT line:
// RFC 1870 §3 (SIZE, 26), RFC 4954 §5 (AUTH=, 500), RFC 3461 §4 (ENVID up
// to 100, ORCPT up to 500), RFC 6152 and RFC 6531 (BODY=, SMTPUTF8).
const lineAllowance = 26 + 500 + 100 + 500 + 64

// readLine reads up to LF. A line longer than limit (with its line ending)
// is read to its end and dropped, returning its first 64 bytes and tooLong.
// A bare LF ends a line too, as in Postfix; the transcript notes it.
func (s *session) readLine(limit int) (string, bool, error) {
	var buf []byte
	tooLong := false
	for {
		frag, err := s.br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(frag) > limit {
				tooLong = true
				buf = append(buf, frag[:min(len(frag), max(0, 64-len(buf)))]...)
				buf = buf[:min(len(buf), 64)]
			} else {
				buf = append(buf, frag...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if len(buf) > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", false, err
		}
		break
	}
	if tooLong {
		return strings.ToValidUTF8(string(buf), "?"), true, nil
	}
	n := len(buf) - 1
	if n > 0 && buf[n-1] == '\r' {
		n--
	} else {
		s.note("the line ends in a bare LF, not CRLF (RFC 5321 §2.3.8); accepted, as Postfix does")
	}
	return string(buf[:n]), false, nil
}

// readError ends the session after a failed read.
func (s *session) readError(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, errShutdown) || s.srv.closing.Load() && errors.As(err, &ne) && ne.Timeout():
		// RFC 5321 §3.8: 421 when the service must shut down.
		s.reply(421, ec(4, 3, 2), s.p.Hostname+" Service shutting down, closing transmission channel")
		s.flush()
		s.closeBy(transcripts.SideServer, "server shutting down")
	case errors.As(err, &ne) && ne.Timeout():
		// Postfix's wording; RFC 5321 §4.5.3.2 recommends 5 minutes.
		s.reply(421, ec(4, 4, 2), s.p.Hostname+" Error: timeout exceeded")
		s.flush()
		s.closeBy(transcripts.SideServer, "timeout exceeded")
	case errors.Is(err, io.EOF):
		s.closeBy(transcripts.SideClient, "")
	case errors.Is(err, io.ErrUnexpectedEOF):
		s.closeBy(transcripts.SideClient, "in the middle of a line")
	default:
		s.closeBy(transcripts.SideUnknown, err.Error())
	}
}

// handshake runs the server side of a TLS handshake on raw, for implicit
// TLS and after STARTTLS, and switches the session to it.
func (s *session) handshake() bool {
	tc := tls.Server(s.raw, s.srv.cfg.TLS)
	s.raw.SetDeadline(time.Now().Add(s.p.Limits.CommandTimeout))
	if err := tc.Handshake(); err != nil {
		s.closeBy(transcripts.SideUnknown, "TLS handshake failed: "+err.Error())
		return false
	}
	s.raw.SetDeadline(time.Time{})
	s.conn = tc
	s.tls = true
	s.br.Reset(connReader{s})
	s.bw.Reset(connWriter{s})
	if s.tr != nil {
		st := tc.ConnectionState()
		info := transcripts.NewTLSInfo(&st)
		if info.CertSubject == "" {
			info.CertSubject = s.certSubject()
		}
		s.tr.AddTLS(s.srv.now(), info)
	}
	return true
}

// certSubject names the server's own certificate, which the server side
// of a connection state does not carry.
func (s *session) certSubject() string {
	cfg := s.srv.cfg.TLS
	if cfg == nil || len(cfg.Certificates) == 0 {
		return ""
	}
	c := cfg.Certificates[0]
	if c.Leaf != nil {
		return c.Leaf.Subject.String()
	}
	if len(c.Certificate) == 0 {
		return ""
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return ""
	}
	return leaf.Subject.String()
}

// ec builds an RFC 3463 enhanced status code.
func ec(class, subject, detail int) smtp.EnhancedCode {
	return smtp.EnhancedCode{Class: class, Subject: subject, Detail: detail}
}

// reply writes a reply (buffered; see connReader). An error reply counts
// toward limits.max_errors and, past limits.soft_errors, waits
// limits.error_delay first (Postfix's tarpit).
func (s *session) reply(code int, enhanced smtp.EnhancedCode, lines ...string) {
	counts := code >= 400 && code != 421
	if counts {
		s.errors++
		if d := s.p.Limits.ErrorDelay; d > 0 && s.errors >= s.p.Limits.SoftErrors {
			s.flush()
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-s.srv.done:
				t.Stop()
			}
		}
	}
	if !s.p.SMTP.EnhancedStatusCodes {
		enhanced = smtp.EnhancedCode{}
	}
	s.write(code, enhanced, lines)
	if counts && s.p.Limits.MaxErrors > 0 && s.errors >= s.p.Limits.MaxErrors {
		s.write(421, s.enhanced(ec(4, 7, 0)), []string{s.p.Hostname + " Error: too many errors"})
		s.flush()
		s.closeBy(transcripts.SideServer, "too many errors")
		s.quit = true
	}
}

// replyPlain writes a reply that never carries an enhanced code: the
// greeting and the HELO/EHLO replies (RFC 2034 §3).
func (s *session) replyPlain(code int, lines ...string) {
	s.write(code, smtp.EnhancedCode{}, lines)
}

func (s *session) enhanced(c smtp.EnhancedCode) smtp.EnhancedCode {
	if !s.p.SMTP.EnhancedStatusCodes {
		return smtp.EnhancedCode{}
	}
	return c
}

// write formats with smtp.WriteReply, recording the lines in the transcript.
func (s *session) write(code int, enhanced smtp.EnhancedCode, lines []string) {
	var w io.Writer = s.bw
	if s.tr != nil {
		s.scratch.Reset()
		w = &s.scratch
	}
	if err := smtp.WriteReply(w, code, enhanced, lines...); err != nil {
		// Only text echoed from the client can be refused; the parser
		// already rejects control characters, so this is a bug guard.
		s.note("reply refused by smtp.WriteReply: %v", err)
		s.scratch.Reset()
		smtp.WriteReply(w, code, enhanced, "Error: the reply text was not printable")
	}
	if s.tr != nil {
		b := s.scratch.Bytes()
		for len(b) > 0 {
			i := bytes.Index(b, []byte("\r\n"))
			if i < 0 {
				i = len(b)
			}
			s.addEvent(transcripts.Event{Kind: transcripts.Server, Time: s.srv.now(), Text: string(b[:i])})
			b = b[min(i+2, len(b)):]
		}
		s.bw.Write(s.scratch.Bytes())
	}
}

// flush sends pending replies.
func (s *session) flush() {
	if err := s.bw.Flush(); err != nil && !s.closed.Load() {
		s.note("writing to the client: %v", err)
	}
}

// addClient records a client line.
func (s *session) addClient(line string) {
	if s.tr != nil {
		s.addEvent(transcripts.Event{Kind: transcripts.Client, Time: s.srv.now(), Text: line})
	}
}

// note records a transcript note.
func (s *session) note(format string, args ...any) {
	if s.tr != nil {
		s.addEvent(transcripts.Event{Kind: transcripts.Note, Time: s.srv.now(), Text: sprintf(format, args...)})
	}
}

func (s *session) addEvent(e transcripts.Event) {
	switch n := len(s.tr.Events); {
	case n < maxTranscriptEvents:
		if len(e.Text) > transcripts.MaxTextBytes {
			e.Text = e.Text[:transcripts.MaxTextBytes-16] + "…(truncated)"
		}
		s.tr.Events = append(s.tr.Events, e)
	case n == maxTranscriptEvents:
		s.tr.Events = append(s.tr.Events, transcripts.Event{Kind: transcripts.Note, Time: e.Time,
			Text: "transcript truncated after " + strconv.Itoa(maxTranscriptEvents) + " events"})
	}
}

// closeBy records who closed the connection and closes it.
func (s *session) closeBy(side transcripts.Side, reason string) {
	if s.tr != nil && !s.closed.Load() {
		s.tr.AddClose(s.srv.now(), side, reason)
	}
	s.quit = true
	if tc, ok := s.conn.(*tls.Conn); ok && !s.closed.Load() {
		// End TLS with close_notify (RFC 8446 §6.1) before closing:
		// without it OpenSSL 3 clients report "unexpected eof while
		// reading" after a clean QUIT.
		tc.SetWriteDeadline(time.Now().Add(time.Second))
		tc.CloseWrite()
	}
	s.closeConn()
}

// finish closes the connection and writes the session log.
func (s *session) finish() {
	if !s.closed.Load() {
		s.flush()
		s.closeBy(transcripts.SideServer, "")
	}
	if s.tr != nil {
		s.writeLog()
	}
}
