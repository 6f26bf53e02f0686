// Package audit probes an SMTP server the way a footprinting course does,
// and says why it concludes what it concludes: a fingerprint of the server
// software from its own wording, user enumeration with VRFY, EXPN or RCPT
// (with a catch-all probe first and 252 taken for what RFC 5321 §3.5.3 says
// it is), nmap's sixteen open-relay patterns, and the SMTP smuggling
// end-of-data variants of CVE-2023-51764/51765/51766.
//
// An Auditor opens its own connections through internal/dial, speaks SMTP
// with internal/smtp's ReplyReader, prints every probe and reply as the shell
// does (internal/render) and keeps a transcript of every connection. Each
// check returns a structured result whose every verdict carries the
// exchange that decided it. Nothing here sends mail unless asked, and the
// only server it will send to is the smtpsh lab on loopback (see Scope).
package audit
