package lab

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// usage is the "Syntax:" text of a 501 reply, Postfix's wording where it
// has one.
func usage(v smtp.Verb) string {
	switch v {
	case smtp.HELO, smtp.EHLO:
		return string(v) + " hostname"
	case smtp.MAIL:
		return "MAIL FROM:<address>"
	case smtp.RCPT:
		return "RCPT TO:<address>"
	case smtp.VRFY, smtp.EXPN:
		return string(v) + " address"
	case smtp.AUTH:
		return "AUTH mechanism [initial-response]"
	case smtp.BDAT:
		return "BDAT count [LAST]"
	case smtp.ETRN:
		return "ETRN domain"
	}
	return string(v)
}

// command parses and runs one command line.
func (s *session) command(line string) {
	verb, _ := smtp.SplitVerb(line)
	if line == "" {
		s.reply(500, ec(5, 5, 2), "Error: bad syntax")
		return
	}
	if c := line[0]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == ' ') || isForbidden(line) {
		// Postfix's smtpd_forbidden_commands (CONNECT GET POST and
		// lines that do not start with a letter): an HTTP client or a
		// TLS hello is not an SMTP client; hang up.
		s.reply(221, ec(2, 7, 0), "Error: I can break rules, too. Goodbye.")
		s.flush()
		s.closeBy(transcripts.SideServer, "not an SMTP command")
		return
	}
	if s.p.SMTP.GreetingCode == 554 && verb != smtp.QUIT {
		// RFC 5321 §3.1: after a 554 greeting the server answers 503
		// to everything but QUIT.
		s.reply(503, ec(5, 5, 1), "Error: no SMTP service here")
		return
	}
	limit := s.p.Limits.CommandLine
	switch verb {
	case smtp.AUTH:
		limit = max(limit, maxAuthLine)
	case smtp.MAIL, smtp.RCPT:
		limit += s.allowance()
	}
	opt := smtp.ParseOptions{Strict: s.p.SMTP.Strict, SMTPUTF8: s.tx != nil && s.tx.smtputf8, MaxLineLength: limit}
	cmd, err := opt.ParseCommand(line)
	if err != nil {
		s.syntaxError(verb, err)
		return
	}
	for _, w := range cmd.Warnings {
		s.note("tolerated: %s", w)
	}
	switch cmd.Verb {
	case smtp.HELO, smtp.EHLO:
		s.hello(cmd)
	case smtp.MAIL:
		s.mail(cmd)
	case smtp.RCPT:
		s.rcpt(cmd)
	case smtp.DATA:
		s.data()
	case smtp.BDAT:
		s.bdat(cmd)
	case smtp.RSET:
		s.tx = nil
		s.reply(250, ec(2, 0, 0), "Ok")
	case smtp.NOOP:
		s.reply(250, ec(2, 0, 0), "Ok")
	case smtp.QUIT:
		s.reply(221, ec(2, 0, 0), "Bye")
		s.flush()
		s.closeBy(transcripts.SideServer, "QUIT")
	case smtp.VRFY:
		s.vrfy(cmd)
	case smtp.EXPN:
		s.expn(cmd)
	case smtp.HELP:
		s.help()
	case smtp.STARTTLS:
		s.starttls()
	case smtp.AUTH:
		s.auth(cmd)
	case smtp.ETRN:
		s.etrn(cmd)
	default:
		// Known verbs the lab does not implement: LHLO (LMTP), ATRN,
		// XCLIENT, XFORWARD and RFC 821's SEND, SOML, SAML, TURN.
		// RFC 5321 §4.2.4: 502 for a recognised command not implemented.
		s.reply(502, ec(5, 5, 1), "Error: command not implemented")
	}
}

func isForbidden(line string) bool {
	v, _, _ := strings.Cut(line, " ")
	return strings.EqualFold(v, "CONNECT") || strings.EqualFold(v, "GET") || strings.EqualFold(v, "POST")
}

