package lessons

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// files holds the course, one Markdown file per lesson, "NN-name.md", and
// the sample messages lessons read, "samples/NN-name.eml".
//
//go:embed files/*.md files/samples/*.eml
var files embed.FS

// All parses the embedded lessons and returns them in course order.
func All() ([]*Lesson, error) {
	names, err := fs.Glob(files, "files/*.md")
	if err != nil {
		return nil, fmt.Errorf("lessons: %w", err)
	}
	var ls []*Lesson
	for _, n := range names {
		src, err := files.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("lessons: %w", err)
		}
		l, err := Parse(path.Base(n), src)
		if err != nil {
			return nil, fmt.Errorf("lessons: embedded %w", err)
		}
		ls = append(ls, l)
	}
	slices.SortStableFunc(ls, func(a, b *Lesson) int { return a.Number - b.Number })
	return ls, nil
}

// Source returns an embedded lesson file's text by its file name.
func Source(file string) ([]byte, error) {
	return files.ReadFile("files/" + path.Base(file))
}

// Find returns the lesson named name ("first-contact", or a prefix of one
// name only) or numbered name ("1", "01").
func Find(ls []*Lesson, name string) (*Lesson, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if n, err := strconv.Atoi(name); err == nil {
		for _, l := range ls {
			if l.Number == n {
				return l, nil
			}
		}
		return nil, fmt.Errorf("no lesson number %d (smtpsh learn lists them)", n)
	}
	var found []*Lesson
	for _, l := range ls {
		if l.Name == name {
			return l, nil
		}
		if strings.HasPrefix(l.Name, name) {
			found = append(found, l)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("no lesson %q (smtpsh learn lists them)", name)
	}
	var names []string
	for _, l := range found {
		names = append(names, l.Name)
	}
	return nil, fmt.Errorf("%q could be %s", name, strings.Join(names, " or "))
}
