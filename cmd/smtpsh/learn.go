package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/smtpsh/smtpsh/lessons"
	"github.com/smtpsh/smtpsh/shell"
)

// learnOptions are the flags of `smtpsh learn`.
type learnOptions struct {
	File      string
	Check     string
	Reset     bool
	NoExplain bool
}

func newLearnCmd() *cobra.Command {
	var o learnOptions
	cmd := &cobra.Command{
		Use:   "learn [LESSON]",
		Short: "Follow the guided SMTP course, checked live against the lab",
		Long: `Follow smtpsh's SMTP course. With no argument, list the lessons with your
progress and the one to do next. With a lesson's name or number, start the
practice lab with the lesson's profile and the shell on it: each step is
explained, you type real SMTP, and smtpsh checks the step from what happened
on the wire.

In the lesson, :hint gives a hint, :step shows the current step again, :skip
skips it and :lesson says where you are. Progress is kept in
$XDG_STATE_HOME/smtpsh/lessons.json (~/.local/state by default).

Teachers write lessons as Markdown (see lessons/FORMAT.md): --check FILE
validates one and prints its problems with line numbers; --file FILE runs it.`,
		Example: `  smtpsh learn
  smtpsh learn 1
  smtpsh learn first-contact
  smtpsh learn --check my-lesson.md && smtpsh learn --file my-lesson.md
  smtpsh learn --reset first-contact`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runLearn(cmd, args, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.File, "file", "", "run the lesson in this Markdown file instead of a built-in one (its progress is not kept)")
	f.StringVar(&o.Check, "check", "", "validate the lesson in this file, print its problems with line numbers, exit 1 if any")
	f.BoolVar(&o.Reset, "reset", false, "forget the progress of LESSON, or of every lesson without one")
	f.BoolVar(&o.NoExplain, "no-explain", false, "do not print the one-line explanation after each reply")
	return cmd
}

// runLearn dispatches on the flags.
func runLearn(cmd *cobra.Command, args []string, o learnOptions) error {
	out := cmd.OutOrStdout()
	if o.Check != "" {
		if len(args) > 0 || o.File != "" || o.Reset {
			return errors.New("--check takes only the file to check")
		}
		return checkLesson(out, o.Check)
	}
	all, err := lessons.All()
	if err != nil {
		return err
	}
	path, err := lessons.ProgressPath(os.Getenv)
	if err != nil {
		return err
	}
	prog, err := lessons.LoadProgress(path)
	if err != nil {
		return err
	}
	switch {
	case o.Reset:
		return resetProgress(out, all, args, prog, path)
	case o.File != "":
		if len(args) > 0 {
			return errors.New("--file and a lesson name do not go together")
		}
		src, err := readLessonFile(o.File)
		if err != nil {
			return err
		}
		l, err := lessons.Parse(o.File, src)
		if err != nil {
			return fmt.Errorf("%w (smtpsh learn --check %s lists every problem)", err, o.File)
		}
		return runLesson(cmd, l, o, nil, "")
	case len(args) == 0:
		return listLessons(out, all, prog)
	}
	l, err := lessons.Find(all, args[0])
	if err != nil {
		return err
	}
	return runLesson(cmd, l, o, prog, path)
}

// readLessonFile reads a teacher's lesson, refusing one too large to be a
// lesson.
func readLessonFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, lessons.MaxLessonSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return src, nil
}

// checkLesson prints a lesson file's problems as FILE:LINE: message.
func checkLesson(out io.Writer, name string) error {
	src, err := readLessonFile(name)
	if err != nil {
		return err
	}
	problems := lessons.Check(src)
	for _, p := range problems {
		if p.Line > 0 {
			fmt.Fprintf(out, "%s:%d: %s\n", name, p.Line, p.Msg)
		} else {
			fmt.Fprintf(out, "%s: %s\n", name, p.Msg)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %d problem(s)", name, len(problems))
	}
	fmt.Fprintf(out, "%s: ok\n", name)
	return nil
}

// listLessons prints the course with the student's progress and what
// comes next.
func listLessons(out io.Writer, all []*lessons.Lesson, prog *lessons.Progress) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tlesson\tprogress\ttitle")
	for _, l := range all {
		lp := prog.Lessons[l.Name]
		done, skipped := lp.Count(l)
		state := fmt.Sprintf("%d/%d", done, len(l.Steps))
		switch {
		case lp.Finished && done == len(l.Steps):
			state += " ✓"
		case skipped > 0:
			state += fmt.Sprintf(" (%d skipped)", skipped)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", l.Number, l.Name, state, l.Title)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if next := prog.Next(all); next != nil {
		fmt.Fprintf(out, "\nnext: smtpsh learn %d   (%s: %s)\n", next.Number, next.Title, next.Summary)
	} else {
		fmt.Fprintln(out, "\nevery lesson is finished: well done. smtpsh learn NAME runs one again.")
	}
	return nil
}

// resetProgress forgets one lesson's progress, or all of it.
func resetProgress(out io.Writer, all []*lessons.Lesson, args []string, prog *lessons.Progress, path string) error {
	if len(args) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("--reset: %w", err)
		}
		fmt.Fprintln(out, "progress of every lesson forgotten")
		return nil
	}
	l, err := lessons.Find(all, args[0])
	if err != nil {
		return err
	}
	delete(prog.Lessons, l.Name)
	if err := prog.Save(path); err != nil {
		return err
	}
	fmt.Fprintf(out, "progress of %s forgotten\n", l.Name)
	return nil
}

// runLesson starts the lab with the lesson's profile and runs the shell on
// it with the lesson's engine watching. prog is nil for a teacher's file,
// whose progress is not kept.
func runLesson(cmd *cobra.Command, l *lessons.Lesson, o learnOptions, prog *lessons.Progress, path string) error {
	out := cmd.OutOrStdout()
	errOut := cmd.ErrOrStderr()
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	r, err := lessons.NewRenderer(out, os.Getenv)
	if err != nil {
		return err
	}
	lb, err := lessons.StartLab(l.Profile)
	if err != nil {
		return fmt.Errorf("starting the lab: %w", err)
	}
	defer lb.Close()
	// A lesson with proxy = true reaches the lab through a CONNECT proxy.
	dialer, px, err := lessons.SessionDialer(l, lb, shell.DefaultTimeout)
	if err != nil {
		return err
	}
	if px != nil {
		defer px.Close()
	}
	ecfg := lessons.EngineConfig{Lesson: l, Renderer: r, Lab: lb, Proxy: px}
	if prog != nil {
		ecfg.Progress = prog.Lessons[l.Name]
		ecfg.OnProgress = func(p lessons.LessonProgress) {
			prog.Lessons[l.Name] = p
			if err := prog.Save(path); err != nil {
				fmt.Fprintf(errOut, "smtpsh learn: %v\n", err)
			}
		}
	}
	e, err := lessons.NewEngine(ecfg)
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(lb.Addr)
	s, err := shell.New(shell.Config{
		Addr:      lb.Addr,
		Name:      "lab:" + port,
		EHLOName:  defaultEHLOName(),
		NoExplain: o.NoExplain,
		Dialer:    dialer,
		Terminal:  r.Terminal(),
		Renderer:  r,
		Observer:  e,
	})
	if err != nil {
		return err
	}
	in, err := shellInput(cmd, &shellOptions{})
	if err != nil {
		return err
	}
	defer in.Close()
	return s.Run(ctx, e.Wrap(in))
}
