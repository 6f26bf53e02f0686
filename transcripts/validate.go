package transcripts

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// InvalidError reports a transcript that the formats cannot carry faithfully,
// so that the writers refuse it rather than write what would read back
// different.
type InvalidError struct {
	// Event is the 0-based index of the offending event, or -1 when the
	// problem is in the metadata.
	Event int
	Msg   string
}

func (e *InvalidError) Error() string {
	if e.Event < 0 {
		return "transcripts: metadata: " + e.Msg
	}
	return fmt.Sprintf("transcripts: event %d: %s", e.Event+1, e.Msg)
}

// reservedMeta are the metadata keys that have their own Transcript fields.
var reservedMeta = [...]string{"server", "client", "started", "source"}

// Validate reports the first thing in t that the text format or JSON Lines
// could not write and read back the same, as an *InvalidError: an unknown
// Kind or Side, a text longer than MaxTextBytes, a word longer than
// MaxWordBytes or not UTF-8, an event time without Started or more than
// about 31 years from it, a negative Gap, a TLS event without TLSInfo, a
// Redacted flag on anything but a Client line in the form Redact leaves.
func (t *Transcript) Validate() error {
	if msg := t.checkMeta(); msg != "" {
		return &InvalidError{Event: -1, Msg: msg}
	}
	if len(t.Events) > MaxEvents {
		return &InvalidError{Event: MaxEvents, Msg: fmt.Sprintf("more than %d events", MaxEvents)}
	}
	for i := range t.Events {
		if msg := t.checkEvent(&t.Events[i]); msg != "" {
			return &InvalidError{Event: i, Msg: msg}
		}
	}
	return nil
}

func checkWord(what, s string) string {
	if len(s) > MaxWordBytes {
		return fmt.Sprintf("%s is %d bytes long; the limit is %d", what, len(s), MaxWordBytes)
	}
	if !utf8.ValidString(s) {
		return what + " is not valid UTF-8"
	}
	return ""
}

// checkTime accepts the years that RFC 3339 can write in any time zone.
func checkTime(what string, t time.Time) string {
	if y := t.UTC().Year(); y < 1 || y > 9998 {
		return fmt.Sprintf("%s is in the year %d; times must be in the years 1 to 9998", what, y)
	}
	return ""
}

func (t *Transcript) checkMeta() string {
	for _, f := range [...]struct{ what, v string }{{"server", t.Server}, {"client", t.Client}, {"source", t.Source}} {
		if msg := checkWord(f.what, f.v); msg != "" {
			return msg
		}
	}
	if !t.Started.IsZero() {
		if msg := checkTime("started", t.Started); msg != "" {
			return msg
		}
	}
	if len(t.Meta) > MaxMeta {
		return fmt.Sprintf("%d metadata keys; the limit is %d", len(t.Meta), MaxMeta)
	}
	for k, v := range t.Meta {
		if !validMetaKey(k) {
			return fmt.Sprintf("key %q: keys are a lower-case letter then lower-case letters, digits, '-', '_' or '.'", k)
		}
		for _, r := range reservedMeta {
			if k == r {
				return fmt.Sprintf("key %q belongs in the Transcript field of that name, not in Meta", k)
			}
		}
		if msg := checkWord(k, v); msg != "" {
			return msg
		}
	}
	return ""
}

func (t *Transcript) checkEvent(e *Event) string {
	if !e.Kind.valid() {
		return fmt.Sprintf("unknown kind %d", e.Kind)
	}
	if !e.Time.IsZero() {
		if t.Started.IsZero() {
			return "has a time but the transcript has no Started time to count from"
		}
		if msg := checkTime("time", e.Time); msg != "" {
			return msg
		}
		if d := e.Time.Sub(t.Started); d > maxOffset*time.Second || d < -maxOffset*time.Second {
			return fmt.Sprintf("time is %v from Started; the limit is %ds", d, maxOffset)
		}
	}
	if e.Redacted && (e.Kind != Client || !redactedForm(e.Text)) {
		return fmt.Sprintf("marked redacted but is not a client line of the form %q or \"AUTH MECH %s\"", redactedMark, redactedMark)
	}
	switch e.Kind {
	case Client, Server, Data, Note, Close:
		if len(e.Text) > MaxTextBytes {
			return fmt.Sprintf("text is %d bytes long; the limit is %d", len(e.Text), MaxTextBytes)
		}
	}
	switch e.Kind {
	case TLS:
		if e.TLS == nil {
			return "a tls event needs its TLSInfo"
		}
		for _, f := range [...]struct{ what, v string }{{"TLS version", e.TLS.Version}, {"cipher suite", e.TLS.CipherSuite},
			{"certificate subject", e.TLS.CertSubject}, {"server name", e.TLS.ServerName}, {"ALPN protocol", e.TLS.ALPN}} {
			if msg := checkWord(f.what, f.v); msg != "" {
				return msg
			}
		}
	case Connect:
		if msg := checkWord("address", e.Addr); msg != "" {
			return msg
		}
		if msg := checkWord("proxy", e.Via); msg != "" {
			return msg
		}
	case Close, Gap:
		if e.Side > SideServer {
			return fmt.Sprintf("unknown side %d", e.Side)
		}
		if e.Kind == Gap && e.Bytes < 0 {
			return fmt.Sprintf("a gap of %d bytes", e.Bytes)
		}
	}
	return ""
}
