// Package explain is smtpsh's knowledge base: what basic reply codes
// (RFC 5321 §4.2), enhanced status codes (RFC 3463, IANA registry per
// RFC 5248), EHLO keywords and SASL mechanisms mean, and what a reply code
// means after a particular command.
//
// It is data: the facts live in tab-separated files embedded from data/, and
// the package renders nothing. internal/render turns its values into text for
// people. Build one KB with New at start and share it; it is read-only.
package explain
