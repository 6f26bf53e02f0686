package shell

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// maxLineOctets is the longest line a message may hold without its CRLF
// (RFC 5322 §2.1.1; RFC 5321 §4.5.3.1.6 allows 1000 with the CRLF).
const maxLineOctets = 998

// maxComposeLines bounds the body :compose reads.
const maxComposeLines = 10000

// Composition is what :compose asks for: the header fields a person fills
// in and the body, line by line.
type Composition struct {
	From, To, Subject string
	Body              []string
}

// BuildMessage returns c as an RFC 5322 message with CRLF line endings:
// Date (§3.3 date-time, from now), Message-ID (§3.6.4, a random left part
// at domain, the EHLO name), From, To and Subject, an empty line and the
// body. MIME-Version and Content-Type (RFC 2045) are added only when the
// body is not ASCII; a non-ASCII subject is encoded as RFC 2047 words.
// From and To must be RFC 5322 addresses; header values may not hold CR or
// LF (no header injection) and no line may exceed 998 octets.
func BuildMessage(c Composition, domain string, now time.Time, random io.Reader) ([]byte, error) {
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("the From address %q: %w", c.From, err)
	}
	to, err := mail.ParseAddressList(c.To)
	if err != nil {
		return nil, fmt.Errorf("the To address %q: %w", c.To, err)
	}
	if strings.ContainsAny(c.Subject, "\r\n") {
		return nil, errors.New("the subject holds a line break")
	}
	if domain == "" || strings.ContainsAny(domain, "<>@ \t\r\n") {
		return nil, fmt.Errorf("bad Message-ID domain %q", domain)
	}
	id := make([]byte, 12)
	if _, err := io.ReadFull(random, id); err != nil {
		return nil, fmt.Errorf("making a Message-ID: %w", err)
	}
	var b bytes.Buffer
	header := func(name, value string) error {
		l := name + ": " + value
		if len(l) > maxLineOctets {
			return fmt.Errorf("the %s header line is %d octets, more than RFC 5322 §2.1.1 allows (%d)", name, len(l), maxLineOctets)
		}
		b.WriteString(l + "\r\n")
		return nil
	}
	addrs := make([]string, len(to))
	for i, a := range to {
		addrs[i] = a.String()
	}
	subject := c.Subject
	if !isASCII(subject) {
		subject = mime.QEncoding.Encode("utf-8", subject)
	}
	fields := [][2]string{
		{"Date", now.Format(time.RFC1123Z)},
		{"Message-ID", "<" + hex.EncodeToString(id) + "@" + domain + ">"},
		{"From", from.String()},
		{"To", strings.Join(addrs, ", ")},
		{"Subject", subject},
	}
	body := strings.Join(c.Body, "\n")
	if !isASCII(body) {
		if !utf8.ValidString(body) {
			return nil, errors.New("the body is neither ASCII nor UTF-8")
		}
		fields = append(fields,
			[2]string{"MIME-Version", "1.0"},
			[2]string{"Content-Type", "text/plain; charset=utf-8"},
			[2]string{"Content-Transfer-Encoding", "8bit"})
	}
	for _, f := range fields {
		if err := header(f[0], f[1]); err != nil {
			return nil, err
		}
	}
	b.WriteString("\r\n")
	for i, l := range c.Body {
		if strings.ContainsAny(l, "\r\n") {
			return nil, fmt.Errorf("body line %d holds a line break", i+1)
		}
		if len(l) > maxLineOctets {
			return nil, fmt.Errorf("body line %d is %d octets, more than RFC 5322 §2.1.1 allows (%d)", i+1, len(l), maxLineOctets)
		}
		b.WriteString(l + "\r\n")
	}
	return b.Bytes(), nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// HeaderFrom returns the addresses of a message's From header field
