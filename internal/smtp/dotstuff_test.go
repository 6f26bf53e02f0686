package smtp

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDotWriter(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"empty message", "", ".\r\n"},
		{"ends with CRLF", "Subject: hi\r\n\r\nhello\r\n", "Subject: hi\r\n\r\nhello\r\n.\r\n"},
		{"no final line break", "hello", "hello\r\n.\r\n"},
		{"leading dot doubled", ".leading\r\n", "..leading\r\n.\r\n"},
		{"a lone dot line", "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"},
		{"dot in the middle untouched", "a.b\r\n", "a.b\r\n.\r\n"},
		{"bare LF becomes CRLF", "a\n.b\n", "a\r\n..b\r\n.\r\n"},
		{"bare CR becomes CRLF", "a\r.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
		{"smuggling attempt is defused", "x\n.\nMAIL FROM:<evil@example.com>\r\n",
			"x\r\n..\r\nMAIL FROM:<evil@example.com>\r\n.\r\n"},
		{"trailing CR", "x\r", "x\r\n.\r\n"},
		{"CR CR LF", "x\r\r\n", "x\r\n\r\n.\r\n"},
		{"long line past the buffer", strings.Repeat("y", 10000) + "\r\n.z", strings.Repeat("y", 10000) + "\r\n..z\r\n.\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range []string{"one write", "byte by byte", "random"} {
				var b bytes.Buffer
				w := NewDotWriter(&b)
				writeSplit(t, w, []byte(tt.body), split)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if b.String() != tt.want {
					t.Errorf("%s: wrote %q, want %q", split, b.String(), tt.want)
				}
			}
		})
	}
}

func writeSplit(t *testing.T, w io.Writer, p []byte, how string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, uint64(len(p))))
	for len(p) > 0 {
		n := len(p)
		switch how {
		case "byte by byte":
			n = 1
		case "random":
			n = 1 + rng.IntN(len(p))
		}
		m, err := w.Write(p[:n])
		if err != nil || m != n {
			t.Fatalf("Write = %d, %v; want %d", m, err, n)
		}
		p = p[n:]
	}
}

