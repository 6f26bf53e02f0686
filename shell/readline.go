package shell

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/chzyer/readline"
)

// closeTimeout bounds Readline.Close: readline's Close can hang waiting for
// its terminal reader (chzyer/readline#217), and leaving must not.
const closeTimeout = 500 * time.Millisecond

// ReadlineConfig configures NewReadline.
type ReadlineConfig struct {
	// Stdin, Stdout and Stderr are the terminal; nil means os's.
	Stdin          *os.File
	Stdout, Stderr io.Writer
	// HistoryFile is where history is kept; "" means HistoryPath(os.Getenv).
	// Lines with secrets are never saved (see Session).
	HistoryFile string
}

// HistoryPath returns the history file: $XDG_STATE_HOME/smtpsh/history,
// or ~/.local/state/smtpsh/history when XDG_STATE_HOME is unset (XDG Base
// Directory Specification 0.8). "" when there is no home either.
func HistoryPath(getenv func(string) string) string {
	dir := getenv("XDG_STATE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home := getenv("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "smtpsh", "history")
}

// Readline is a LineReader on a terminal, through chzyer/readline: line
// editing, history and Tab completion. Output written to Stdout while a line
// is being edited appears above it, and the edited line is redrawn intact.
type Readline struct {
	rl *readline.Instance
}

// NewReadline opens the terminal for line editing.
func NewReadline(cfg ReadlineConfig) (*Readline, error) {
	hist := cfg.HistoryFile
	if hist == "" {
		hist = HistoryPath(os.Getenv)
	}
	if hist != "" {
		if err := os.MkdirAll(filepath.Dir(hist), 0o700); err != nil {
			hist = "" // no history rather than no shell
		}
	}
	rc := &readline.Config{
		Prompt:                 "> ",
		HistoryFile:            hist,
		DisableAutoSaveHistory: true,
		HistorySearchFold:      true,
		InterruptPrompt:        "^C",
		EOFPrompt:              "",
		Stdout:                 cfg.Stdout,
		Stderr:                 cfg.Stderr,
	}
	if cfg.Stdin != nil {
		rc.Stdin = cfg.Stdin
	}
	rl, err := readline.NewEx(rc)
	if err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	return &Readline{rl: rl}, nil
}

// ReadLine reads one edited line; Ctrl-C gives ErrInterrupt, Ctrl-D on an
// empty line io.EOF.
func (r *Readline) ReadLine() (string, error) {
	l, err := r.rl.Readline()
	if errors.Is(err, readline.ErrInterrupt) {
		return "", ErrInterrupt
	}
	return l, err
}

// SetPrompt sets the prompt and redraws the line being edited.
func (r *Readline) SetPrompt(p string) {
	r.rl.SetPrompt(p)
	r.rl.Refresh()
}

// Stdout returns a writer whose output appears above the edited line.
func (r *Readline) Stdout() io.Writer { return r.rl.Stdout() }

// SaveHistory appends line to the history file.
func (r *Readline) SaveHistory(line string) error { return r.rl.SaveHistory(line) }

// Interactive reports true: a person is typing.
func (r *Readline) Interactive() bool { return true }

// SetCompleter makes Tab complete with c.
func (r *Readline) SetCompleter(c func(head string) ([]string, int)) {
	r.rl.Config.AutoComplete = completerFunc(c)
}

// Close restores the terminal, giving up after closeTimeout.
func (r *Readline) Close() error {
	done := make(chan error, 1)
	go func() { done <- r.rl.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(closeTimeout):
		return nil
	}
}

// completerFunc adapts a completion function to readline.AutoCompleter.
type completerFunc func(head string) ([]string, int)

// Do returns the suffixes that complete the text before pos and the length,
// in runes, of the word they continue.
func (f completerFunc) Do(line []rune, pos int) ([][]rune, int) {
	if pos > len(line) {
		pos = len(line)
	}
	head := string(line[:pos])
	sufs, n := f(head)
	out := make([][]rune, len(sufs))
	for i, s := range sufs {
		out[i] = []rune(s)
	}
	return out, len([]rune(head[len(head)-n:]))
}

// completing is implemented by LineReaders that complete on Tab.
type completing interface {
	SetCompleter(func(head string) ([]string, int))
}
