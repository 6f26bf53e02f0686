// Package transcripts is smtpsh's model of an SMTP conversation: a
// Transcript is an ordered list of events (client line, server reply line,
// message data line, TLS upgrade, connect, close, capture gap, note) with
// times, whether it was typed live, decoded from a packet capture, played by
// a lesson or replayed from a file. The package reads and writes it as text
// and as JSON Lines, and redacts secrets. It knows no terminal: rendering is
// internal/render's job.
//
// # The text format
//
// The text format is close to the C:/S: notation of RFC 5321's examples
// (Appendix D), one event per line, and diff-friendly:
//
//	# smtpsh transcript v1
//	# server: 127.0.0.1:2525  client: 127.0.0.1:51234  started: 2026-11-25T19:10:00Z
//	# source: live
//	[+0.004s] S: 220 lab.smtpsh.test ESMTP smtpsh-lab
//	[+0.010s] C: EHLO student.example
//	S: 250 STARTTLS
//	*: tls TLSv1.3 TLS_AES_128_GCM_SHA256 cert="CN=lab.smtpsh.test" sni=lab.smtpsh.test
//	C: AUTH PLAIN <redacted>
//	C: DATA
//	S: 354 End data with <CR><LF>.<CR><LF>
//	D: Subject: hello
//	D: ..a line that began with a dot, dot-stuffed as on the wire
//	C: .
//
// The first line is exactly "# smtpsh transcript v1"; another version is an
// error that names it. Lines end in LF or CRLF; blank lines are ignored.
//
// Lines starting with "#" carry metadata, "key: value" fields separated by
// two spaces. Keys are a lower-case letter followed by lower-case letters,
// digits, '-', '_' or '.'. server, client, started (RFC 3339) and source
// ("live", "pcap:FILE", "lesson:NAME", …) fill the Transcript fields of
// those names; any other key is kept in Transcript.Meta, so a newer
// smtpsh's metadata survives a round trip. A key given twice is an error. A
// "#" line that does not start with "key: " is a comment, and is dropped.
//
// Event lines are "C:" (a client line), "S:" (a server reply line), "D:" (a
// line of message data between 354 and ".", dot-stuffed as sent: RFC 5321
// §4.5.2) and "*:" (an event that is not protocol text):
//
//	*: tls VERSION CIPHER [cert=SUBJECT] [sni=NAME] [alpn=PROTOCOL]
//	*: connect ADDRESS [via=PROXY]
//	*: close client|server|unknown [REASON]
//	*: gap client|server|unknown N bytes
//	*: note TEXT
//
// An unknown "*:" kind, from a newer smtpsh, is kept as a Note whose text is
// everything after "*: ", rather than refused or lost. The "D:" prefix is
// smtpsh's: RFC examples write data lines as "C:", and Transcript.MarkData
// turns such lines into Data events.
//
// An event line may start with its time relative to started, "[+0.004s] "
// (at least three decimals, up to nine); Write writes times when asked to,
// and only for events whose time is known.
//
// # Escaping
//
// A line's text is written raw after "C: " when it is valid UTF-8, holds only
// printable characters (strconv.IsPrint) and tabs, and does not end in a
// space or tab. Otherwise it is written as one Go double-quoted string
// (strconv.Quote) straight after the colon, with no space:
//
//	C:"EHLO x\r\nMAIL FROM:<smuggled@example>"
//	S:"250 trailing space "
//	D:"\xff\xfe binary"
//
// The missing space is the marker: "C: \"hi\"" is the raw text `"hi"`.
// Free text (a note, a close reason) is raw after its space, or quoted when
// it is unsafe or itself starts with a quote. Words (addresses, TLS fields)
// are bare when they are printable ASCII without spaces or quotes, "-" when
// empty, quoted otherwise; a certificate subject is always quoted. Metadata
// values are bare unless they are empty, hold a tab, a double space, a
// leading or trailing space or an unprintable character, or start with a
// quote. Raw control characters and invalid UTF-8 are errors anywhere in a
// file: they only appear escaped inside quotes.
//
// # Redaction
//
// Write and WriteJSONL redact secrets unless WriteOptions.Secrets is set:
// see Redact. A redacted client line is written raw, "C: <redacted>" or
// "C: AUTH PLAIN <redacted>", and Parse marks such lines Event.Redacted. A
// client line that really said that is written quoted, which is always
// literal, so it reads back unredacted.
//
// # JSON Lines
//
// WriteJSONL and ParseJSONL carry the same information, one JSON object per
// line: a header object, then one object per event (see WriteJSONL).
//
// # Bounds
//
// Parse and ParseJSONL read at most MaxBytes, lines of at most MaxLineBytes
// and MaxEvents events; every error is a *ParseError with a line and column.
// The writers refuse, with an *InvalidError, a transcript they could not
// read back the same (see Transcript.Validate).
package transcripts
