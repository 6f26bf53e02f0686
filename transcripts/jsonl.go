package transcripts

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// jsonFormat names the format in the header object of JSON Lines.
const jsonFormat = "smtpsh transcript"

// jsonHeader is the first object of a JSON Lines transcript.
type jsonHeader struct {
	Format  string            `json:"format"`
	Version int               `json:"version"`
	Server  string            `json:"server,omitempty"`
	Client  string            `json:"client,omitempty"`
	Started string            `json:"started,omitempty"`
	Source  string            `json:"source,omitempty"`
	Meta    map[string]string `json:"meta,omitempty"`
}

// jsonEvent is one event object. Text that is not valid UTF-8 cannot be a
// JSON string (encoding/json would replace the bytes with U+FFFD), so it
// travels as text_base64 instead.
type jsonEvent struct {
	Kind       string   `json:"kind"`
	Time       string   `json:"time,omitempty"`
	Text       *string  `json:"text,omitempty"`
	TextBase64 *string  `json:"text_base64,omitempty"`
	Redacted   bool     `json:"redacted,omitempty"`
	TLS        *jsonTLS `json:"tls,omitempty"`
	Addr       *string  `json:"addr,omitempty"`
	Via        string   `json:"via,omitempty"`
	Side       string   `json:"side,omitempty"`
	Bytes      *int64   `json:"bytes,omitempty"`
}

type jsonTLS struct {
	Version     string `json:"version,omitempty"`
	CipherSuite string `json:"cipher_suite,omitempty"`
	CertSubject string `json:"cert_subject,omitempty"`
	ServerName  string `json:"server_name,omitempty"`
	ALPN        string `json:"alpn,omitempty"`
}

