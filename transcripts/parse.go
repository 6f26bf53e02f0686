package transcripts

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ParseError reports input that is not a transcript, and where.
type ParseError struct {
	Line   int // 1-based line number; 0 when the problem is the input as a whole
	Column int // 1-based byte column within the line; 0 when no single position applies
	Msg    string
}

func (e *ParseError) Error() string {
	switch {
	case e.Line == 0:
		return "transcript: " + e.Msg
	case e.Column == 0:
		return fmt.Sprintf("transcript: line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("transcript: line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// lineReader reads lines of at most MaxLineBytes, and at most MaxBytes in
// all, so that hostile input cannot make Parse hold more than that.
type lineReader struct {
	br    *bufio.Reader
	buf   []byte
	line  int
	total int64
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 16<<10)}
}

// next returns the next line without its LF or CRLF, or io.EOF. The slice
// is valid until the next call.
func (lr *lineReader) next() ([]byte, error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.br.ReadSlice('\n')
		lr.total += int64(len(chunk))
		if lr.total > MaxBytes {
			return nil, &ParseError{Line: lr.line + 1, Msg: fmt.Sprintf("input is larger than %d bytes", MaxBytes)}
		}
		if len(lr.buf)+len(chunk) > MaxLineBytes {
			return nil, &ParseError{Line: lr.line + 1, Msg: fmt.Sprintf("line is longer than %d bytes", MaxLineBytes)}
		}
		lr.buf = append(lr.buf, chunk...)
		switch {
		case err == nil:
			lr.line++
			b := lr.buf[:len(lr.buf)-1]
			// A file edited on Windows ends its lines in CRLF; a CR inside
			// a line is always written escaped, so a last CR is a line end.
			return bytes.TrimSuffix(b, []byte{'\r'}), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(lr.buf) == 0 {
				return nil, io.EOF
			}
			lr.line++
			return bytes.TrimSuffix(lr.buf, []byte{'\r'}), nil
		default:
			return nil, fmt.Errorf("transcript: reading line %d: %w", lr.line+1, err)
		}
	}
}

// parser holds the state of one Parse.
type parser struct {
	t       *Transcript
	lineNo  int
	seen    map[string]bool // metadata keys already set
	offsets []offset        // relative times, applied once Started is known
	lines   []int           // the line of each event, for errors found at the end
}

type offset struct {
	event int
	d     time.Duration
}

