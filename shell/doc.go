// Package shell is smtpsh's SMTP shell: telnet for SMTP made smart. What the
// user types is sent as typed; every reply is printed (escaped, coloured by
// class) with a one-line explanation in the context of the command it
// answers, and the shell follows the protocol phase to offer completion and
// a prompt that says where the conversation is.
//
// The shell never parses SMTP itself: replies are read with
// internal/smtp's ReplyReader, typed commands are checked (never rewritten)
// with its lenient ParseCommand, DATA text is dot-stuffed by its DotWriter,
// and explanations come from internal/explain, rendered by internal/render.
// Every session is recorded as a transcripts.Transcript.
//
// A Session reads its input through the LineReader interface: Readline (a
// terminal, through github.com/chzyer/readline) for people, and Lines or
// NewScanner for -c, --script and piped input, so tests drive the same
// session logic without a terminal.
package shell