func TestDotWriterClose(t *testing.T) {
	var b bytes.Buffer
	w := NewDotWriter(&b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil || b.String() != ".\r\n" {
		t.Errorf("second Close: %v, output %q", err, b.String())
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	fw := NewDotWriter(failWriter{})
	fw.Write([]byte("x"))
	if err := fw.Close(); err == nil {
		t.Error("Close hid the write error")
	}
}

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, errors.New("connection reset") }

// readDot reads all of a DotReader with the given read sizes over a
// bufio.Reader of the given size fed one byte at a time if oneByte.
func readDot(in string, opt *DotOptions, bufSize, readSize int, oneByte bool) (string, *DotReader, *bufio.Reader, error) {
	var src io.Reader = strings.NewReader(in)
	if oneByte {
		src = iotest.OneByteReader(src)
	}
	br := bufio.NewReaderSize(src, bufSize)
	d := NewDotReader(br, opt)
	var out bytes.Buffer
	p := make([]byte, readSize)
	for {
		n, err := d.Read(p)
		out.Write(p[:n])
		if err == io.EOF {
			return out.String(), d, br, nil
		}
		if err != nil {
			return out.String(), d, br, err
		}
	}
}

type dw = DataWarning

func TestDotReader(t *testing.T) {
	tests := []struct {
		name  string
		in    string // a trailing "QUIT\r\n" is added to check nothing past the end is read
		want  string
		warns []DataWarning
	}{
		{"empty message", ".\r\n", "", nil},
		{"simple message", "Subject: hi\r\n\r\nhello\r\n.\r\n", "Subject: hi\r\n\r\nhello\r\n", nil},
		{"stuffed dot", "..leading dot\r\n.\r\n", ".leading dot\r\n", nil},
		{"stuffed lone dot", "a\r\n..\r\n.\r\n", "a\r\n.\r\n", nil},
		{"dot mid-line", "a.b\r\n.\r\n", "a.b\r\n", nil},
		{"unstuffed dot is removed anyway (RFC 5321 §4.5.2)", ".x\r\n.\r\n", "x\r\n", nil},
		{"dot then space", ". \r\n.\r\n", " \r\n", nil},
		// SMTP smuggling (SEC Consult 2023): each form is data, recorded.
		{"smuggling LF.LF", "a\n.\nMAIL FROM:<x@y>\r\n.\r\n", "a\n.\nMAIL FROM:<x@y>\r\n",
			[]dw{{BareLF, 1, 1, ""}, {AmbiguousEnd, 1, 2, "\n.\n"}, {BareLF, 3, 2, ""}}},
		{"smuggling LF.CRLF", "a\n.\r\nb\r\n.\r\n", "a\n.\r\nb\r\n",
			[]dw{{BareLF, 1, 1, ""}, {AmbiguousEnd, 1, 2, "\n.\r\n"}}},
		{"smuggling CRLF.LF", "a\r\n.\nb\r\n.\r\n", "a\r\n\nb\r\n",
			[]dw{{AmbiguousEnd, 1, 2, "\r\n.\n"}, {BareLF, 4, 2, ""}}},
		{"smuggling CR.CR", "a\r.\rb\r\n.\r\n", "a\r.\rb\r\n",
			[]dw{{BareCR, 1, 1, ""}, {AmbiguousEnd, 1, 1, "\r.\r"}, {BareCR, 3, 1, ""}}},
		{"smuggling CR.CRLF", "a\r.\r\nb\r\n.\r\n", "a\r.\r\nb\r\n",
			[]dw{{BareCR, 1, 1, ""}, {AmbiguousEnd, 1, 1, "\r.\r\n"}}},
		{"smuggling CRLF.CR", "a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n",
			[]dw{{AmbiguousEnd, 1, 2, "\r\n.\r"}, {BareCR, 4, 2, ""}}},
		{"ambiguous at the very start", ".\nb\r\n.\r\n", "\nb\r\n",
			[]dw{{AmbiguousEnd, 0, 1, ".\n"}, {BareLF, 1, 1, ""}}},
		{"bare LF in text", "a\nb\r\n.\r\n", "a\nb\r\n", []dw{{BareLF, 1, 1, ""}}},
		{"bare CR in text", "a\rb\r\n.\r\n", "a\rb\r\n", []dw{{BareCR, 1, 1, ""}}},
		{"CR CR LF", "a\r\r\n.\r\n", "a\r\r\n", []dw{{BareCR, 1, 1, ""}}},
		{"1000-octet line is fine", strings.Repeat("x", 998) + "\r\n.\r\n", strings.Repeat("x", 998) + "\r\n", nil},
		{"stuffed dot not counted", ".." + strings.Repeat("x", 997) + "\r\n.\r\n", "." + strings.Repeat("x", 997) + "\r\n", nil},
		{"1001-octet line", strings.Repeat("x", 999) + "\r\n.\r\n", strings.Repeat("x", 999) + "\r\n",
			[]dw{{LongLine, 1000, 1, ""}}},
		{"long second line", "a\r\n" + strings.Repeat("x", 1500) + "\r\n.\r\n", "a\r\n" + strings.Repeat("x", 1500) + "\r\n",
			[]dw{{LongLine, 1003, 2, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				buf, read int
				oneByte   bool
			}{{4096, 4096, false}, {16, 1, true}, {16, 3, false}, {64, 7, true}} {
				got, d, br, err := readDot(tt.in+"QUIT\r\n", nil, c.buf, c.read, c.oneByte)
				if err != nil {
					t.Fatalf("%+v: %v", c, err)
				}
				if got != tt.want {
					t.Errorf("%+v: read %q, want %q", c, got, tt.want)
				}
				if !reflect.DeepEqual(d.Warnings(), tt.warns) {
					t.Errorf("%+v: warnings\n got %v\nwant %v", c, d.Warnings(), tt.warns)
				}
				if rest, _ := io.ReadAll(br); string(rest) != "QUIT\r\n" {
					t.Errorf("%+v: after the data %q is left, want the next command", c, rest)
				}
			}
		})
	}
}

func TestDotReaderErrors(t *testing.T) {
	t.Run("input ends early", func(t *testing.T) {
		got, _, _, err := readDot("abc\r\n", nil, 4096, 4096, false)
		if !errors.Is(err, io.ErrUnexpectedEOF) || got != "abc\r\n" {
			t.Errorf("read %q, %v; want the text and io.ErrUnexpectedEOF", got, err)
		}
	})
	t.Run("reject ambiguous end", func(t *testing.T) {
		opt := &DotOptions{RejectAmbiguousEnd: true}
		in := "a\n.\nRCPT TO:<victim@example.com>\r\n.\r\nQUIT\r\n"
		got, d, br, err := readDot(in, opt, 4096, 4096, false)
		var se *SmugglingError
		if !errors.As(err, &se) || se.Warning.Form != "\n.\n" || se.Warning.Offset != 1 {
			t.Fatalf("error %v, want SmugglingError for \"\\n.\\n\" at offset 1", err)
		}
		if got != "a\n" {
			t.Errorf("read %q before the error, want %q", got, "a\n")
		}
		if err := d.Discard(); err != nil {
			t.Fatalf("Discard: %v", err)
		}
		if rest, _ := io.ReadAll(br); string(rest) != "QUIT\r\n" {
			t.Errorf("after Discard %q is left, want the next command", rest)
		}
	})
	t.Run("reject long lines", func(t *testing.T) {
		opt := &DotOptions{MaxLineLength: 10, RejectLongLines: true}
		got, d, br, err := readDot("short\r\n"+strings.Repeat("z", 20)+"\r\n.\r\nQUIT\r\n", opt, 16, 5, true)
		var le *LineTooLongError
		if !errors.As(err, &le) || le.Limit != 10 || le.Line != 2 {
			t.Fatalf("error %v, want LineTooLongError limit 10 line 2", err)
		}
		if got != "short\r\n"+strings.Repeat("z", 10) {
			t.Errorf("read %q before the error, want the text up to the limit", got)
		}
		if _, err := d.Read(make([]byte, 10)); !errors.As(err, &le) {
			t.Errorf("error not sticky: %v", err)
		}
		if err := d.Discard(); err != nil {
			t.Fatalf("Discard: %v", err)
		}
		if rest, _ := io.ReadAll(br); string(rest) != "QUIT\r\n" {
			t.Errorf("after Discard %q is left", rest)
		}
	})
	t.Run("warnings are bounded", func(t *testing.T) {
		_, d, _, err := readDot(strings.Repeat("a\n", 100)+"\r\n.\r\n", nil, 4096, 4096, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Warnings()) != DefaultMaxDataWarnings || d.DroppedWarnings() != 100-DefaultMaxDataWarnings {
			t.Errorf("%d warnings kept, %d dropped", len(d.Warnings()), d.DroppedWarnings())
		}
	})
}

func TestDotDataWarningString(t *testing.T) {
	w := DataWarning{Kind: AmbiguousEnd, Offset: 12, Line: 3, Form: "\n.\r\n"}
	if got, want := w.String(), `line 3, offset 12: ambiguous end of data "\n.\r\n"`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// Unstuffing then stuffing a canonically stuffed, CRLF-clean input gives it
// back, and the helper tells canonical inputs from others.
func TestDotUnstuffStuff(t *testing.T) {
	for _, in := range []string{".\r\n", "a\r\n.\r\n", "..x\r\n...\r\n..\r\n.\r\n", "a.b\r\n\r\n.\r\n"} {
		if !canonicallyStuffed([]byte(in)) {
			t.Errorf("%q not seen as canonical", in)
		}
		got, _, _, err := readDot(in, nil, 4096, 4096, false)
		if err != nil || string(stuff([]byte(got))) != in {
			t.Errorf("stuff(unstuff(%q)) = %q, %v", in, stuff([]byte(got)), err)
		}
	}
	for _, in := range []string{".x\r\n.\r\n", "a\r\n. \r\n.\r\n"} {
		if canonicallyStuffed([]byte(in)) {
			t.Errorf("%q seen as canonical", in)
		}
	}
}

// Writing then reading returns any CRLF-clean body (with a final CRLF
// added if missing), byte for byte and without warnings.
func TestDotWriterReaderRoundTrip(t *testing.T) {
	for _, body := range []string{"", "x", "a\r\nb\r\n", ".\r\n", "..\r\n...\r\n", ". \r\n.x", strings.Repeat("line\r\n", 1000)} {
		checkDotRoundTrip(t, []byte(body))
	}
}

// normaliseCRLF is what NewDotWriter does to line breaks.
func normaliseCRLF(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n':
			out = append(out, '\r', '\n')
			i++
		case b[i] == '\r' || b[i] == '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, b[i])
		}
	}
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

func checkDotRoundTrip(t *testing.T, body []byte) {
	t.Helper()
	var wire bytes.Buffer
	w := NewDotWriter(&wire)
	if _, err := w.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wire.WriteString("NEXT")
	br := bufio.NewReader(&wire)
	d := NewDotReader(br, &DotOptions{MaxLineLength: 1 << 30})
	got, err := io.ReadAll(d)
	if err != nil {
		t.Fatalf("reading back %q: %v", body, err)
	}
	if want := normaliseCRLF(body); !bytes.Equal(got, want) {
		t.Fatalf("round trip of %q gave %q, want %q", body, got, want)
	}
	if d.Warnings() != nil {
		t.Fatalf("round trip of %q: warnings %v", body, d.Warnings())
	}
	if rest, _ := io.ReadAll(br); string(rest) != "NEXT" {
		t.Fatalf("round trip of %q: %q left after the data", body, rest)
	}
}

// stuff is an independent reference dot-stuffer for CRLF-clean text.
func stuff(body []byte) []byte {
	var out []byte
	for _, l := range bytes.SplitAfter(body, []byte("\r\n")) {
		if len(l) > 0 && l[0] == '.' {
			out = append(out, '.')
		}
		out = append(out, l...)
	}
	return append(out, ".\r\n"...)
}

// canonicallyStuffed reports whether every line of raw but the final "."
// that begins with '.' begins with "..", as a stuffer writes it; only then
// does stuffing the unstuffed text give raw back.
func canonicallyStuffed(raw []byte) bool {
	lines := bytes.SplitAfter(raw, []byte("\r\n"))
	for _, l := range lines[:len(lines)-2] { // the last two: ".\r\n" and ""
		if len(l) > 0 && l[0] == '.' && (len(l) < 2 || l[1] != '.') {
			return false
		}
	}
	return true
}

// crlfClean reports whether b has no CR or LF outside CRLF pairs.
func crlfClean(b []byte) bool {
	return bytes.Count(b, []byte("\r")) == bytes.Count(b, []byte("\r\n")) &&
		bytes.Count(b, []byte("\n")) == bytes.Count(b, []byte("\r\n"))
}

// FuzzDotReader checks that reading never panics and never outputs more
// than it consumed; that a properly ended, CRLF-clean, canonically stuffed
// input survives unstuff then stuff; and that writer-then-reader returns
// any body with its line breaks normalised.
func FuzzDotReader(f *testing.F) {
	for _, s := range []string{
		".\r\n", "Subject: hi\r\n\r\nhello\r\n.\r\n", "..leading\r\n.\r\n", "a\n.\nMAIL FROM:<x@y>\r\n.\r\n",
		"a\n.\r\nb\r\n.\r\n", "a\r\n.\nb\r\n.\r\n", "a\r.\rb\r\n.\r\n", "a\r.\r\nb\r\n.\r\n", "a\r\n.\rb\r\n.\r\n",
		".x\r\n.\r\n", "abc", "\r\n.\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		src := bytes.NewReader(in)
		br := bufio.NewReaderSize(src, 16)
		d := NewDotReader(br, &DotOptions{MaxLineLength: 40, MaxWarnings: 8})
		out, err := io.ReadAll(d)
		consumed := len(in) - src.Len() - br.Buffered()
		if len(out) > consumed {
			t.Fatalf("%d bytes out of %d consumed", len(out), consumed)
		}
		if len(d.Warnings()) > 8 {
			t.Fatalf("%d warnings kept, limit 8", len(d.Warnings()))
		}
		if err == nil {
			raw := in[:consumed]
			if crlfClean(raw) && canonicallyStuffed(raw) {
				if got := stuff(out); !bytes.Equal(got, raw) {
					t.Fatalf("stuff(unstuff(%q)) = %q", raw, got)
				}
			}
		} else if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("unexpected error %v", err)
		}
		checkDotRoundTrip(t, in)

		// EndOnAmbiguous (the smuggling profile) ends no later than the
		// strict reader, and never yields more than it consumed.
		src2 := bytes.NewReader(in)
		br2 := bufio.NewReaderSize(src2, 16)
		d2 := NewDotReader(br2, &DotOptions{MaxLineLength: 40, MaxWarnings: 8, EndOnAmbiguous: true})
		out2, err2 := io.ReadAll(d2)
		consumed2 := len(in) - src2.Len() - br2.Buffered()
		if len(out2) > consumed2 {
			t.Fatalf("EndOnAmbiguous: %d bytes out of %d consumed", len(out2), consumed2)
		}
		if err == nil && (err2 != nil || consumed2 > consumed) {
			t.Fatalf("EndOnAmbiguous read %d bytes (err %v) where the strict reader ended after %d", consumed2, err2, consumed)
		}
	})
}