// allowance is what the advertised extensions add to MAIL and RCPT lines.
func (s *session) allowance() int {
	if !s.esmtp {
		return 0
	}
	return lineAllowance
}

// syntaxError answers a command the parser refused.
func (s *session) syntaxError(verb smtp.Verb, err error) {
	var (
		tooLong *smtp.CommandTooLongError
		unknown *smtp.UnknownVerbError
		se      *smtp.SyntaxError
	)
	switch {
	case errors.As(err, &tooLong):
		// RFC 5321 §4.5.3.1.4: 500 "Line too long". Postfix reads up to
		// 2048 octets and would accept the line; the lab keeps the RFC's
		// 512 (limits.command_line).
		s.note("%v", err)
		s.reply(500, ec(5, 5, 2), "Error: line too long")
	case errors.As(err, &unknown), verb == smtp.EHLO && !s.p.SMTP.EHLO:
		s.reply(500, ec(5, 5, 2), "Error: command not recognized")
	case errors.As(err, &se):
		// Postfix writes only the usage; the lab adds where the line
		// went wrong, because it is a place to learn.
		msg := replyText(se.Msg)
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		detail := msg
		if se.Column > 0 {
			detail = "column " + strconv.Itoa(se.Column) + ": " + msg
		}
		s.note("%v", err)
		s.reply(501, ec(5, 5, 4), "Syntax: "+usage(verb)+" ("+detail+")")
	default:
		s.reply(501, ec(5, 5, 4), "Syntax: "+usage(verb))
	}
}

// hello answers HELO and EHLO (RFC 5321 §4.1.1.1). Either one resets the
// transaction (RFC 5321 §4.1.4).
func (s *session) hello(cmd *smtp.Command) {
	if cmd.Verb == smtp.EHLO && !s.p.SMTP.EHLO {
		s.reply(500, ec(5, 5, 2), "Error: command not recognized")
		return
	}
	s.tx = nil
	s.helo = cmd.Domain
	if !cmd.Literal.IsZero() {
		s.helo = cmd.Literal.String()
	}
	s.esmtp = cmd.Verb == smtp.EHLO
	if !s.esmtp {
		s.replyPlain(250, s.p.Hostname)
		return
	}
	s.replyPlain(250, s.ehloLines()...)
}

// ehloLines is the EHLO reply: the hostname, then the keywords the profile
// advertises that apply now (RFC 5321 §4.1.1.1).
func (s *session) ehloLines() []string {
	lines := []string{s.p.Hostname}
	for _, e := range s.p.SMTP.Extensions {
		switch e {
		case "SIZE":
			if n := s.p.Limits.MessageSize; n > 0 {
				e += " " + strconv.FormatInt(n, 10)
			}
		case "STARTTLS":
			if !s.starttlsOffered() {
				continue
			}
		case "AUTH":
			if !s.authOffered() {
				continue
			}
			e += " " + strings.Join(s.p.Auth.Mechanisms, " ")
		}
		lines = append(lines, e)
	}
	return lines
}

func (s *session) starttlsOffered() bool {
	return s.srv.cfg.TLS != nil && !s.tls && s.p.hasExtension("STARTTLS")
}

// authOffered reports whether AUTH is advertised at this point.
func (s *session) authOffered() bool {
	return len(s.p.Auth.Mechanisms) > 0 && s.p.hasExtension("AUTH") && s.authUser == "" &&
		(s.tls || !s.p.Auth.TLSOnly && !s.p.TLS.Required)
}

// needHELO answers 503 when the profile requires HELO/EHLO first.
func (s *session) needHELO() bool {
	if s.helo == "" && s.p.SMTP.HELORequired {
		s.reply(503, ec(5, 5, 1), "Error: send HELO/EHLO first")
		return true
	}
	return false
}

