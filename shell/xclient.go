package shell

import (
	"strings"

	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
)

// :xclient and :xforward build Postfix's XCLIENT and XFORWARD commands
// (Postfix XCLIENT_README and XFORWARD_README): attribute names checked,
// values xtext-encoded (RFC 3461 §4), then sent as a typed command would
// be. After a 220 to XCLIENT the server starts over as the named client,
// so the shell forgets what it knew and expects EHLO again.

// xclientAttrs and xforwardAttrs are the attributes each command takes.
var (
	xclientAttrs  = []string{"NAME", "ADDR", "PORT", "PROTO", "HELO", "LOGIN", "DESTADDR", "DESTPORT"}
	xforwardAttrs = []string{"NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE"}
)

// xcommand sends XCLIENT or XFORWARD with the NAME=value arguments of arg.
func (s *Session) xcommand(verb smtp.Verb, arg string) {
	attrs := xclientAttrs
	if verb == smtp.XFORWARD {
		attrs = xforwardAttrs
	}
	name := ":" + strings.ToLower(string(verb))
	fields := strings.Fields(arg)
	if len(fields) == 0 {
		s.warn("%s needs NAME=value arguments, e.g. %s ADDR=192.0.2.1 NAME=client.example.com; attributes: %s", name, name, strings.Join(attrs, " "))
		return
	}
	s.mu.Lock()
	ehlo, caps := s.st.ehlo, s.st.caps
	s.mu.Unlock()
	var offered []string
	if c, ok := caps.Get(string(verb)); ehlo && ok {
		offered = c.Params
	} else {
		s.warn("%s was not advertised in the EHLO reply: expect 502 or 550 (Postfix allows it only from authorized hosts)", verb)
	}
	line := string(verb)
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		k = strings.ToUpper(k)
		if !ok || !containsFold(attrs, k) {
			s.warn("%s: %q is not NAME=value with one of %s: not sent", name, render.Escape(f), strings.Join(attrs, " "))
			return
		}
		if len(offered) > 0 && !containsFold(offered, k) {
			s.warn("the server did not list %s among the %s attributes it takes (%s)", k, verb, render.Escape(strings.Join(offered, " ")))
		}
		// [UNAVAILABLE] and [TEMPUNAVAIL] are sent as they are.
		if v != "[UNAVAILABLE]" && v != "[TEMPUNAVAIL]" {
			v = smtp.EncodeXtext(v)
		}
		line += " " + k + "=" + v
	}
	if !s.in.Interactive() {
		// The script's line was echoed as the meta-command; this is
		// what goes on the wire.
		s.note("sending %s", render.Escape(line))
	}
	s.sendCommand(line, true)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
