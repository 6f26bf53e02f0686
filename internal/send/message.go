package send

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxFile bounds each file `smtpsh send` reads (a body, an attachment,
// --data), and MaxMessage the message it builds: the shell's :send bound.
const (
	MaxFile    = 50 << 20
	MaxMessage = 50 << 20
)

// maxLine is the longest line a message may hold without its CRLF (RFC
// 5322 §2.1.1).
const maxLine = 998

// Content is what the message is made of: its header fields and its
// body, with attachments.
type Content struct {
	// From is the header From (RFC 5322 §3.6.2), To and Cc the
	// destination fields (§3.6.3); Bcc never appears in the header.
	From   string
	To, Cc []string
	// Subject is the Subject field (RFC 5322 §3.6.5); non-ASCII text is
	// encoded as RFC 2047 words unless UTF8 is set.
	Subject string
	// Headers are extra fields, "Name: value"; one with the name of a
	// field Build writes replaces it (swaks' --header does the same).
	Headers []string
	// Body is the text of the message.
	Body []byte
	// Attachments are the files attached (name and bytes).
	Attachments []Attachment
	// EightBit lets a non-ASCII body go as 8bit (the server advertised
	// 8BITMIME and the MAIL command says BODY=8BITMIME, RFC 6152);
	// otherwise it is quoted-printable.
	EightBit bool
	// UTF8 lets header fields carry UTF-8 as is (RFC 6532, with SMTPUTF8).
	UTF8 bool
	// Domain is the right side of the Message-ID (RFC 5322 §3.6.4).
	Domain string
	// Now is the Date; Random makes the Message-ID and the MIME boundary.
	Now    time.Time
	Random io.Reader
}

// Attachment is one attached file.
type Attachment struct {
	Name string // the file name, as the recipient sees it
	Data []byte
	// Type is the content type; empty means guessed from Name's
	// extension, then from the bytes.
	Type string
}

// ReadAttachment reads the file at path as an attachment: at most
// MaxFile bytes, a regular file.
func ReadAttachment(path string) (Attachment, error) {
	b, err := ReadFile(path)
	if err != nil {
		return Attachment{}, err
	}
	return Attachment{Name: filepath.Base(path), Data: b}, nil
}

// ReadFile reads a regular file of at most MaxFile bytes.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	return readBounded(f, path)
}

// readBounded reads r up to MaxFile bytes; more is an error.
func readBounded(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > MaxFile {
		return nil, fmt.Errorf("%s: more than %d bytes", name, MaxFile)
	}
	return b, nil
}

// ReadText resolves a --body or --data value: "@FILE" is the file's
// bytes, "-" is stdin, anything else is the text itself.
func ReadText(arg string, stdin io.Reader) ([]byte, error) {
	switch {
	case arg == "-":
		return readBounded(stdin, "stdin")
	case strings.HasPrefix(arg, "@"):
		return ReadFile(arg[1:])
	}
	return []byte(arg), nil
}

// ContentType returns the content type of an attachment: from its file
// name's extension (mime.TypeByExtension), else sniffed from its bytes
// (http.DetectContentType, the WHATWG algorithm).
func ContentType(name string, data []byte) string {
	if t := mime.TypeByExtension(filepath.Ext(name)); t != "" {
		return t
	}
	return http.DetectContentType(data)
}

// textual reports whether data can go as quoted-printable text: a text/*
// type (or one that says its charset), valid UTF-8 and no NUL. Anything
// else is binary and goes as base64 (RFC 2045 §6).
func textual(ctype string, data []byte) bool {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return false
	}
	if !strings.HasPrefix(mt, "text/") && params["charset"] == "" {
		return false
	}
	return utf8.Valid(data) && bytes.IndexByte(data, 0) < 0
}

