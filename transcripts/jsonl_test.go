package transcripts

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeJSONL(t *testing.T, tr *Transcript, opts WriteOptions) string {
	t.Helper()
	var b strings.Builder
	if err := WriteJSONL(&b, tr, opts); err != nil {
		t.Fatalf("WriteJSONL: %v", err)
	}
	return b.String()
}

func TestWriteJSONLGolden(t *testing.T) {
	out := writeJSONL(t, labSession(), WriteOptions{Times: true})
	golden(t, "session.jsonl", []byte(out))
	got, err := ParseJSONL(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if want := Redact(labSession()); !got.Equal(want) {
		t.Errorf("ParseJSONL(WriteJSONL(t)) != t:\n%s", write(t, got, WriteOptions{Times: true, Secrets: true}))
	}
}

// TestTextJSONLText checks that the two formats carry the same information:
// every text transcript in testdata goes to JSON Lines and back to the same
// text, byte for byte.
func TestTextJSONLText(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) < 5 {
		t.Fatalf("glob: %v, %d files", err, len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			tr := mustParse(t, string(in))
			opts := WriteOptions{Times: true, Secrets: true}
			text := write(t, tr, opts)
			back, err := ParseJSONL(strings.NewReader(writeJSONL(t, tr, opts)))
			if err != nil {
				t.Fatal(err)
			}
			if again := write(t, back, opts); again != text {
				t.Errorf("text -> JSONL -> text changed it:\n%s\nwant\n%s", again, text)
			}
		})
	}
}

func TestJSONLFields(t *testing.T) {
	tr := &Transcript{Started: started}
	tr.AddClient(started.Add(4*time.Millisecond), "AUTH PLAIN AHN0dWRlbnQAaHVudGVyMg==")
	tr.AddData(time.Time{}, "caf\xe9 <b>&amp;</b>")
	tr.AddGap(time.Time{}, SideClient, 1460)
	tr.AddClose(time.Time{}, SideUnknown, "")
	out := writeJSONL(t, tr, WriteOptions{Times: true})
	want := `{"format":"smtpsh transcript","version":1,"started":"2026-11-25T19:10:00Z"}
{"kind":"client","time":"2026-11-25T19:10:00.004Z","text":"AUTH PLAIN <redacted>","redacted":true}
{"kind":"data","text_base64":"Y2Fm6SA8Yj4mYW1wOzwvYj4="}
{"kind":"gap","side":"client","bytes":1460}
{"kind":"close","side":"unknown"}
`
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	back, err := ParseJSONL(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(Redact(tr)) {
		t.Errorf("read back %+v", back.Events)
	}
}

func TestParseJSONLErrors(t *testing.T) {
	h := `{"format":"smtpsh transcript","version":1,"started":"2026-11-25T19:10:00Z"}` + "\n"
	cases := []struct {
		name      string
		in        string
		line, col int
		msg       string
	}{
		{"empty", "\n\n", 0, 0, "empty input"},
		{"not a transcript", `{"hello":1}` + "\n", 1, 0, "not an smtpsh transcript"},
		{"text format", header + "\n", 1, 1, "bad JSON"},
		{"future version", `{"format":"smtpsh transcript","version":2}` + "\n", 1, 0, "version 2"},
		{"bad JSON", h + `{"kind":"client",` + "\n", 2, 17, "bad JSON"},
		{"wrong type", h + `{"kind":"gap","side":"client","bytes":"many"}` + "\n", 2, 44, "should be a int64"},
		{"unknown kind", h + `{"kind":"dkim","text":"pass"}` + "\n", 2, 0, "unknown event kind \"dkim\""},
		{"client without text", h + `{"kind":"client"}` + "\n", 2, 0, "needs \"text\""},
		{"both texts", h + `{"kind":"server","text":"250 ok","text_base64":"MjUw"}` + "\n", 2, 0, "not both"},
		{"bad base64", h + `{"kind":"data","text_base64":"!!"}` + "\n", 2, 0, "text_base64"},
		{"tls without tls", h + `{"kind":"tls"}` + "\n", 2, 0, "needs \"tls\""},
		{"gap bad side", h + `{"kind":"gap","side":"both","bytes":1}` + "\n", 2, 0, "side must be"},
		{"gap negative", h + `{"kind":"gap","side":"client","bytes":-1}` + "\n", 2, 0, "gap of -1"},
		{"bad time", h + `{"kind":"note","time":"noon"}` + "\n", 2, 0, "RFC 3339"},
		{"time without started", `{"format":"smtpsh transcript","version":1}` + "\n" + `{"kind":"note","time":"2026-11-25T19:10:00Z"}` + "\n", 2, 0, "no Started"},
		{"fake redaction", h + `{"kind":"client","text":"NOOP","redacted":true}` + "\n", 2, 0, "marked redacted"},
		{"bad meta key", `{"format":"smtpsh transcript","version":1,"meta":{"Bad":"x"}}` + "\n", 1, 0, "keys are"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseJSONL(strings.NewReader(c.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.Line != c.line || pe.Column != c.col || !strings.Contains(pe.Msg, c.msg) {
				t.Errorf("got line %d column %d %q; want line %d column %d containing %q", pe.Line, pe.Column, pe.Msg, c.line, c.col, c.msg)
			}
		})
	}
}

func TestParseJSONLIgnoresUnknownFields(t *testing.T) {
	in := `{"format":"smtpsh transcript","version":1,"hostname":"x"}` + "\n\n" +
		`{"kind":"server","text":"220 mx.example.com ESMTP","explain":"ready"}` + "\n"
	tr, err := ParseJSONL(bytes.NewReader([]byte(in)))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Events) != 1 || tr.Events[0].Text != "220 mx.example.com ESMTP" {
		t.Errorf("got %+v", tr.Events)
	}
}
