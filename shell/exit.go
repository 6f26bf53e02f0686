package shell

import "fmt"

// Exit statuses of the shell, documented in `smtpsh --help`. A script's
// caller can tell a server it could not reach from one that said no.
const (
	// ExitOK: every expectation held and the session ended cleanly (the
	// server answered QUIT, or closed after it).
	ExitOK = 0
	// ExitConnect: the connection could not be opened.
	ExitConnect = 3
	// ExitExpect: an `expect` line of a script did not hold.
	ExitExpect = 4
	// ExitProtocol: the server did not answer in time, closed the
	// connection unexpectedly, or sent a reply the shell could not read.
	ExitProtocol = 5
	// ExitTLS is reserved for TLS failures (implicit TLS, STARTTLS), which
	// come with internal/dial.
	ExitTLS = 6
)

// ExitError is an error that asks for a particular exit status.
type ExitError struct {
	Code int   // one of the Exit constants
	Err  error // what happened
}

// Error returns the underlying error's message.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode returns the exit status the error asks for.
func (e *ExitError) ExitCode() int { return e.Code }

func exitErr(code int, format string, args ...any) *ExitError {
	return &ExitError{Code: code, Err: fmt.Errorf(format, args...)}
}
