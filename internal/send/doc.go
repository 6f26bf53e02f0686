// Package send is the logic of `smtpsh send`: one message sent in one
// session from flags, the way swaks does, but through the shell so that
// the output, the explanations and the transcript are the shell's own.
//
// Build turns the content flags into an RFC 5322 message (MIME multipart
// with attachments, RFC 2045-2049); Plan and Script turn the protocol
// flags into the lines a shell.Session runs, one phase at a time, each
// checked on the reply before the next is given; Run runs the session and
// returns a Result saying which phase was reached, which failed and with
// what exit status, and the Summary that --json prints.
package send