// mail answers MAIL (RFC 5321 §4.1.1.2).
func (s *session) mail(cmd *smtp.Command) {
	switch {
	case s.needHELO():
		return
	case s.tx != nil:
		s.reply(503, ec(5, 5, 1), "Error: nested MAIL command")
		return
	case s.p.TLS.Required && !s.tls:
		s.reply(530, ec(5, 7, 0), "Must issue a STARTTLS command first")
		return
	case s.p.Auth.Required && s.authUser == "":
		// RFC 4954 §6.
		s.reply(530, ec(5, 7, 0), "Authentication required")
		return
	}
	tx := &transaction{params: map[string]string{}}
	for _, prm := range cmd.Params {
		if !s.paramAllowed(prm) {
			s.reply(555, ec(5, 5, 4), "Unsupported option: "+prm.String())
			return
		}
		tx.params[prm.Keyword] = prm.Value
	}
	if size, ok := cmd.Params.Size(); ok && s.p.Limits.MessageSize > 0 && size > uint64(s.p.Limits.MessageSize) {
		// RFC 1870 §6.1.
		s.reply(552, ec(5, 3, 4), "Message size exceeds fixed limit")
		return
	}
	if n := s.p.Limits.MessagesPerMinute; n > 0 && !s.srv.rates.allow(s.srv.now(), s.remoteIP, n) {
		s.reply(450, ec(4, 7, 1), "Error: too much mail from "+s.remoteIP)
		return
	}
	tx.smtputf8 = cmd.Params.SMTPUTF8()
	if !cmd.Path.IsNull() {
		tx.from = cmd.Path.Mailbox.String()
	}
	s.tx = tx
	s.reply(250, ec(2, 1, 0), "Ok")
}

// paramAllowed reports whether a MAIL or RCPT parameter belongs to an
// extension advertised (RFC 5321 §4.1.1.11: 555 otherwise).
func (s *session) paramAllowed(prm smtp.Param) bool {
	if !prm.Known() || !s.esmtp {
		return false
	}
	switch prm.Keyword {
	case "SIZE":
		return s.p.hasExtension("SIZE")
	case "BODY":
		switch strings.ToUpper(prm.Value) {
		case "7BIT":
			return true
		case "8BITMIME":
			return s.p.hasExtension("8BITMIME")
		case "BINARYMIME": // RFC 3030 §3: needs CHUNKING too
			return s.p.hasExtension("BINARYMIME") && s.p.hasExtension("CHUNKING")
		}
		return false
	case "SMTPUTF8":
		return s.p.hasExtension("SMTPUTF8")
	case "RET", "ENVID", "NOTIFY", "ORCPT":
		return s.p.hasExtension("DSN")
	case "AUTH":
		return s.p.hasExtension("AUTH") && len(s.p.Auth.Mechanisms) > 0
	}
	return false
}

// rcpt answers RCPT (RFC 5321 §4.1.1.3) with the profile's relay policy.
func (s *session) rcpt(cmd *smtp.Command) {
	if s.tx == nil {
		s.reply(503, ec(5, 5, 1), "Error: need MAIL command")
		return
	}
	tx := s.tx
	if tx.bdat {
		s.reply(503, ec(5, 5, 1), "Error: RCPT after BDAT")
		return
	}
	for _, prm := range cmd.Params {
		if !s.paramAllowed(prm) {
			s.reply(555, ec(5, 5, 4), "Unsupported option: "+prm.String())
			return
		}
	}
	if len(tx.rcpts) >= s.p.Limits.Recipients {
		s.reply(452, ec(4, 5, 3), "Error: too many recipients")
		return
	}
	mb := cmd.Path.Mailbox
	addr := mb.String()
	r := s.p.lookup(mb)
	relayed := false
	switch {
	case r.local && r.known:
	case r.local && s.p.Policy.UnknownRecipients == UnknownAccept:
		r.mailboxes = s.p.postmasterMailboxes()
	case r.local:
		s.reply(550, ec(5, 1, 1), "<"+addr+">: Recipient address rejected: User unknown in local recipient table")
		return
	case s.p.Policy.Relay == RelayOpen, s.p.Policy.Relay == RelayAuthenticated && s.authUser != "":
		relayed = true
	default:
		s.reply(554, ec(5, 7, 1), "<"+addr+">: Relay access denied")
		return
	}
	if s.p.Greylist.Enabled {
		if ok, wait := s.srv.greylist.check(s.srv.now(), s.p.Greylist.Delay, s.remoteIP, tx.from, addr); !ok {
			secs := int((wait + 999999999) / 1000000000)
			s.reply(450, ec(4, 7, 1), "<"+addr+">: Recipient address rejected: Greylisted, try again in "+strconv.Itoa(secs)+" seconds")
			return
		}
	}
	for _, prm := range cmd.Params {
		tx.params[prm.Keyword+" "+addr] = prm.Value
	}
	tx.rcpts = append(tx.rcpts, addr)
	tx.relayed = tx.relayed || relayed
	for _, m := range r.mailboxes {
		if !slices.Contains(tx.mailboxes, m) {
			tx.mailboxes = append(tx.mailboxes, m)
		}
	}
	s.reply(250, ec(2, 1, 5), "Ok")
}

