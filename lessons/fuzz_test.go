package lessons

import (
	"bytes"
	"testing"
)

// FuzzParseLesson: no input panics the parser, a lesson it accepts has
// steps with a solution each, and Check agrees with Parse.
func FuzzParseLesson(f *testing.F) {
	ls, err := All()
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range ls {
		src, err := Source(l.File)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte("+++\ntitle = \"T\"\n+++\n## Step: x\n```check\nreply = \"2\"\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		l, err := Parse("fuzz.md", src)
		problems := Check(src)
		if (err == nil) != (len(problems) == 0) {
			t.Fatalf("Parse says %v, Check %q", err, problems)
		}
		if err != nil {
			for _, p := range problems {
				if p.Line < 0 || p.Line > bytes.Count(src, []byte("\n"))+1 {
					t.Fatalf("problem line %d outside the file: %v", p.Line, p)
				}
			}
			return
		}
		if len(l.Steps) == 0 {
			t.Fatal("accepted a lesson without steps")
		}
		for _, s := range l.Steps {
			if len(s.Solution) == 0 {
				t.Fatalf("accepted step %q without a solution", s.Title)
			}
		}
	})
}

// BenchmarkParseLesson parses the shipped lessons.
func BenchmarkParseLesson(b *testing.B) {
	ls, err := All()
	if err != nil {
		b.Fatal(err)
	}
	var srcs [][]byte
	n := 0
	for _, l := range ls {
		src, _ := Source(l.File)
		srcs = append(srcs, src)
		n += len(src)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		for _, src := range srcs {
			if _, err := Parse("x.md", src); err != nil {
				b.Fatal(err)
			}
		}
	}
}
