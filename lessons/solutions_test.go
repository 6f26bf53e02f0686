package lessons

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/lab"
	"github.com/smtpsh/smtpsh/shell"
)

// TestSolutions plays every embedded lesson's reference solution through
// the real shell against the lab with the lesson's profile: each step's
// lines must find the step current (every step before it complete), and
// the lesson must end with every step done. Then, for every step with a
// ```wrong block, it plays the solution up to that step and the wrong lines
// instead, which must leave the step incomplete.
func TestSolutions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a lab per lesson and per wrong block")
	}
	ls, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) == 0 {
		t.Fatal("no lessons embedded")
	}
	for _, l := range ls {
		t.Run(l.Name, func(t *testing.T) {
			setPassword(t, l)
			e, out := play(t, l, -1)
			step, status := e.State()
			if step != len(l.Steps) || !e.Finished() {
				t.Errorf("the solution ended at step %d/%d (%q):\n%s", step+1, len(l.Steps), stepTitle(l, step), out)
			}
			for i, s := range status {
				if s != StepDone {
					t.Errorf("step %d %q is %s after the solution", i+1, l.Steps[i].Title, s)
				}
			}
			if !strings.Contains(out, "✓ lesson complete") {
				t.Errorf("no completion message:\n%s", out)
			}
			for i, s := range l.Steps {
				if s.Wrong == nil {
					continue
				}
				e, out := play(t, l, i)
				if step, _ := e.State(); step != i {
					t.Errorf("step %d %q: the wrong lines %q left the lesson at step %d, want it still at %d:\n%s",
						i+1, s.Title, s.Wrong, step+1, i+1, out)
				}
			}
		})
	}
}

func stepTitle(l *Lesson, i int) string {
	if i >= 0 && i < len(l.Steps) {
		return l.Steps[i].Title
	}
	return "finished"
}

// setPassword gives :auth in the solution the password of the lab user it
// names (a script takes it from $SMTPSH_PASSWORD).
func setPassword(t *testing.T, l *Lesson) {
	p, err := lab.LoadProfile(l.Profile)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range l.Steps {
		for _, line := range append(append([]string(nil), s.Solution...), s.Wrong...) {
			f := strings.Fields(line)
			if len(f) == 3 && strings.EqualFold(f[0], ":auth") {
				for _, u := range p.Directory().Users {
					if u.Name == f[2] || strings.HasPrefix(f[2], u.Name+"@") {
						t.Setenv(shell.PasswordEnv, u.Password)
						return
					}
				}
			}
		}
	}
}

// scriptLine is one line of a solution and the step it belongs to.
type scriptLine struct {
	step  int
	first bool // the step's first line
	text  string
}

// play runs l through the shell against a fresh lab. With wrongAt < 0 it
// types the whole solution; otherwise the solution of the steps before
// wrongAt, then wrongAt's wrong lines. It returns the engine and what the
// session printed.
func play(t *testing.T, l *Lesson, wrongAt int) (*Engine, string) {
	t.Helper()
	lb, err := StartLab(l.Profile)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	dialer, px, err := SessionDialer(l, lb, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if px != nil {
		defer px.Close()
	}
	e, err := NewEngine(EngineConfig{Lesson: l, Lab: lb, Proxy: px})
	if err != nil {
		t.Fatal(err)
	}
	var lines []scriptLine
	for i, s := range l.Steps {
		typed := s.Solution
		if i == wrongAt {
			typed = s.Wrong
		}
		for j, x := range typed {
			lines = append(lines, scriptLine{step: i, first: j == 0, text: x})
		}
		if i == wrongAt {
			break
		}
	}
	var out syncBuffer
	in := &stepReader{e: e, lines: lines, out: &out, l: l, strict: wrongAt < 0}
	s, err := shell.New(shell.Config{Addr: lb.Addr, Name: "lab", EHLOName: "student.example", Timeout: 10 * time.Second,
		NoExplain: true, Dialer: dialer, Observer: e})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runErr := s.Run(ctx, e.Wrap(in))
	in.mu.Lock()
	problems := in.problems
	in.mu.Unlock()
	for _, p := range problems {
		t.Errorf("%s\n%s", p, out.String())
	}
	if runErr != nil && wrongAt < 0 {
		t.Errorf("the session failed: %v\n%s", runErr, out.String())
	}
	return e, out.String()
}

// stepReader types a solution line by line and checks, at the first line of
// each step, that the engine is at that step: every step before it done,
// and the step itself not already done unless its solution types nothing
// (comments only: the step completes from what came before, such as the
// greeting).
type stepReader struct {
	e      *Engine
	l      *Lesson
	lines  []scriptLine
	out    io.Writer
	strict bool

	mu       sync.Mutex
	problems []string
}

func (r *stepReader) ReadLine() (string, error) {
	if len(r.lines) == 0 {
		if r.strict && !r.e.Finished() {
			step, _ := r.e.State()
			r.fail("the solution ran out at step %d/%d %q: its lines did not complete it", step+1, len(r.l.Steps), stepTitle(r.l, step))
		}
		return "", io.EOF
	}
	sl := r.lines[0]
	r.lines = r.lines[1:]
	if sl.first {
		step, _ := r.e.State()
		switch {
		case step < sl.step:
			r.fail("step %d %q: its solution starts while the lesson is still at step %d %q", sl.step+1, r.l.Steps[sl.step].Title, step+1, stepTitle(r.l, step))
		case step > sl.step && r.strict && typesSomething(r.l.Steps[sl.step].Solution):
			r.fail("step %d %q was complete before its solution was typed: its check is too loose", sl.step+1, r.l.Steps[sl.step].Title)
		}
	}
	return sl.text, nil
}

// typesSomething reports whether lines hold anything but comments.
func typesSomething(lines []string) bool {
	for _, l := range lines {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			return true
		}
	}
	return false
}

func (r *stepReader) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *stepReader) SetPrompt(string)         {}
func (r *stepReader) Stdout() io.Writer        { return r.out }
func (r *stepReader) SaveHistory(string) error { return nil }
func (r *stepReader) Interactive() bool        { return false }
func (r *stepReader) Close() error             { return nil }

// syncBuffer is a strings.Builder safe for the session's and the input
// goroutine's writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
