package shell

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// ErrInterrupt is returned by a LineReader's ReadLine when the user pressed
// Ctrl-C: the line being edited is dropped and the shell asks for another.
var ErrInterrupt = errors.New("interrupted")

// MaxInputLine bounds a line read from a script or piped input, in bytes.
// SMTP command lines are at most 512 octets (RFC 5321 §4.5.3.1.4) and text
// lines 1000 (§4.5.3.1.6); the margin lets the shell send an over-long line
// on purpose, to see what the server says.
const MaxInputLine = 64 << 10

// LineReader is where a session's input comes from: a terminal through
// readline, or lines from -c, a script or a pipe. ReadLine returns io.EOF at
// the end of input (Ctrl-D on a terminal) and ErrInterrupt on Ctrl-C.
//
// ReadLine is called from one goroutine; SetPrompt, Stdout and SaveHistory
// may be called from another while ReadLine waits.
type LineReader interface {
	ReadLine() (string, error)
	// SetPrompt sets the prompt shown for the line being read, redrawing
	// it if a line is being edited.
	SetPrompt(prompt string)
	// Stdout is where output goes so that it appears above the line being
	// edited, never through it.
	Stdout() io.Writer
	// SaveHistory adds a line to the history; lines with secrets are never
	// passed to it.
	SaveHistory(line string) error
	// Interactive reports whether a person is typing: replies may then
	// arrive while they type, and nothing they typed is echoed.
	Interactive() bool
	Close() error
}

// Lines returns a LineReader that reads the given lines and then io.EOF,
// printing to out: the -c flags.
func Lines(out io.Writer, lines ...string) LineReader {
	return &sliceReader{lines: lines, out: out}
}

type sliceReader struct {
	lines []string
	out   io.Writer
}

func (r *sliceReader) ReadLine() (string, error) {
	if len(r.lines) == 0 {
		return "", io.EOF
	}
	l := r.lines[0]
	r.lines = r.lines[1:]
	return l, nil
}

func (r *sliceReader) SetPrompt(string)         {}
func (r *sliceReader) Stdout() io.Writer        { return r.out }
func (r *sliceReader) SaveHistory(string) error { return nil }
func (r *sliceReader) Interactive() bool        { return false }
func (r *sliceReader) Close() error             { return nil }

// NewScanner returns a LineReader that reads lines from in, a script file or
// a stdin that is not a terminal, printing to out. name ("script.smtp",
// "stdin") is used in errors. Lines end in LF or CRLF; a line longer than
// MaxInputLine is an error.
func NewScanner(in io.Reader, name string, out io.Writer) LineReader {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 4096), MaxInputLine)
	return &scanReader{sc: sc, name: name, out: out}
}

type scanReader struct {
	sc   *bufio.Scanner
	name string
	n    int
	out  io.Writer
}

func (r *scanReader) ReadLine() (string, error) {
	if !r.sc.Scan() {
		if err := r.sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return "", fmt.Errorf("%s:%d: line longer than %d bytes", r.name, r.n+1, MaxInputLine)
			}
			return "", fmt.Errorf("%s:%d: %w", r.name, r.n+1, err)
		}
		return "", io.EOF
	}
	r.n++
	l := r.sc.Text()
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	return l, nil
}

func (r *scanReader) SetPrompt(string)         {}
func (r *scanReader) Stdout() io.Writer        { return r.out }
func (r *scanReader) SaveHistory(string) error { return nil }
func (r *scanReader) Interactive() bool        { return false }
func (r *scanReader) Close() error             { return nil }
