package lessons

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProgressPath(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"XDG_STATE_HOME", map[string]string{"XDG_STATE_HOME": "/s", "HOME": "/h"}, "/s/smtpsh/lessons.json"},
		{"default", map[string]string{"HOME": "/h"}, "/h/.local/state/smtpsh/lessons.json"},
		{"relative XDG_STATE_HOME is ignored", map[string]string{"XDG_STATE_HOME": "s", "HOME": "/h"}, "/h/.local/state/smtpsh/lessons.json"},
		{"nothing", map[string]string{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ProgressPath(func(k string) string { return tc.env[k] })
			if got != filepath.FromSlash(tc.want) || (err != nil) != (tc.want == "") {
				t.Errorf("ProgressPath = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestProgressRoundTrip: saved progress reads back, a missing file is no
// progress, a corrupt one is an error that says how to start afresh.
func TestProgressRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "smtpsh", "lessons.json")
	p, err := LoadProgress(path)
	if err != nil || len(p.Lessons) != 0 {
		t.Fatalf("missing file: %v, %v", p, err)
	}
	p.Lessons["first-contact"] = LessonProgress{Done: []string{"Read the banner"}, Skipped: []string{"QUIT"}, Steps: 6}
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	q, err := LoadProgress(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Lessons["first-contact"]; strings.Join(got.Done, "|") != "Read the banner" || strings.Join(got.Skipped, "|") != "QUIT" || got.Steps != 6 {
		t.Errorf("read back %+v", got)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadProgress(path); err == nil || !strings.Contains(err.Error(), "--reset") {
		t.Errorf("corrupt file: %v", err)
	}
}

// TestProgressNext: the next lesson is the first unfinished one whose
// prerequisites are finished.
func TestProgressNext(t *testing.T) {
	ls := []*Lesson{
		{Name: "a", Number: 1},
		{Name: "b", Number: 2, Prerequisites: []string{"a"}},
		{Name: "c", Number: 3, Prerequisites: []string{"b"}},
	}
	p := &Progress{Lessons: map[string]LessonProgress{}}
	if n := p.Next(ls); n == nil || n.Name != "a" {
		t.Errorf("fresh: %v", n)
	}
	p.Lessons["a"] = LessonProgress{Finished: true}
	if n := p.Next(ls); n == nil || n.Name != "b" {
		t.Errorf("after a: %v", n)
	}
	p.Lessons["b"] = LessonProgress{Finished: true}
	p.Lessons["c"] = LessonProgress{Finished: true}
	if n := p.Next(ls); n != nil {
		t.Errorf("all finished: %v", n.Name)
	}
}