// vrfy answers VRFY (RFC 5321 §3.5.1, §4.1.1.6) as the profile says.
func (s *session) vrfy(cmd *smtp.Command) { s.verify(cmd, smtp.VRFY, s.p.Policy.VRFY) }

// expn answers EXPN (RFC 5321 §3.5.2, §4.1.1.7).
func (s *session) expn(cmd *smtp.Command) { s.verify(cmd, smtp.EXPN, s.p.Policy.EXPN) }

// verify answers VRFY or EXPN under the profile's answer policy. The two
// differ only for a list: VRFY refuses it, EXPN lists its members.
func (s *session) verify(cmd *smtp.Command, verb smtp.Verb, answer string) {
	if answer == AnswerDisabled {
		// Postfix's disable_vrfy_command = yes.
		s.reply(502, ec(5, 5, 1), string(verb)+" command is disabled")
		return
	}
	if s.needHELO() {
		return
	}
	if answer == AnswerCannotVerify {
		// RFC 5321 §3.5.3: 252 "Cannot VRFY user, but will accept
		// message"; Postfix echoes the argument.
		s.reply(252, ec(2, 0, 0), cmd.Text)
		return
	}
	r, addr := s.verifyTarget(cmd)
	switch {
	case !r.local:
		s.reply(252, ec(2, 0, 0), addr)
	case !r.known:
		s.reply(550, ec(5, 1, 1), "<"+addr+">: Recipient address rejected: User unknown in local recipient table")
	case r.isList && verb == smtp.VRFY:
		// RFC 5321 §3.5.2's example: a list is not a user.
		s.reply(550, ec(5, 1, 1), "<"+addr+">: That is a mailing list, not a user; try EXPN")
	default:
		lines := make([]string, len(r.mailboxes))
		for i, m := range r.mailboxes {
			lines[i] = "<" + m + "@" + s.p.Domain + ">"
		}
		s.reply(250, ec(2, 0, 0), lines...)
	}
}

// verifyTarget resolves a VRFY/EXPN argument: a mailbox, or a bare name
// taken as a local part (RFC 5321 §3.5.1 lets servers accept either).
func (s *session) verifyTarget(cmd *smtp.Command) (recipient, string) {
	if cmd.Mailbox != nil {
		return s.p.lookup(*cmd.Mailbox), cmd.Mailbox.String()
	}
	name := strings.Trim(cmd.Text, "<>")
	r := s.p.lookupName(name)
	return r, strings.ToLower(name) + "@" + s.p.Domain
}

// help answers HELP (RFC 5321 §4.1.1.8). Postfix does not implement it;
// the lab does, for students.
func (s *session) help() {
	s.reply(214, ec(2, 0, 0), "Commands: "+strings.Join(s.helpCommands(), " "),
		"smtpsh lab, profile "+s.p.Name+": "+s.p.Description)
}

