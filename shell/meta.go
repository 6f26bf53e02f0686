package shell

import (
	"fmt"
	"os"
	"strings"

	"github.com/smtpsh/smtpsh/internal/dial"
	"github.com/smtpsh/smtpsh/internal/explain"
	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// MetaCommand is one of the shell's own commands. They start with ":",
// which can never begin an SMTP command (DESIGN.md), so nothing the user
// means for the server is taken for one.
type MetaCommand struct {
	Name  string // with the ":"
	Args  string // argument synopsis for :help
	Usage string // one line
}

// MetaCommands lists the meta-commands, for :help and completion.
func MetaCommands() []MetaCommand {
	return []MetaCommand{
		{":help", "", "this list"},
		{":explain", "[CODE]", "the long explanation of the last reply, or of a code such as 550 or 5.7.1"},
		{":info", "", "the connection, phase and the server's capabilities"},
		{":auth", saslMechanisms + " USER", "authenticate (RFC 4954): asks the password (in a script, $" + PasswordEnv + "), shows each step decoded"},
		{":compose", "[--bdat]", "ask From, To, Subject and the body, and send the message (MAIL, RCPT, DATA)"},
		{":send", "[--bdat] FILE", "send a message file in the current transaction, with DATA or, with --bdat, BDAT"},
		{":save", "FILE", "write the transcript so far to FILE (secrets redacted)"},
		{":pipeline", "", "type several commands, then an empty line: sent in one write (RFC 2920), each reply shown with its command"},
		{":raw", "on|off", "show the bytes sent and received, CR LF visible, other control bytes in hex"},
		{":fingerprint", "[--yes]", "guess the server software from its banner, EHLO, HELP and error wording, with the evidence"},
		{":enum", "[--method vrfy|expn|rcpt|auto] [--domain D] [USER...]", "which users exist (VRFY, EXPN or RCPT), a catch-all probe first, 252 counted as unknown"},
		{":relaytest", "[--send] [--domain D]", "nmap's 16 open-relay patterns, stopping at RCPT (--send only against the lab)"},
		{":smuggle", "[--i-own-this-server]", "which end-of-data forms (\\n.\\n, \\r.\\r, ...) the server takes: SMTP smuggling (lab only unless you own the server)"},
		{":xclient", "NAME=value ...", "Postfix XCLIENT: act for another client (ADDR= NAME= HELO= PROTO= LOGIN= ...), values xtext-encoded; EHLO again after its 220"},
		{":xforward", "NAME=value ...", "Postfix XFORWARD: tell the server the original client's details (ADDR= NAME= HELO= PROTO= IDENT= SOURCE=)"},
		{":reconnect", "", "QUIT this connection if it is open and connect again: a new session, the same transcript"},
		{":quit", "", "send QUIT and leave (Ctrl-D does the same)"},
	}
}

// meta runs a meta-command line. A non-nil error ends Run.
func (s *Session) meta(line string) error {
	name, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	if !s.in.Interactive() {
		s.print(render.ClientLine("", line))
	}
	if o := s.cfg.Observer; o != nil && o.Meta(strings.ToLower(name), arg, s.out) {
		return nil
	}
	switch strings.ToLower(name) {
	case ":help", ":h", ":?":
		s.help()
	case ":quit", ":q", ":exit":
		s.endOfInput()
	case ":explain":
		s.explainLong(arg)
	case ":info":
		s.info()
	case ":save":
		s.save(arg)
	case ":auth":
		s.auth(arg)
	case ":compose":
		s.compose(arg)
	case ":send":
		s.send(arg)
	case ":raw":
		s.setRaw(strings.ToLower(arg))
	case ":pipeline":
		s.startPipeline(arg)
	case ":reconnect":
		s.reconnect()
	case ":fingerprint", ":enum", ":relaytest", ":smuggle":
		s.auditCommand(strings.ToLower(name), arg)
	case ":xclient":
		s.xcommand(smtp.XCLIENT, arg)
	case ":xforward":
		s.xcommand(smtp.XFORWARD, arg)
	default:
		s.warn("unknown meta-command %s: :help lists them", render.Escape(name))
	}
	return nil
}

func (s *Session) help() {
	s.print("Type SMTP commands as you would over telnet: they are sent exactly as typed.")
	s.print("Tab completes verbs legal now, advertised extensions, parameters and addresses.")
	ms := MetaCommands()
	if o := s.cfg.Observer; o != nil {
		ms = append(ms, o.Commands()...)
	}
	for _, m := range ms {
		s.print(fmt.Sprintf("  %-22s %s", strings.TrimSpace(m.Name+" "+m.Args), m.Usage))
	}
}

// explainLong renders the long explanation of arg, or of the last reply,
// with glamour (the renderer is built once, never querying the terminal).
func (s *Session) explainLong(arg string) {
	q := arg
	if q == "" {
		if s.last == nil {
			s.warn(":explain needs a code (such as 550 or 5.7.1) until the server has replied")
			return
		}
		raw := s.last.Raw()
		q = raw[len(raw)-1]
	}
	a, err := s.kb.Query(q)
	if err != nil {
		s.warn("%s", render.Escape(err.Error()))
		return
	}
	if arg == "" && a.Code != nil {
		// In context: what the code means after the command it answered.
		if s.lastVerb != explain.Greeting {
			s.note("after %s:", s.lastVerb)
		}
	}
	if s.cfg.Renderer == nil {
		r, err := render.NewRenderer(s.cfg.Terminal)
		if err != nil {
			s.warn("%v", err)
			return
		}
		s.cfg.Renderer = r
	}
	if err := s.cfg.Renderer.Answer(s.out, a); err != nil {
		s.warn("%v", err)
	}
}

func (s *Session) info() {
	s.mu.Lock()
	st := s.st
	st.addrs = append([]string(nil), s.st.addrs...)
	s.mu.Unlock()
	s.print(fmt.Sprintf("server:    %s (%s)", render.Escape(s.cfg.Addr), render.Escape(s.cfg.Name)))
	if s.conn != nil {
		s.print(fmt.Sprintf("client:    %s", s.conn.LocalAddr()))
	}
	var insp *dial.Inspection
	if s.dc != nil {
		insp = s.dc.TLS()
	}
	switch {
	case insp != nil:
		s.print("tls:       yes")
		s.printInspection(insp)
	case st.tls:
		s.print("tls:       yes")
	default:
		s.print("tls:       no (plain TCP)")
	}
	if s.dc != nil {
		if p := s.dc.Path(); p.Proxy != nil {
			s.print("proxy:     " + render.Escape(p.Proxy.String()))
		}
	}
	s.print("auth:      " + yesNo(st.authed))
	s.print("phase:     " + st.phase.String())
	s.print(fmt.Sprintf("pending:   %d command(s) waiting for a reply", len(s.pending)))
	if !st.ehlo {
		s.print("capabilities: unknown (send EHLO)")
	} else {
		s.print("capabilities:")
		for _, c := range st.caps.List {
			s.print("  " + render.Escape(capString(c)))
		}
	}
	if len(st.addrs) > 0 {
		s.print("addresses: " + render.Escape(strings.Join(st.addrs, ", ")))
	}
}

// save writes the transcript so far, secrets redacted (DESIGN.md, Safety).
func (s *Session) save(path string) {
	if path == "" {
		s.warn(":save needs a file name")
		return
	}
	if err := WriteTranscript(path, s.tr); err != nil {
		s.warn("%v", err)
		return
	}
	s.note("transcript saved to %s (secrets redacted)", render.Escape(path))
}

// WriteTranscript writes t to path in the text format with times, secrets
// redacted: what --record and :save write.
func WriteTranscript(path string, t *transcripts.Transcript) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("transcript: %w", err)
	}
	if err := transcripts.Write(f, t, transcripts.WriteOptions{Times: true}); err != nil {
		f.Close()
		return fmt.Errorf("transcript %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("transcript %s: %w", path, err)
	}
	return nil
}

// metaNames returns the meta-command names, the observer's too, for
// completion.
func (s *Session) metaNames() []string {
	ms := MetaCommands()
	if o := s.cfg.Observer; o != nil {
		ms = append(ms, o.Commands()...)
	}
	n := make([]string, len(ms))
	for i, m := range ms {
		n[i] = m.Name
	}
	return n
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// reconnect ends this connection politely (QUIT, RFC 5321 §4.1.1.10) or,
// where QUIT would be message text or TLS garbage, by closing it; Run then
// connects again.
func (s *Session) reconnect() {
	s.reconnectDue = true
	switch {
	case s.closed:
	case s.quitSent:
		// The reply to QUIT and the close are on their way.
	case s.Phase() == PhaseData || s.Phase() == PhaseTLSHandshake || s.chunkPending() || s.saslPending():
		s.note("closing the connection (QUIT would not be read as a command now)")
		s.closeConn(transcripts.SideClient, "reconnect")
	default:
		s.sendCommand("QUIT", false)
	}
	s.note("connecting again to %s once this connection is closed", render.Escape(s.cfg.Addr))
}