// Build returns the message c describes, with CRLF line ends: Date,
// Message-ID, From, To, Cc, Subject, the extra fields, then the body. A
// message with attachments is multipart/mixed (RFC 2046 §5.1.3): the body
// as its first part, then each file, base64 for binary and
// quoted-printable for text (RFC 2045 §6). A non-ASCII body is 8bit when
// c.EightBit, quoted-printable otherwise. Header values may not hold a
// line break (no header injection).
func Build(c Content) ([]byte, error) {
	if c.Random == nil {
		c.Random = rand.Reader
	}
	id := make([]byte, 12)
	if _, err := io.ReadFull(c.Random, id); err != nil {
		return nil, fmt.Errorf("making a Message-ID: %w", err)
	}
	domain := c.Domain
	if domain == "" || strings.ContainsAny(domain, "<>@ \t\r\n") {
		domain = "localhost"
	}
	h := header{utf8: c.UTF8}
	h.add("Date", c.Now.Format(time.RFC1123Z))
	h.add("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	h.add("From", c.From)
	if len(c.To) > 0 {
		h.add("To", strings.Join(c.To, ", "))
	}
	if len(c.Cc) > 0 {
		h.add("Cc", strings.Join(c.Cc, ", "))
	}
	h.addText("Subject", c.Subject)
	h.add("MIME-Version", "1.0")
	for _, f := range c.Headers {
		name, value, ok := strings.Cut(f, ":")
		name = strings.TrimSpace(name)
		if !ok || !validFieldName(name) {
			return nil, fmt.Errorf("--header %q: want \"Name: value\" (RFC 5322 §2.2: printable ASCII but ':' and space in the name)", f)
		}
		h.set(name, strings.TrimSpace(value))
	}
	body := c.Body
	var b bytes.Buffer
	if len(c.Attachments) == 0 {
		ctype, cte, enc := bodyEncoding(body, c.EightBit)
		h.setDefault("Content-Type", ctype)
		h.setDefault("Content-Transfer-Encoding", cte)
		if err := h.write(&b); err != nil {
			return nil, err
		}
		if err := enc(&b, body); err != nil {
			return nil, err
		}
		return finish(b.Bytes())
	}
	boundary := make([]byte, 15)
	if _, err := io.ReadFull(c.Random, boundary); err != nil {
		return nil, fmt.Errorf("making a MIME boundary: %w", err)
	}
	var parts bytes.Buffer
	mw := multipart.NewWriter(&parts)
	// RFC 2046 §5.1.1: the boundary must not occur in the parts; base64
	// and quoted-printable text cannot hold "=_" at a line start.
	if err := mw.SetBoundary("=_smtpsh_" + hex.EncodeToString(boundary)); err != nil {
		return nil, err
	}
	h.setDefault("Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mw.Boundary()}))
	if err := h.write(&b); err != nil {
		return nil, err
	}
	b.WriteString("This is a multi-part message in MIME format.\r\n")
	ctype, cte, enc := bodyEncoding(body, c.EightBit)
	if err := writePart(mw, textproto.MIMEHeader{"Content-Type": {ctype}, "Content-Transfer-Encoding": {cte}}, body, enc); err != nil {
		return nil, err
	}
	for _, a := range c.Attachments {
		ctype := a.Type
		if ctype == "" {
			ctype = ContentType(a.Name, a.Data)
		}
		cte, enc := "base64", writeBase64
		if textual(ctype, a.Data) {
			cte, enc = "quoted-printable", writeQP
		}
		ph := textproto.MIMEHeader{
			"Content-Type":              {ctype},
			"Content-Transfer-Encoding": {cte},
			// RFC 2183 §2; FormatMediaType encodes a non-ASCII name
			// as RFC 2231 says.
			"Content-Disposition": {mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})},
		}
		if err := writePart(mw, ph, a.Data, enc); err != nil {
			return nil, fmt.Errorf("attachment %s: %w", a.Name, err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	b.Write(parts.Bytes())
	return finish(b.Bytes())
}

// finish turns every line end into CRLF, checks the line lengths and the
// size.
func finish(msg []byte) ([]byte, error) {
	msg = bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	msg = bytes.ReplaceAll(msg, []byte("\n"), []byte("\r\n"))
	if len(msg) > 0 && !bytes.HasSuffix(msg, []byte("\r\n")) {
		msg = append(msg, '\r', '\n')
	}
	if len(msg) > MaxMessage {
		return nil, fmt.Errorf("the message is %d bytes, more than %d", len(msg), MaxMessage)
	}
	for i, l := range bytes.Split(msg, []byte("\r\n")) {
		if len(l) > maxLine {
			return nil, fmt.Errorf("line %d of the message is %d octets, more than RFC 5322 §2.1.1 allows (%d): attach the text as a file instead", i+1, len(l), maxLine)
		}
	}
	return msg, nil
}

// encoder writes data in a transfer encoding.
type encoder func(w io.Writer, data []byte) error

// bodyEncoding chooses the body's type and transfer encoding: 7bit for
// ASCII with short lines, 8bit for UTF-8 when allowed (RFC 6152),
// quoted-printable otherwise (RFC 2045 §6.7); bytes that are not UTF-8
// are binary data, sent as base64 with no charset claimed.
func bodyEncoding(body []byte, eightBit bool) (ctype, cte string, enc encoder) {
	ascii, long := true, false
	for _, l := range bytes.Split(body, []byte("\n")) {
		if len(l) > maxLine-2 {
			long = true
		}
	}
	for _, c := range body {
		if c >= 0x80 || c == 0 {
			ascii = false
			break
		}
	}
	switch {
	case !utf8.Valid(body) || bytes.IndexByte(body, 0) >= 0:
		return "application/octet-stream", "base64", writeBase64
	case ascii && !long:
		return "text/plain; charset=us-ascii", "7bit", writeRaw
	case !ascii && eightBit && !long:
		return "text/plain; charset=utf-8", "8bit", writeRaw
	case ascii:
		return "text/plain; charset=us-ascii", "quoted-printable", writeQP
	}
	return "text/plain; charset=utf-8", "quoted-printable", writeQP
}

func writeRaw(w io.Writer, data []byte) error {
	_, err := w.Write(data)
	return err
}

// writeQP writes data as quoted-printable (RFC 2045 §6.7), its line ends
// kept as hard line breaks.
func writeQP(w io.Writer, data []byte) error {
	qw := quotedprintable.NewWriter(w)
	if _, err := qw.Write(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))); err != nil {
		return err
	}
	return qw.Close()
}

// writeBase64 writes data as base64 in lines of 76 characters (RFC 2045
// §6.8).
func writeBase64(w io.Writer, data []byte) error {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		if _, err := io.WriteString(w, enc[:76]+"\r\n"); err != nil {
			return err
		}
		enc = enc[76:]
	}
	_, err := io.WriteString(w, enc+"\r\n")
	return err
}