// WriteJSONL writes t as JSON Lines: a header object
//
//	{"format":"smtpsh transcript","version":1,"server":…,"client":…,"started":…,"source":…,"meta":{…}}
//
// then one object per event, with "kind" ("client", "server", "data",
// "tls", "connect", "close", "gap", "note") and the fields that kind uses:
// "text" (or "text_base64" when it is not UTF-8), "redacted", "tls"
// {"version","cipher_suite","cert_subject","server_name","alpn"}, "addr",
// "via", "side", "bytes". "time" is absolute RFC 3339 and written only when
// opts.Times is set. Empty fields are left out. It redacts and validates as
// Write does.
func WriteJSONL(w io.Writer, t *Transcript, opts WriteOptions) error {
	if !opts.Secrets {
		t = Redact(t)
	}
	if err := t.Validate(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false) // keep "<redacted>" and mailboxes readable
	h := jsonHeader{Format: jsonFormat, Version: 1, Server: t.Server, Client: t.Client, Source: t.Source, Meta: t.Meta}
	if !t.Started.IsZero() {
		h.Started = formatTime(t.Started)
	}
	if err := enc.Encode(h); err != nil {
		return fmt.Errorf("transcripts: writing JSON Lines: %w", err)
	}
	for i := range t.Events {
		if err := enc.Encode(toJSON(&t.Events[i], opts.Times)); err != nil {
			return fmt.Errorf("transcripts: writing JSON Lines: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("transcripts: writing JSON Lines: %w", err)
	}
	return nil
}

func toJSON(e *Event, times bool) jsonEvent {
	j := jsonEvent{Kind: e.Kind.String(), Redacted: e.Redacted}
	if times && !e.Time.IsZero() {
		j.Time = formatTime(e.Time)
	}
	text := func() {
		s := e.Text
		if utf8.ValidString(s) {
			j.Text = &s
		} else {
			b := base64.StdEncoding.EncodeToString([]byte(s))
			j.TextBase64 = &b
		}
	}
	switch e.Kind {
	case Client, Server, Data:
		text()
	case Note, Close:
		if e.Text != "" {
			text()
		}
		if e.Kind == Close {
			j.Side = e.Side.String()
		}
	case TLS:
		j.TLS = &jsonTLS{e.TLS.Version, e.TLS.CipherSuite, e.TLS.CertSubject, e.TLS.ServerName, e.TLS.ALPN}
	case Connect:
		addr := e.Addr
		j.Addr, j.Via = &addr, e.Via
	case Gap:
		n := e.Bytes
		j.Side, j.Bytes = e.Side.String(), &n
	}
	return j
}

// ParseJSONL reads a transcript that WriteJSONL wrote, with the same bounds
// as Parse. Unknown fields are ignored, as JSON readers do, but an unknown
// kind is an error: unlike the text format, JSON Lines is read by programs,
// which should not be handed a note they did not ask for. Blank lines are
// skipped.
func ParseJSONL(r io.Reader) (*Transcript, error) {
	lr := newLineReader(r)
	var t *Transcript
	var lines []int
	for {
		b, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if t == nil {
			if t, err = parseJSONHeader(b, lr.line); err != nil {
				return nil, err
			}
			continue
		}
		if len(t.Events) >= MaxEvents {
			return nil, &ParseError{Line: lr.line, Msg: fmt.Sprintf("more than %d events", MaxEvents)}
		}
		var j jsonEvent
		if err := unmarshalLine(b, lr.line, &j); err != nil {
			return nil, err
		}
		e, msg := fromJSON(&j)
		if msg != "" {
			return nil, &ParseError{Line: lr.line, Msg: msg}
		}
		t.Events = append(t.Events, e)
		lines = append(lines, lr.line)
	}
	if t == nil {
		return nil, &ParseError{Msg: "empty input: JSON Lines transcripts start with a header object"}
	}
	if err := t.Validate(); err != nil {
		var ie *InvalidError
		if errors.As(err, &ie) && ie.Event >= 0 && ie.Event < len(lines) {
			return nil, &ParseError{Line: lines[ie.Event], Msg: ie.Msg}
		}
		return nil, &ParseError{Line: 1, Msg: err.Error()}
	}
	return t, nil
}

// unmarshalLine decodes one JSON object, turning encoding/json's byte
// offsets into a column.
func unmarshalLine(b []byte, line int, v any) error {
	err := json.Unmarshal(b, v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &ParseError{Line: line, Column: int(se.Offset), Msg: "bad JSON: " + se.Error()}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &ParseError{Line: line, Column: int(te.Offset), Msg: fmt.Sprintf("bad JSON: field %q should be a %s, not a %s", te.Field, te.Type, te.Value)}
	}
	return &ParseError{Line: line, Msg: "bad JSON: " + err.Error()}
}

func parseJSONHeader(b []byte, line int) (*Transcript, error) {
	var h jsonHeader
	if err := unmarshalLine(b, line, &h); err != nil {
		return nil, err
	}
	if h.Format != jsonFormat {
		return nil, &ParseError{Line: line, Msg: fmt.Sprintf("not an smtpsh transcript: the first object must have \"format\": %q", jsonFormat)}
	}
	if h.Version != 1 {
		return nil, &ParseError{Line: line, Msg: fmt.Sprintf("transcript format version %d; this smtpsh reads version 1", h.Version)}
	}
	t := &Transcript{Server: h.Server, Client: h.Client, Source: h.Source}
	if len(h.Meta) > 0 {
		t.Meta = h.Meta
	}
	if h.Started != "" {
		st, err := time.Parse(time.RFC3339Nano, h.Started)
		if err != nil {
			return nil, &ParseError{Line: line, Msg: fmt.Sprintf("started: want an RFC 3339 time, got %q", h.Started)}
		}
		t.Started = st
	}
	return t, nil
}

// fromJSON builds an event from the fields its kind uses, or says what is
// missing.
func fromJSON(j *jsonEvent) (Event, string) {
	k, ok := kindByName(j.Kind)
	if !ok {
		return Event{}, fmt.Sprintf("unknown event kind %q", j.Kind)
	}
	e := Event{Kind: k}
	if j.Time != "" {
		at, err := time.Parse(time.RFC3339Nano, j.Time)
		if err != nil {
			return Event{}, fmt.Sprintf("time: want an RFC 3339 time, got %q", j.Time)
		}
		e.Time = at
	}
	text := func(required bool) string {
		switch {
		case j.Text != nil && j.TextBase64 != nil:
			return "give text or text_base64, not both"
		case j.Text != nil:
			e.Text = *j.Text
		case j.TextBase64 != nil:
			b, err := base64.StdEncoding.DecodeString(*j.TextBase64)
			if err != nil {
				return "text_base64: " + err.Error()
			}
			e.Text = string(b)
		case required:
			return fmt.Sprintf("a %s event needs \"text\"", k)
		}
		return ""
	}
	side := func() string {
		s, ok := sideByName(j.Side)
		if !ok {
			return fmt.Sprintf("side must be \"client\", \"server\" or \"unknown\", not %q", j.Side)
		}
		e.Side = s
		return ""
	}
	var msg string
	switch k {
	case Client:
		msg = text(true)
		e.Redacted = j.Redacted
	case Server, Data:
		msg = text(true)
	case Note:
		msg = text(false)
	case Close:
		if msg = text(false); msg == "" {
			msg = side()
		}
	case TLS:
		if j.TLS == nil {
			return Event{}, "a tls event needs \"tls\""
		}
		e.TLS = &TLSInfo{j.TLS.Version, j.TLS.CipherSuite, j.TLS.CertSubject, j.TLS.ServerName, j.TLS.ALPN}
	case Connect:
		if j.Addr == nil {
			return Event{}, "a connect event needs \"addr\""
		}
		e.Addr, e.Via = *j.Addr, j.Via
	case Gap:
		if j.Bytes == nil {
			return Event{}, "a gap event needs \"bytes\""
		}
		e.Bytes = *j.Bytes
		msg = side()
	}
	return e, msg
}
