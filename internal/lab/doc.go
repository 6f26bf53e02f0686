// Package lab is smtpsh's practice SMTP server: a loopback server whose
// personality and misconfigurations come from a Profile (an embedded or
// user-supplied TOML file), so that students can try enumeration, open
// relaying, STARTTLS, AUTH, pipelining and SMTP smuggling against a server
// that is theirs.
//
// The server owns its state machine, built on internal/smtp: every command
// line is parsed by smtp.ParseOptions.ParseCommand, every reply is written by
// smtp.WriteReply, message text is read by smtp.DotReader. Reply codes and
// texts follow Postfix's for the same situation where that makes sense; the
// differences are documented where each reply is written.
//
// Accepted mail goes to a store.Store, and is there before the 250 reply is
// written. Nothing the lab "relays" leaves the machine. With Config.LogDir set,
// each session is written as a transcript (package transcripts), secrets
// redacted.
package lab
