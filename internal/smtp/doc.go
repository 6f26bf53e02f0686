// Package smtp is smtpsh's strict implementation of the SMTP wire protocol,
// for both sides of a conversation: reading replies, parsing commands and
// mailboxes, EHLO capabilities, dot-stuffing and SASL encodings.
//
// It is strict where net/textproto is lenient, because smtpsh must point out
// malformed input rather than hide it: parsers return a *SyntaxError carrying
// the column of the first problem, and tolerated deviations (a bare LF, a
// source route) are reported as warnings beside the parsed value.
//
// This package imports nothing else of smtpsh's; everything else may import it.
package smtp