func (p *parser) errAt(col int, format string, args ...any) *ParseError {
	return &ParseError{Line: p.lineNo, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// Parse reads one transcript in the text format described in the package
// documentation. It reads at most MaxBytes, lines of at most MaxLineBytes
// and at most MaxEvents events; any input it rejects gives a *ParseError
// naming the line and column, and no input makes it panic.
func Parse(r io.Reader) (*Transcript, error) {
	lr := newLineReader(r)
	first, err := lr.next()
	if errors.Is(err, io.EOF) {
		return nil, &ParseError{Msg: fmt.Sprintf("empty input: a transcript starts with %q", header)}
	}
	if err != nil {
		return nil, err
	}
	first = bytes.TrimPrefix(first, []byte("\uFEFF")) // a byte order mark some editors add
	if err := checkHeader(string(first)); err != nil {
		return nil, err
	}
	p := &parser{t: &Transcript{}, lineNo: 1, seen: map[string]bool{}}
	for {
		b, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		p.lineNo = lr.line
		if err := p.parseLine(string(b)); err != nil {
			return nil, err
		}
	}
	return p.finish()
}

// checkHeader accepts exactly the v1 header and names what else it found.
func checkHeader(line string) error {
	if line == header {
		return nil
	}
	const prefix = "# smtpsh transcript v"
	if v, ok := strings.CutPrefix(line, prefix); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 1 {
			return &ParseError{Line: 1, Column: len(prefix) + 1, Msg: fmt.Sprintf("transcript format v%d is newer than this smtpsh, which reads v1; upgrade smtpsh", n)}
		}
		return &ParseError{Line: 1, Column: len(prefix) + 1, Msg: fmt.Sprintf("unknown transcript format version %q; this smtpsh reads v1", v)}
	}
	return &ParseError{Line: 1, Column: 1, Msg: fmt.Sprintf("not an smtpsh transcript: the first line must be %q", header)}
}

func (p *parser) parseLine(line string) error {
	if strings.TrimLeft(line, " \t") == "" {
		return nil // blank lines group events for people and mean nothing
	}
	if i := rawAcceptable(line); i >= 0 {
		return p.errAt(i+1, "control character or invalid UTF-8 in the file; such bytes are written escaped inside quotes (C:\"\\x01\")")
	}
	if line[0] == '#' {
		return p.parseMeta(line)
	}
	if len(p.t.Events) >= MaxEvents {
		return p.errAt(0, "more than %d events", MaxEvents)
	}
	i := 0
	var d time.Duration
	timed := false
	if line[0] == '[' {
		var err error
		if d, i, err = p.parseOffset(line); err != nil {
			return err
		}
		timed = true
	}
	e, err := p.parseEvent(line, i)
	if err != nil {
		return err
	}
	if timed {
		p.offsets = append(p.offsets, offset{event: len(p.t.Events), d: d})
	}
	p.t.Events = append(p.t.Events, e)
	p.lines = append(p.lines, p.lineNo)
	return nil
}

// parseOffset reads "[+S.FFFs] " and returns the offset and where the event
// starts. Grammar: "[" ("+" / "-") 1*10DIGIT ["." 1*9DIGIT] "s]" 1*SP.
func (p *parser) parseOffset(line string) (time.Duration, int, error) {
	i := 1
	if i >= len(line) || line[i] != '+' && line[i] != '-' {
		return 0, 0, p.errAt(i+1, "a time is written \"[+0.004s]\": expected '+' or '-' after '['")
	}
	neg := line[i] == '-'
	i++
	start := i
	var secs int64
	for i < len(line) && line[i] >= '0' && line[i] <= '9' && i-start < 10 {
		secs = secs*10 + int64(line[i]-'0')
		i++
	}
	if i == start {
		return 0, 0, p.errAt(i+1, "expected the seconds of the time")
	}
	if secs > maxOffset {
		return 0, 0, p.errAt(start+1, "time offset %ds is more than %ds", secs, maxOffset)
	}
	var nanos int64
	if i < len(line) && line[i] == '.' {
		i++
		fs, scale := i, int64(100_000_000)
		for i < len(line) && line[i] >= '0' && line[i] <= '9' {
			if i-fs == 9 {
				return 0, 0, p.errAt(i+1, "more than 9 decimals: times are kept to the nanosecond")
			}
			nanos += int64(line[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == fs {
			return 0, 0, p.errAt(i+1, "expected decimals after '.'")
		}
	}
	if !strings.HasPrefix(line[i:], "s]") {
		return 0, 0, p.errAt(i+1, "a time ends with \"s]\"")
	}
	i += 2
	if i >= len(line) || line[i] != ' ' {
		return 0, 0, p.errAt(i+1, "expected a space after the time")
	}
	for i < len(line) && line[i] == ' ' {
		i++
	}
	d := time.Duration(secs)*time.Second + time.Duration(nanos)
	if neg {
		d = -d
	}
	return d, i, nil
}

// parseEvent reads the event that starts at line[i].
func (p *parser) parseEvent(line string, i int) (Event, error) {
	if len(line)-i < 2 || line[i+1] != ':' {
		return Event{}, p.errAt(i+1, "expected C:, S:, D:, *: or #")
	}
	var kind Kind
	switch line[i] {
	case 'C':
		kind = Client
	case 'S':
		kind = Server
	case 'D':
		kind = Data
	case '*':
		return p.parseStar(line, i+2)
	default:
		return Event{}, p.errAt(i+1, "expected C:, S:, D:, *: or #")
	}
	i += 2
	text, quoted, err := p.lineText(line, i)
	if err != nil {
		return Event{}, err
	}
	e := Event{Kind: kind, Text: text}
	// Only the raw form marks a redaction; the quoted form is always literal.
	e.Redacted = kind == Client && !quoted && redactedForm(text)
	return e, nil
}

// lineText reads what follows "C:": nothing, a space and the raw text, or the
// quoted form.
func (p *parser) lineText(line string, i int) (text string, quoted bool, err error) {
	rest := line[i:]
	switch {
	case rest == "":
	case rest[0] == ' ':
		text = rest[1:]
	case rest[0] == '"':
		v, n, ok := unquotePrefix(rest)
		if !ok {
			return "", false, p.errAt(i+1, "bad quoted line: it must be one Go double-quoted string")
		}
		if n != len(rest) {
			return "", false, p.errAt(i+n+1, "unexpected text after the quoted line")
		}
		text, quoted = v, true
	default:
		return "", false, p.errAt(i+1, "expected a space or a quote after %q", line[i-2:i])
	}
	if len(text) > MaxTextBytes {
		return "", false, p.errAt(i+1, "text is %d bytes long; the limit is %d", len(text), MaxTextBytes)
	}
	return text, quoted, nil
}

// freeText reads a Note's text or a Close reason starting at line[i] (after
// its separating space): raw, or quoted when it starts with a quote.
func (p *parser) freeText(line string, i int) (string, error) {
	rest := line[i:]
	if rest != "" && rest[0] == '"' {
		v, n, ok := unquotePrefix(rest)
		if !ok {
			return "", p.errAt(i+1, "bad quoted text: it must be one Go double-quoted string")
		}
		if n != len(rest) {
			return "", p.errAt(i+n+1, "unexpected text after the quoted text")
		}
		rest = v
	}
	if len(rest) > MaxTextBytes {
		return "", p.errAt(i+1, "text is %d bytes long; the limit is %d", len(rest), MaxTextBytes)
	}
	return rest, nil
}

// parseStar reads a "*:" event; i is just after the colon.
func (p *parser) parseStar(line string, i int) (Event, error) {
	if i >= len(line) || line[i] != ' ' {
		return Event{}, p.errAt(i+1, "expected a space and an event kind after \"*:\"")
	}
	i++
	body := i
	end := i
	for end < len(line) && line[end] != ' ' {
		end++
	}
	if end == i {
		return Event{}, p.errAt(i+1, "expected an event kind after \"*: \"")
	}
	name := line[i:end]
	i = end
	switch name {
	case "tls":
		return p.parseTLS(line, i)
	case "connect":
		return p.parseConnect(line, i)
	case "close":
		return p.parseClose(line, i)
	case "gap":
		return p.parseGap(line, i)
	case "note":
		e := Event{Kind: Note}
		if i < len(line) {
			var err error
			if e.Text, err = p.freeText(line, i+1); err != nil {
				return Event{}, err
			}
		}
		return e, nil
	}
	// A kind from a newer smtpsh: keep its text as a note rather than
	// lose it or refuse the whole file.
	if len(line)-body > MaxTextBytes {
		return Event{}, p.errAt(body+1, "text is %d bytes long; the limit is %d", len(line)-body, MaxTextBytes)
	}
	return Event{Kind: Note, Text: line[body:]}, nil
}

// word reads one word at line[i] after skipping spaces: a bare word up to the
// next space ("-" for empty) or a Go-quoted string. It reports where the
// word started, for errors.
func (p *parser) word(line string, i int, what string) (val string, start, next int, err error) {
	if i >= len(line) || line[i] != ' ' {
		return "", i, i, p.errAt(i+1, "expected a space and the %s", what)
	}
	for i < len(line) && line[i] == ' ' {
		i++
	}
	if i == len(line) {
		return "", i, i, p.errAt(i+1, "expected the %s", what)
	}
	return p.wordValue(line, i, what)
}

func (p *parser) wordValue(line string, i int, what string) (val string, start, next int, err error) {
	start = i
	if i < len(line) && line[i] == '"' {
		v, n, ok := unquotePrefix(line[i:])
		if !ok {
			return "", start, i, p.errAt(i+1, "bad quoted %s", what)
		}
		i += n
		if i < len(line) && line[i] != ' ' {
			return "", start, i, p.errAt(i+1, "expected a space after the quoted %s", what)
		}
		val = v
	} else {
		for i < len(line) && line[i] != ' ' {
			i++
		}
		if val = line[start:i]; val == "-" {
			val = ""
		}
	}
	if len(val) > MaxWordBytes {
		return "", start, i, p.errAt(start+1, "%s is %d bytes long; the limit is %d", what, len(val), MaxWordBytes)
	}
	return val, start, i, nil
}

// attrs reads " key=word" pairs to the end of the line, calling set for each;
// set reports whether it knows the key.
func (p *parser) attrs(line string, i int, set func(key, val string) bool) error {
	seen := map[string]bool{}
	for i < len(line) {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i == len(line) {
			break
		}
		k := i
		for i < len(line) && line[i] != '=' && line[i] != ' ' {
			i++
		}
		if i == len(line) || line[i] != '=' {
			return p.errAt(k+1, "expected key=value")
		}
		key := line[k:i]
		val, _, next, err := p.wordValue(line, i+1, key)
		if err != nil {
			return err
		}
		if seen[key] {
			return p.errAt(k+1, "%s= given twice", key)
		}
		seen[key] = true
		if !set(key, val) {
			return p.errAt(k+1, "unknown attribute %q", key)
		}
		i = next
	}
	return nil
}

// parseTLS reads "tls VERSION CIPHER [cert=…] [sni=…] [alpn=…]".
func (p *parser) parseTLS(line string, i int) (Event, error) {
	var info TLSInfo
	var err error
	if info.Version, _, i, err = p.word(line, i, "TLS version"); err != nil {
		return Event{}, err
	}
	if info.CipherSuite, _, i, err = p.word(line, i, "cipher suite"); err != nil {
		return Event{}, err
	}
	err = p.attrs(line, i, func(k, v string) bool {
		switch k {
		case "cert":
			info.CertSubject = v
		case "sni":
			info.ServerName = v
		case "alpn":
			info.ALPN = v
		default:
			return false
		}
		return true
	})
	if err != nil {
		return Event{}, err
	}
	return Event{Kind: TLS, TLS: &info}, nil
}

// parseConnect reads "connect ADDR [via=PROXY]".
func (p *parser) parseConnect(line string, i int) (Event, error) {
	e := Event{Kind: Connect}
	var err error
	if e.Addr, _, i, err = p.word(line, i, "address"); err != nil {
		return Event{}, err
	}
	err = p.attrs(line, i, func(k, v string) bool {
		if k != "via" {
			return false
		}
		e.Via = v
		return true
	})
	if err != nil {
		return Event{}, err
	}
	return e, nil
}

func (p *parser) side(line string, i int) (Side, int, error) {
	name, start, next, err := p.word(line, i, "side (client, server or unknown)")
	if err != nil {
		return 0, 0, err
	}
	s, ok := sideByName(name)
	if !ok || line[start] == '"' {
		return 0, 0, p.errAt(start+1, "side must be client, server or unknown, not %q", name)
	}
	return s, next, nil
}

// parseClose reads "close SIDE [reason]".
func (p *parser) parseClose(line string, i int) (Event, error) {
	s, i, err := p.side(line, i)
	if err != nil {
		return Event{}, err
	}
	e := Event{Kind: Close, Side: s}
	if i < len(line) {
		if e.Text, err = p.freeText(line, i+1); err != nil {
			return Event{}, err
		}
	}
	return e, nil
}

// parseGap reads "gap SIDE N bytes".
func (p *parser) parseGap(line string, i int) (Event, error) {
	s, i, err := p.side(line, i)
	if err != nil {
		return Event{}, err
	}
	n, start, i, err := p.word(line, i, "number of bytes lost")
	if err != nil {
		return Event{}, err
	}
	count, perr := strconv.ParseInt(n, 10, 64)
	if perr != nil || n == "" || n[0] < '0' || n[0] > '9' || line[start] == '"' {
		return Event{}, p.errAt(start+1, "expected a number of bytes, not %q", n)
	}
	if line[i:] != " bytes" {
		return Event{}, p.errAt(i+1, "expected \" bytes\" to end the gap")
	}
	return Event{Kind: Gap, Side: s, Bytes: count}, nil
}

// parseMeta reads a '#' line: metadata ("# key: value  key: value") when it
// starts with a key and a colon, a comment otherwise.
func (p *parser) parseMeta(line string) error {
	if strings.HasPrefix(line, "# smtpsh transcript ") {
		return p.errAt(1, "a second transcript header: Parse reads one transcript per file")
	}
	// Editors strip trailing blanks, so values never end in one (the
	// writer quotes those that do).
	line = strings.TrimRight(line, " \t")
	if !strings.HasPrefix(line, "# ") || metaKeyEnd(line, 2) < 0 {
		return nil
	}
	i := 2
	for {
		end := metaKeyEnd(line, i)
		if end < 0 {
			return p.errAt(i+1, "expected \"key: value\" (keys are lower-case) after two spaces")
		}
		key := line[i:end]
		i = end + 2
		var val string
		if i < len(line) && line[i] == '"' {
			v, n, ok := unquotePrefix(line[i:])
			if !ok {
				return p.errAt(i+1, "bad quoted value for %s", key)
			}
			val = v
			i += n
			if i < len(line) && line[i] != ' ' {
				return p.errAt(i+1, "expected two spaces after the quoted value of %s", key)
			}
		} else {
			j := strings.Index(line[i:], "  ")
			if j < 0 {
				j = len(line) - i
			}
			val = line[i : i+j]
			i += j
		}
		if err := p.setMeta(key, val, end-len(key)+1); err != nil {
			return err
		}
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i == len(line) {
			return nil
		}
	}
}

// metaKeyEnd returns where the key that starts at line[i] ends if it is
// followed by ": ", or -1.
func metaKeyEnd(line string, i int) int {
	j := i
	for j < len(line) && line[j] != ':' && line[j] != ' ' {
		j++
	}
	if j == i || !strings.HasPrefix(line[j:], ": ") || !validMetaKey(line[i:j]) {
		return -1
	}
	return j
}

func (p *parser) setMeta(key, val string, col int) error {
	if p.seen[key] {
		return p.errAt(col, "metadata %s given twice", key)
	}
	p.seen[key] = true
	if len(val) > MaxWordBytes {
		return p.errAt(col, "%s is %d bytes long; the limit is %d", key, len(val), MaxWordBytes)
	}
	t := p.t
	switch key {
	case "server":
		t.Server = val
	case "client":
		t.Client = val
	case "source":
		t.Source = val
	case "started":
		st, err := time.Parse(time.RFC3339Nano, val)
		if err != nil {
			return p.errAt(col, "started: want an RFC 3339 time like 2026-11-25T19:10:00Z, got %q", val)
		}
		if msg := checkTime("started", st); msg != "" {
			return p.errAt(col, "%s", msg)
		}
		t.Started = st
	default:
		if len(t.Meta) >= MaxMeta {
			return p.errAt(col, "more than %d metadata keys", MaxMeta)
		}
		if t.Meta == nil {
			t.Meta = map[string]string{}
		}
		t.Meta[key] = val
	}
	return nil
}

// finish applies relative times now that Started is known, and checks the
// result the way the writers will, so that whatever Parse returns can be
// written and read back.
func (p *parser) finish() (*Transcript, error) {
	t := p.t
	for _, o := range p.offsets {
		if t.Started.IsZero() {
			return nil, &ParseError{Line: p.lines[o.event], Column: 1, Msg: "a relative time needs a \"started:\" time in the metadata"}
		}
		t.Events[o.event].Time = t.Started.Add(o.d)
	}
	if err := t.Validate(); err != nil {
		var ie *InvalidError
		if errors.As(err, &ie) && ie.Event >= 0 && ie.Event < len(p.lines) {
			return nil, &ParseError{Line: p.lines[ie.Event], Msg: ie.Msg}
		}
		var msg string
		if ie != nil {
			msg = ie.Msg
		} else {
			msg = err.Error()
		}
		return nil, &ParseError{Msg: msg}
	}
	return t, nil
}