// (RFC 5322 §3.6.2), lower-cased domains untouched. A message without one,
// or whose From does not parse, is an error.
func HeaderFrom(msg []byte) ([]string, error) {
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return nil, fmt.Errorf("message header: %w", err)
	}
	if m.Header.Get("From") == "" {
		return nil, errors.New("the message has no From header field (RFC 5322 §3.6: it is required)")
	}
	list, err := m.Header.AddressList("From")
	if err != nil {
		return nil, fmt.Errorf("the From header field: %w", err)
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Address
	}
	return out, nil
}

// fromNote compares the header From of msg with the envelope's MAIL FROM
// and returns a note when they differ: the spoofing lesson. "" when they
// agree.
func fromNote(msg []byte, mailFrom string) string {
	hf, err := HeaderFrom(msg)
	if err != nil {
		return err.Error()
	}
	for _, a := range hf {
		if strings.EqualFold(a, mailFrom) {
			return ""
		}
	}
	env := "<" + mailFrom + ">"
	if mailFrom == "" {
		env = "<> (the null reverse-path)"
	}
	return fmt.Sprintf("the header From (%s) differs from MAIL FROM %s: SMTP itself checks neither (RFC 5321 §3.3), SPF checks the envelope (RFC 7208) and only DMARC ties the header From's domain to it (RFC 7489 §3.1); this gap is how mail is spoofed",
		strings.Join(hf, ", "), env)
}

// envelopeFrom returns the reverse-path of the last MAIL command sent, as
// the transcript recorded it; ok is false when there is none.
func envelopeFrom(tr *transcripts.Transcript) (string, bool) {
	for i := len(tr.Events) - 1; i >= 0; i-- {
		e := tr.Events[i]
		if e.Kind != transcripts.Client {
			continue
		}
		if v, _ := smtp.SplitVerb(e.Text); v != smtp.MAIL {
			continue
		}
		cmd, err := smtp.ParseOptions{}.ParseCommand(e.Text)
		if err != nil {
			return "", false
		}
		if cmd.Path.IsNull() {
			return "", true
		}
		return cmd.Path.Mailbox.String(), true
	}
	return "", false
}

// ask reads one answer for :compose, prompting when a person types.
func (s *Session) ask(prompt string) (string, error) {
	s.in.SetPrompt(prompt)
	l, err := s.in.ReadLine()
	if err != nil {
		return "", err
	}
	if !s.in.Interactive() {
		s.print(render.ClientLine(prompt, l))
	}
	return l, nil
}

// compose is ":compose": ask From, To, Subject and the body, build the
// message, and send it in a transaction.
func (s *Session) compose(arg string) {
	if !s.readyToSend(":compose") {
		return
	}
	var c Composition
	var err error
	for _, q := range []struct {
		prompt string
		v      *string
	}{{"From: ", &c.From}, {"To: ", &c.To}, {"Subject: ", &c.Subject}} {
		if *q.v, err = s.ask(q.prompt); err != nil {
			s.warn(":compose cancelled: %v", err)
			return
		}
	}
	s.note("the body: type lines; a line with only \".\" ends it")
	for {
		l, err := s.ask("body> ")
		if err != nil {
			s.warn(":compose cancelled: %v", err)
			return
		}
		if l == "." {
			break
		}
		if len(c.Body) >= maxComposeLines {
			s.warn(":compose: more than %d lines; use :send FILE", maxComposeLines)
			return
		}
		c.Body = append(c.Body, l)
	}
	domain := s.cfg.EHLOName
	if domain == "" {
		domain = "localhost"
	}
	msg, err := BuildMessage(c, domain, s.now(), rand.Reader)
	if err != nil {
		s.warn(":compose: %s", render.Escape(err.Error()))
		return
	}
	from, _ := mail.ParseAddress(c.From)
	to, _ := mail.ParseAddressList(c.To)
	rcpts := make([]string, len(to))
	for i, a := range to {
		rcpts[i] = a.Address
	}
	s.transmit(msg, from.Address, rcpts, strings.TrimSpace(arg) == "--bdat")
}
