package transcripts

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// header is the first line of every transcript in the text format.
const header = "# smtpsh transcript v1"

// WriteOptions control Write and WriteJSONL. The zero value writes no times
// and redacts secrets.
type WriteOptions struct {
	// Times writes each event's time: "[+0.004s]" relative to Started in
	// the text format, absolute in JSON Lines (which always has them).
	Times bool
	// Secrets writes AUTH arguments and SASL responses as they were sent.
	// By default they are redacted (see Redact).
	Secrets bool
}

// Write writes t to w in the text format described in the package
// documentation. Unless opts.Secrets is set it writes Redact(t). It refuses,
// before writing anything, a transcript that Parse could not read back the
// same (see Transcript.Validate).
func Write(w io.Writer, t *Transcript, opts WriteOptions) error {
	if !opts.Secrets {
		t = Redact(t)
	}
	if err := t.Validate(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	b := make([]byte, 0, 1024)
	b = append(b, header...)
	b = append(b, '\n')
	b = appendMeta(b, t)
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("transcripts: writing: %w", err)
	}
	for i := range t.Events {
		e := &t.Events[i]
		b = b[:0]
		if opts.Times && !e.Time.IsZero() {
			b = appendOffset(b, e.Time.Sub(t.Started))
			b = append(b, ' ')
		}
		b = appendEvent(b, e)
		b = append(b, '\n')
		if _, err := bw.Write(b); err != nil {
			return fmt.Errorf("transcripts: writing: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("transcripts: writing: %w", err)
	}
	return nil
}

// appendMeta writes server, client and started on one line, as DESIGN.md's
// example does, then source, then the other keys sorted, one per line.
func appendMeta(b []byte, t *Transcript) []byte {
	sep := false
	field := func(k, v string) {
		if v == "" {
			return
		}
		if !sep {
			b = append(b, "# "...)
		} else {
			b = append(b, "  "...)
		}
		sep = true
		b = append(b, k...)
		b = append(b, ": "...)
		b = appendMetaValue(b, v)
	}
	field("server", t.Server)
	field("client", t.Client)
	if !t.Started.IsZero() {
		field("started", formatTime(t.Started))
	}
	if sep {
		b = append(b, '\n')
	}
	line := func(k, v string) {
		b = append(b, "# "...)
		b = append(b, k...)
		b = append(b, ": "...)
		b = appendMetaValue(b, v)
		b = append(b, '\n')
	}
	if t.Source != "" {
		line("source", t.Source)
	}
	keys := make([]string, 0, len(t.Meta))
	for k := range t.Meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		line(k, t.Meta[k])
	}
	return b
}

// formatTime writes t in RFC 3339 with as many fractional digits as it
// needs. An offset with seconds (local mean time zones) cannot be written in
// RFC 3339, so such a time is written in UTC to keep the instant.
func formatTime(t time.Time) string {
	if _, off := t.Zone(); off%60 != 0 {
		t = t.UTC()
	}
	return t.Format(time.RFC3339Nano)
}

// appendOffset writes d as "[+S.FFFs]": at least three decimals, more only
// when d has them, so that a time reads back to the nanosecond.
func appendOffset(b []byte, d time.Duration) []byte {
	b = append(b, '[')
	if d < 0 {
		b = append(b, '-')
		d = -d
	} else {
		b = append(b, '+')
	}
	b = strconv.AppendInt(b, int64(d/time.Second), 10)
	frac := int64(d % time.Second)
	digits := 9
	for digits > 3 && frac%10 == 0 {
		frac /= 10
		digits--
	}
	b = append(b, '.')
	var buf [9]byte
	s := strconv.AppendInt(buf[:0], frac, 10)
	for range digits - len(s) {
		b = append(b, '0')
	}
	b = append(b, s...)
	return append(b, "s]"...)
}

// appendEvent writes one validated event without its time or line ending.
func appendEvent(b []byte, e *Event) []byte {
	switch e.Kind {
	case Client:
		return appendLineText(append(b, "C:"...), e.Text, !e.Redacted && redactedForm(e.Text))
	case Server:
		return appendLineText(append(b, "S:"...), e.Text, false)
	case Data:
		return appendLineText(append(b, "D:"...), e.Text, false)
	case TLS:
		b = append(b, "*: tls "...)
		b = appendWord(b, e.TLS.Version)
		b = append(b, ' ')
		b = appendWord(b, e.TLS.CipherSuite)
		b = appendAttr(b, "cert", e.TLS.CertSubject, true)
		b = appendAttr(b, "sni", e.TLS.ServerName, false)
		return appendAttr(b, "alpn", e.TLS.ALPN, false)
	case Connect:
		b = appendWord(append(b, "*: connect "...), e.Addr)
		return appendAttr(b, "via", e.Via, false)
	case Close:
		b = append(b, "*: close "...)
		b = append(b, e.Side.String()...)
		return appendFreeText(b, e.Text)
	case Gap:
		b = append(b, "*: gap "...)
		b = append(b, e.Side.String()...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, e.Bytes, 10)
		return append(b, " bytes"...)
	case Note:
		return appendFreeText(append(b, "*: note"...), e.Text)
	}
	return b
}

// appendAttr writes " key=value" when value is not empty. A certificate
// subject is always quoted: subjects are full of '=' and ',' and often spaces.
func appendAttr(b []byte, key, value string, quote bool) []byte {
	if value == "" {
		return b
	}
	b = append(b, ' ')
	b = append(b, key...)
	b = append(b, '=')
	if quote {
		return strconv.AppendQuote(b, value)
	}
	return appendWord(b, value)
}