// writePart writes one part of a multipart body.
func writePart(mw *multipart.Writer, h textproto.MIMEHeader, data []byte, enc encoder) error {
	pw, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if err := enc(pw, data); err != nil {
		return err
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		_, err = io.WriteString(pw, "\r\n")
	}
	return err
}

// header is a message header being built: fields in order, one per name.
type header struct {
	fields [][2]string
	utf8   bool
}

func (h *header) index(name string) int {
	for i, f := range h.fields {
		if strings.EqualFold(f[0], name) {
			return i
		}
	}
	return -1
}

func (h *header) add(name, value string) { h.fields = append(h.fields, [2]string{name, value}) }

// set replaces the field called name, or adds it.
func (h *header) set(name, value string) {
	if i := h.index(name); i >= 0 {
		h.fields[i] = [2]string{name, value}
		return
	}
	h.add(name, value)
}

// setDefault adds a field unless --header gave it.
func (h *header) setDefault(name, value string) {
	if h.index(name) < 0 {
		h.add(name, value)
	}
}

// addText adds an unstructured field, as RFC 2047 encoded words when it
// is not ASCII and UTF-8 headers are not allowed.
func (h *header) addText(name, value string) {
	if !h.utf8 && !isASCII(value) {
		value = mime.QEncoding.Encode("utf-8", value)
	}
	h.add(name, value)
}

func (h *header) write(b *bytes.Buffer) error {
	for _, f := range h.fields {
		if strings.ContainsAny(f[1], "\r\n") {
			return fmt.Errorf("the %s header field holds a line break", f[0])
		}
		if !h.utf8 && !isASCII(f[1]) {
			return fmt.Errorf("the %s header field is not ASCII: --smtputf8 allows UTF-8 in header fields (RFC 6532)", f[0])
		}
		if !utf8.ValidString(f[1]) {
			return fmt.Errorf("the %s header field is not UTF-8", f[0])
		}
		b.WriteString(f[0] + ": " + f[1] + "\r\n")
	}
	b.WriteString("\r\n")
	return nil
}

// validFieldName reports whether name is an RFC 5322 §3.6.8 field name:
// printable US-ASCII but ':'.
func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
