package shell

import (
	"io"

	"github.com/smtpsh/smtpsh/transcripts"
)

// Observer watches a session as it happens: the lessons engine checks a
// lesson's steps on what it sees, and adds its own meta-commands (:hint,
// :step, :skip, :lesson, :dns). All calls come from the session's
// goroutine, one at a time; out is where the shell prints, so what an
// observer writes appears above the prompt like the shell's own lines.
type Observer interface {
	// Start is called once, before the connection is opened.
	Start(out io.Writer)
	// Event is called for every transcript event, in order, soon after it
	// is recorded: after each input line is handled and after each reply.
	Event(e transcripts.Event, out io.Writer)
	// Meta is called for every meta-command the user types, before the
	// shell acts on it; name is lower case with its ":". It returns true
	// when it handled the command itself (the shell then does nothing).
	Meta(name, arg string, out io.Writer) bool
	// Commands lists the observer's own meta-commands for :help and Tab.
	// Tab calls it from readline's goroutine: it must be safe for that.
	Commands() []MetaCommand
}

// observe hands the events recorded since the last call to the observer.
func (s *Session) observe() {
	o := s.cfg.Observer
	if o == nil {
		return
	}
	for s.observed < len(s.tr.Events) {
		e := s.tr.Events[s.observed]
		s.observed++
		o.Event(e, s.out)
	}
}
