package transcripts

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// addSeeds adds every testdata file matching pattern to f's seeds.
func addSeeds(f *testing.F, pattern string) {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds for %s: %v", pattern, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// checkRoundTrips asserts the invariants every parsed transcript keeps: it
// writes without error in both formats, with and without redaction, the
// output stays proportionate to the input, and each format reads back equal.
func checkRoundTrips(t *testing.T, tr *Transcript, inLen int) {
	opts := WriteOptions{Times: true, Secrets: true}
	var text bytes.Buffer
	if err := Write(&text, tr, opts); err != nil {
		t.Fatalf("Write of a parsed transcript: %v", err)
	}
	if text.Len() > 8*inLen+512 {
		t.Fatalf("%d bytes in, %d bytes out", inLen, text.Len())
	}
	back, err := Parse(bytes.NewReader(text.Bytes()))
	if err != nil {
		t.Fatalf("Parse of written text: %v\n%s", err, text.Bytes())
	}
	if !back.Equal(tr) {
		t.Fatalf("text round trip changed the transcript:\n%s", text.Bytes())
	}
	var jl bytes.Buffer
	if err := WriteJSONL(&jl, tr, opts); err != nil {
		t.Fatalf("WriteJSONL of a parsed transcript: %v", err)
	}
	back, err = ParseJSONL(bytes.NewReader(jl.Bytes()))
	if err != nil {
		t.Fatalf("ParseJSONL of written JSON Lines: %v\n%s", err, jl.Bytes())
	}
	if !back.Equal(tr) {
		t.Fatalf("JSON Lines round trip changed the transcript:\n%s", jl.Bytes())
	}
	if err := Write(io.Discard, tr, WriteOptions{Times: true}); err != nil {
		t.Fatalf("Write with redaction: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	addSeeds(f, "*.txt")
	for _, s := range []string{
		"",
		header,
		header + "\nC:\"\\xff\\r\\n\"\n",
		header + "\n# started: 2026-11-25T19:10:00Z\n[-0.5s] *: gap server 7 bytes\n",
		header + "\n*: tls - - cert=\"\" alpn=\"a b\"\n*: frob\n",
		header + "\n# k: \"\"  server: \"a  b\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		tr, err := Parse(bytes.NewReader(in))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		checkRoundTrips(t, tr, len(in))
	})
}

func FuzzParseJSONL(f *testing.F) {
	addSeeds(f, "*.jsonl")
	for _, s := range []string{
		"",
		`{"format":"smtpsh transcript","version":1}`,
		`{"format":"smtpsh transcript","version":1,"started":"2026-11-25T19:10:00+01:00"}` + "\n" +
			`{"kind":"data","time":"2026-11-25T19:10:00.5Z","text_base64":"/w=="}`,
		`{"format":"smtpsh transcript","version":1}` + "\n" + `{"kind":"tls","tls":{}}` + "\n" + `{"kind":"close","side":"unknown","text":"\u2028"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		tr, err := ParseJSONL(bytes.NewReader(in))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		checkRoundTrips(t, tr, len(in))
	})
}

// TestFuzzCorpusParses keeps the seed corpora useful: every seed but the one
// named for errors is a valid transcript, so the fuzzers start from inputs
// that reach the round-trip checks.
func TestFuzzCorpusParses(t *testing.T) {
	for _, c := range []struct {
		dir   string
		parse func(io.Reader) (*Transcript, error)
	}{{"FuzzParse", Parse}, {"FuzzParseJSONL", ParseJSONL}} {
		files, err := filepath.Glob(filepath.Join("testdata", "fuzz", c.dir, "seed-*"))
		if err != nil || len(files) < 3 {
			t.Fatalf("%s: %d seeds, %v", c.dir, len(files), err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// Corpus files hold one Go-quoted []byte after a version line.
			body := bytes.TrimSuffix(bytes.TrimPrefix(b, []byte("go test fuzz v1\n[]byte(")), []byte(")\n"))
			in, err := strconv.Unquote(string(body))
			if err != nil {
				t.Fatalf("%s: not a corpus file: %v", f, err)
			}
			_, err = c.parse(strings.NewReader(in))
			if wantErr := strings.HasSuffix(f, "-errors"); (err != nil) != wantErr {
				t.Errorf("%s: err = %v, want error %v", f, err, wantErr)
			}
		}
	}
}
