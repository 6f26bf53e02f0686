package send

import (
	"fmt"
	"net/mail"
	"strings"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

// Recipient is one address given to --to, --cc or --bcc: the header form
// ("Bob <bob@example.org>") and the envelope's mailbox.
type Recipient struct {
	Header  string // as written in To or Cc; "" for Bcc
	Mailbox string // the RCPT TO address (RFC 5321 §4.1.2)
}

// ParseAddresses parses the values of a repeatable address flag, each a
// comma-separated list of RFC 5322 addresses ("bob@example.org", "Bob
// <bob@example.org>"), and checks each mailbox as RCPT TO would carry it
// (RFC 5321 §4.1.2; RFC 6531 §3.3 with utf8). flag names the flag in
// errors.
func ParseAddresses(flag string, values []string, utf8 bool) ([]Recipient, error) {
	var out []Recipient
	for _, v := range values {
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("%s: an empty address", flag)
		}
		list, err := parseList(v)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", flag, v, err)
		}
		for _, a := range list {
			if err := checkMailbox(a.Address, utf8); err != nil {
				return nil, fmt.Errorf("%s %q: %w", flag, a.Address, err)
			}
			out = append(out, Recipient{Header: a.String(), Mailbox: a.Address})
		}
	}
	return out, nil
}

// parseList parses an address list, taking a bare list of mailboxes the
// way net/mail does and saying what is wrong when it does not parse.
func parseList(v string) ([]*mail.Address, error) {
	p := mail.AddressParser{}
	list, err := p.ParseList(v)
	if err != nil {
		return nil, fmt.Errorf("not an address list (RFC 5322 §3.4): %w", err)
	}
	return list, nil
}

// checkMailbox checks addr as a Mailbox of RFC 5321 §4.1.2: a local part,
// "@" and a domain.
func checkMailbox(addr string, utf8 bool) error {
	mb, _, err := smtp.ParseOptions{SMTPUTF8: utf8}.ParseMailbox(addr)
	if err != nil {
		if !utf8 && !isASCII(addr) {
			return fmt.Errorf("a non-ASCII address needs --smtputf8 (RFC 6531): %w", err)
		}
		return err
	}
	if mb.NeedsSMTPUTF8() && !utf8 {
		return fmt.Errorf("a non-ASCII address needs --smtputf8 (RFC 6531)")
	}
	return nil
}

// ParseSender parses --from: an address ("Alice <alice@example.org>" or
// a bare mailbox) or "<>", the null reverse-path (RFC 5321 §4.5.5), which
// leaves the header From to the caller. The mailbox is "" for "<>".
func ParseSender(v string, utf8 bool) (header, mailbox string, err error) {
	if strings.TrimSpace(v) == "<>" {
		return "", "", nil
	}
	a, err := (&mail.AddressParser{}).Parse(v)
	if err != nil {
		return "", "", fmt.Errorf("--from %q: not an address (RFC 5322 §3.4): %w", v, err)
	}
	if err := checkMailbox(a.Address, utf8); err != nil {
		return "", "", fmt.Errorf("--from %q: %w", a.Address, err)
	}
	return a.String(), a.Address, nil
}