// BenchmarkDotReader reads a 1 MiB message: headers, quoted text with
// leading dots, and base64 lines, as a mail client sends it.
func BenchmarkDotReader(b *testing.B) {
	var msg bytes.Buffer
	msg.WriteString("From: Alice <alice@example.com>\r\nTo: Bob <bob@example.net>\r\nSubject: report\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n\r\n")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; msg.Len() < 256<<10; i++ {
		if i%17 == 0 {
			msg.WriteString("..and a line that began with a dot\r\n")
		}
		fmt.Fprintf(&msg, "Line %d of the report, written in plain words of moderate length.\r\n", i)
	}
	msg.WriteString("--b1\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	raw := make([]byte, 57)
	for msg.Len() < 1<<20-10 {
		for j := range raw {
			raw[j] = byte(rng.Uint32())
		}
		msg.WriteString(base64.StdEncoding.EncodeToString(raw) + "\r\n")
	}
	msg.WriteString(".\r\n")
	data := msg.Bytes()
	src := bytes.NewReader(data)
	br := bufio.NewReaderSize(src, 64<<10)
	p := make([]byte, 32<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		src.Reset(data)
		br.Reset(src)
		d := NewDotReader(br, nil)
		for {
			_, err := d.Read(p)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if d.Warnings() != nil {
			b.Fatal(d.Warnings())
		}
	}
}

// BenchmarkDotWriter writes the same kind of body through NewDotWriter.
func BenchmarkDotWriter(b *testing.B) {
	var body bytes.Buffer
	for i := 0; body.Len() < 1<<20; i++ {
		fmt.Fprintf(&body, "Line %d of the report, written in plain words of moderate length.\r\n", i)
	}
	data := body.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w := NewDotWriter(io.Discard)
		w.Write(data)
		w.Close()
	}
}

func ExampleNewDotReader() {
	// A message hiding a second one behind "\n.\n", as SMTP smuggling does.
	data := "Subject: hi\r\n\r\nhello\n.\nMAIL FROM:<spoof@example.com>\r\n.\r\n"
	d := NewDotReader(bufio.NewReader(strings.NewReader(data)), nil)
	body, err := io.ReadAll(d)
	fmt.Printf("%q %v\n", body, err)
	for _, w := range d.Warnings() {
		fmt.Println(w)
	}
	// Output:
	// "Subject: hi\r\n\r\nhello\n.\nMAIL FROM:<spoof@example.com>\r\n" <nil>
	// line 3, offset 20: bare LF
	// line 4, offset 20: ambiguous end of data "\n.\n"
	// line 4, offset 22: bare LF
}

func ExampleNewDotWriter() {
	var b strings.Builder
	w := NewDotWriter(&b)
	io.WriteString(w, "Subject: hi\n\n.signature\n")
	w.Close()
	fmt.Printf("%q\n", b.String())
	// Output:
	// "Subject: hi\r\n\r\n..signature\r\n.\r\n"
}

// TestDotReaderEndOnAmbiguous: with EndOnAmbiguous the data ends at the
// first ambiguous terminator, as on a server vulnerable to SMTP smuggling,
// and what follows it stays in the reader as the next command (SEC Consult,
// "SMTP Smuggling", 2023). The strict end still ends the data.
func TestDotReaderEndOnAmbiguous(t *testing.T) {
	tests := []struct {
		name, in, body, rest, form string
	}{
		{"LF . LF", "hello\n.\nRSET\r\n", "hello\n", "RSET\r\n", "\n.\n"},
		{"CRLF . LF", "hello\r\n.\nRSET\r\n", "hello\r\n", "RSET\r\n", "\r\n.\n"},
		{"LF . CRLF", "hello\n.\r\nRSET\r\n", "hello\n", "RSET\r\n", "\n.\r\n"},
		{"CR . CR", "hello\r.\rRSET\r\n", "hello\r", "RSET\r\n", "\r.\r"},
		{"CR . CRLF", "hello\r.\r\nRSET\r\n", "hello\r", "RSET\r\n", "\r.\r\n"},
		{"strict end", "hello\r\n.\r\nRSET\r\n", "hello\r\n", "RSET\r\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tc.in))
			d := NewDotReader(br, &DotOptions{EndOnAmbiguous: true, RejectAmbiguousEnd: true})
			body, err := io.ReadAll(d)
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if string(body) != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != tc.rest {
				t.Errorf("left in the reader %q, want %q", rest, tc.rest)
			}
			var forms []string
			for _, w := range d.Warnings() {
				if w.Kind == AmbiguousEnd {
					forms = append(forms, w.Form)
				}
			}
			if tc.form == "" && len(forms) > 0 || tc.form != "" && (len(forms) != 1 || forms[0] != tc.form) {
				t.Errorf("ambiguous ends recorded %q, want %q", forms, tc.form)
			}
		})
	}
}
