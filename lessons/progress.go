package lessons

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// maxProgressFile bounds the progress file read back, in bytes.
const maxProgressFile = 1 << 20

// progressVersion is written in the file, so a later format can tell.
const progressVersion = 1

// LessonProgress is what a student did in one lesson, across runs. Steps
// are named by title, so that a lesson whose steps are reordered keeps
// what was done.
type LessonProgress struct {
	Done     []string  `json:"done,omitempty"`
	Skipped  []string  `json:"skipped,omitempty"`
	Steps    int       `json:"steps,omitempty"` // how many steps the lesson had
	Finished bool      `json:"finished,omitempty"`
	Updated  time.Time `json:"updated"`
}

// clone returns a copy that shares no slices with p.
func (p LessonProgress) clone() LessonProgress {
	p.Done = slices.Clone(p.Done)
	p.Skipped = slices.Clone(p.Skipped)
	return p
}

// mark records a step's status: done wins over skipped, and pending
// changes nothing.
func (p *LessonProgress) mark(title string, s StepStatus) {
	switch s {
	case StepDone:
		if !slices.Contains(p.Done, title) {
			p.Done = append(p.Done, title)
		}
		p.Skipped = slices.DeleteFunc(p.Skipped, func(t string) bool { return t == title })
	case StepSkipped:
		if !slices.Contains(p.Done, title) && !slices.Contains(p.Skipped, title) {
			p.Skipped = append(p.Skipped, title)
		}
	}
}

// Count returns how many of l's steps are done and skipped.
func (p LessonProgress) Count(l *Lesson) (done, skipped int) {
	for _, s := range l.Steps {
		switch {
		case slices.Contains(p.Done, s.Title):
			done++
		case slices.Contains(p.Skipped, s.Title):
			skipped++
		}
	}
	return done, skipped
}

// Progress is the student's progress in every lesson, by lesson name.
type Progress struct {
	Version int                       `json:"version"`
	Lessons map[string]LessonProgress `json:"lessons"`
}

// ProgressPath returns where progress is kept:
// $XDG_STATE_HOME/smtpsh/lessons.json, or ~/.local/state/smtpsh/lessons.json
// when XDG_STATE_HOME is unset or not absolute (XDG Base Directory
// Specification). getenv is os.Getenv outside tests.
func ProgressPath(getenv func(string) string) (string, error) {
	dir := getenv("XDG_STATE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("lessons: neither XDG_STATE_HOME nor HOME is set: nowhere to keep progress")
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "smtpsh", "lessons.json"), nil
}

// LoadProgress reads the progress file; a missing file is no progress yet.
func LoadProgress(path string) (*Progress, error) {
	p := &Progress{Version: progressVersion, Lessons: map[string]LessonProgress{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lesson progress: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxProgressFile+1))
	if err != nil {
		return nil, fmt.Errorf("lesson progress: %w", err)
	}
	if len(b) > maxProgressFile {
		return nil, fmt.Errorf("lesson progress: %s is larger than %d bytes; remove it or use smtpsh learn --reset", path, maxProgressFile)
	}
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("lesson progress: %s: %w (smtpsh learn --reset starts afresh)", path, err)
	}
	if p.Lessons == nil {
		p.Lessons = map[string]LessonProgress{}
	}
	return p, nil
}

// Save writes the progress file, creating its directory, through a
// temporary file renamed into place so a crash never leaves half a file.
func (p *Progress) Save(path string) error {
	p.Version = progressVersion
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("lesson progress: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("lesson progress: %w", err)
	}
	f, err := os.CreateTemp(dir, ".lessons-*.json")
	if err != nil {
		return fmt.Errorf("lesson progress: %w", err)
	}
	_, werr := f.Write(append(b, '\n'))
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("lesson progress: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("lesson progress: %w", err)
	}
	return nil
}

// Next returns the first lesson, in course order, that is not finished and
// whose prerequisites are; nil when none is left.
func (p *Progress) Next(ls []*Lesson) *Lesson {
	for _, l := range ls {
		if p.Lessons[l.Name].Finished {
			continue
		}
		ready := true
		for _, pre := range l.Prerequisites {
			if !p.Lessons[pre].Finished {
				ready = false
				break
			}
		}
		if ready {
			return l
		}
	}
	return nil
}