// helpCommands lists the commands this session can use now, so HELP does
// not advertise what the profile has switched off (nmap's smtp-commands
// reports HELP's list).
func (s *session) helpCommands() []string {
	cmds := []string{"HELO"}
	if s.p.SMTP.EHLO {
		cmds = append(cmds, "EHLO")
	}
	cmds = append(cmds, "MAIL", "RCPT", "DATA")
	if s.p.SMTP.EHLO && s.p.hasExtension("CHUNKING") {
		cmds = append(cmds, "BDAT")
	}
	cmds = append(cmds, "RSET", "NOOP", "QUIT")
	if s.p.Policy.VRFY != AnswerDisabled {
		cmds = append(cmds, "VRFY")
	}
	if s.p.Policy.EXPN != AnswerDisabled {
		cmds = append(cmds, "EXPN")
	}
	cmds = append(cmds, "HELP")
	if s.p.SMTP.EHLO && s.starttlsOffered() {
		cmds = append(cmds, "STARTTLS")
	}
	if s.p.SMTP.EHLO && len(s.p.Auth.Mechanisms) > 0 && s.p.hasExtension("AUTH") {
		cmds = append(cmds, "AUTH")
	}
	if s.p.hasExtension("ETRN") {
		cmds = append(cmds, "ETRN")
	}
	return cmds
}

// etrn answers ETRN (RFC 1985 §5). The lab has no queue to run.
func (s *session) etrn(cmd *smtp.Command) {
	switch {
	case !s.p.hasExtension("ETRN"):
		s.reply(502, ec(5, 5, 1), "Error: command not implemented")
		return
	case s.needHELO():
		return
	case s.tx != nil:
		s.reply(503, ec(5, 5, 1), "Error: MAIL transaction in progress")
		return
	}
	node := cmd.Domain
	if cmd.Queue != "" {
		node = "#" + cmd.Queue
	}
	switch s.p.SMTP.ETRNCode {
	case 458:
		s.reply(458, ec(4, 3, 0), "Unable to queue messages for node <"+node+">")
	case 459:
		s.reply(459, ec(4, 3, 0), "<"+node+">: service unavailable")
	default:
		s.reply(250, ec(2, 0, 0), "Queuing started")
	}
}

// starttls answers STARTTLS (RFC 3207 §4) and upgrades the connection.
func (s *session) starttls() {
	switch {
	case s.tls:
		s.reply(554, ec(5, 5, 1), "Error: TLS already active")
		return
	case !s.starttlsOffered():
		s.reply(502, ec(5, 5, 1), "Error: command not implemented")
		return
	case s.tx != nil:
		s.reply(503, ec(5, 5, 1), "Error: MAIL transaction in progress")
		return
	}
	s.reply(220, ec(2, 0, 0), "Ready to start TLS")
	s.flush()
	if n := s.br.Buffered(); n > 0 {
		// CVE-2011-0411: plaintext pipelined after STARTTLS must not
		// be read as if it came over TLS (RFC 3207 §4.2 leaves it
		// unsaid; Postfix fixed this in 2011).
		s.note("discarded %d bytes of plaintext the client pipelined after STARTTLS (CVE-2011-0411)", n)
	}
	if !s.handshake() {
		return
	}
	// RFC 3207 §4.2: forget everything learnt before TLS, AUTH included;
	// the client must send EHLO again.
	s.helo, s.esmtp, s.authUser, s.tx = "", false, "", nil
}

// replyText makes text fit a reply line: RFC 5321 §4.2 allows only
// printable US-ASCII and HT in reply text, so the parser's "§" becomes
// "section" and any other byte outside that range "?".
func replyText(text string) string {
	text = strings.ReplaceAll(text, "§", "section ")
	text = strings.ReplaceAll(text, "section  ", "section ")
	b := []byte(text)
	out := b[:0]
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		i += n
		switch {
		case r == '\t' || r >= 0x20 && r < 0x7f:
			out = append(out, byte(r))
		default:
			out = append(out, '?')
		}
	}
	return string(out)
}
