package smtp

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var (
	strict  = ParseOptions{Strict: true}
	lenient = ParseOptions{}
)

// normalised returns a copy of c without the fields that do not survive a
// String round trip (Raw, Warnings) or that are internal.
func normalised(c *Command) Command {
	n := *c
	n.Raw, n.Warnings, n.paramBuf = "", nil, [4]Param{}
	return n
}

func TestParseCommand(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.1")
	bob := Mailbox{LocalPart: "bob", Domain: "example.org"}
	tests := []struct {
		name  string
		line  string
		opt   ParseOptions
		want  Command
		canon string // String(); "" means the line itself
		warns []int  // columns of the expected warnings
	}{
		// RFC 5321 Appendix D.1 session.
		{name: "D.1 EHLO", line: "EHLO bar.com", want: Command{Verb: EHLO, Domain: "bar.com"}},
		{name: "D.1 MAIL", line: "MAIL FROM:<Smith@bar.com>", want: Command{Verb: MAIL, Path: Path{Mailbox: Mailbox{LocalPart: "Smith", Domain: "bar.com"}}}},
		{name: "D.1 RCPT", line: "RCPT TO:<Jones@foo.com>", want: Command{Verb: RCPT, Path: Path{Mailbox: Mailbox{LocalPart: "Jones", Domain: "foo.com"}}}},
		{name: "D.1 DATA", line: "DATA", want: Command{Verb: DATA}},
		{name: "D.1 QUIT", line: "QUIT", want: Command{Verb: QUIT}},
		{name: "lower-case verb", line: "ehlo client.example", opt: strict, want: Command{Verb: EHLO, Domain: "client.example"}, canon: "EHLO client.example"},
		{name: "mixed-case from", line: "Mail From:<bob@example.org>", opt: strict, want: Command{Verb: MAIL, Path: Path{Mailbox: bob}}, canon: "MAIL FROM:<bob@example.org>"},
		{name: "EHLO literal", line: "EHLO [192.0.2.1]", opt: strict, want: Command{Verb: EHLO, Literal: AddressLiteral{Addr: v4}}},
		{name: "LHLO", line: "LHLO lmtp.example", want: Command{Verb: LHLO, Domain: "lmtp.example"}},
		{name: "HELO", line: "HELO relay.example.org", opt: strict, want: Command{Verb: HELO, Domain: "relay.example.org"}},
		{name: "HELO literal tolerated", line: "HELO [192.0.2.1]", want: Command{Verb: HELO, Literal: AddressLiteral{Addr: v4}}, warns: []int{6}},
		// Windows hosts say EHLO with an underscore; Postfix takes it by default.
		{name: "EHLO underscore tolerated", line: "EHLO DESKTOP_1A2B", want: Command{Verb: EHLO, Domain: "DESKTOP_1A2B"}, warns: []int{13}},
		{name: "EHLO bare IP warned", line: "EHLO 192.0.2.1", opt: strict, want: Command{Verb: EHLO, Domain: "192.0.2.1"}, warns: []int{6}},
		{name: "EHLO two words tolerated", line: "EHLO foo bar", want: Command{Verb: EHLO, Domain: "foo bar"}, warns: []int{10}},
		// MAIL with parameters: Postfix/Thunderbird style.
		{name: "MAIL SIZE BODY", line: "MAIL FROM:<bob@example.org> SIZE=10240 BODY=8BITMIME", opt: strict,
			want: Command{Verb: MAIL, Path: Path{Mailbox: bob}, Params: Params{{"SIZE", "10240"}, {"BODY", "8BITMIME"}}}},
		{name: "MAIL null DSN", line: "MAIL FROM:<> RET=HDRS ENVID=QQ314159", opt: strict,
			want: Command{Verb: MAIL, Params: Params{{"RET", "HDRS"}, {"ENVID", "QQ314159"}}}},
		{name: "MAIL keyword case", line: "MAIL FROM:<bob@example.org> size=1 x-Foo=bar", opt: strict,
			want: Command{Verb: MAIL, Path: Path{Mailbox: bob}, Params: Params{{"SIZE", "1"}, {"X-FOO", "bar"}}}, canon: "MAIL FROM:<bob@example.org> SIZE=1 X-FOO=bar"},
		{name: "MAIL SMTPUTF8", line: "MAIL FROM:<pelé@example.com> SMTPUTF8", opt: strict,
			want: Command{Verb: MAIL, Path: Path{Mailbox: Mailbox{LocalPart: "pelé", Domain: "example.com"}}, Params: Params{{"SMTPUTF8", ""}}}},
		{name: "RCPT with SMTPUTF8 option", line: "RCPT TO:<用户@例子.广告>", opt: ParseOptions{Strict: true, SMTPUTF8: true},
			want: Command{Verb: RCPT, Path: Path{Mailbox: Mailbox{LocalPart: "用户", Domain: "例子.广告"}}}},
		{name: "MAIL space after colon", line: "MAIL FROM: <bob@example.org>", want: Command{Verb: MAIL, Path: Path{Mailbox: bob}}, canon: "MAIL FROM:<bob@example.org>", warns: []int{11}},
		{name: "MAIL no brackets", line: "MAIL FROM:bob@example.org", want: Command{Verb: MAIL, Path: Path{Mailbox: bob}}, canon: "MAIL FROM:<bob@example.org>", warns: []int{11}},
		{name: "MAIL no brackets params", line: "mail from:bob@example.org size=5", want: Command{Verb: MAIL, Path: Path{Mailbox: bob}, Params: Params{{"SIZE", "5"}}}, canon: "MAIL FROM:<bob@example.org> SIZE=5", warns: []int{11}},
		{name: "extra spaces tolerated", line: "MAIL FROM:<bob@example.org>  SIZE=5 ", want: Command{Verb: MAIL, Path: Path{Mailbox: bob}, Params: Params{{"SIZE", "5"}}}, canon: "MAIL FROM:<bob@example.org> SIZE=5", warns: []int{29, 36}},
		{name: "RCPT Postmaster", line: "RCPT TO:<Postmaster>", opt: strict, want: Command{Verb: RCPT, Path: Path{Mailbox: Mailbox{LocalPart: "Postmaster"}}}},
		{name: "RCPT postmaster bare", line: "RCPT TO:postmaster", want: Command{Verb: RCPT, Path: Path{Mailbox: Mailbox{LocalPart: "postmaster"}}}, canon: "RCPT TO:<postmaster>", warns: []int{9}},
		{name: "RCPT Postmaster@domain", line: "RCPT TO:<Postmaster@example.org>", opt: strict, want: Command{Verb: RCPT, Path: Path{Mailbox: Mailbox{LocalPart: "Postmaster", Domain: "example.org"}}}},
		{name: "RCPT DSN", line: "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40example.org", opt: strict,
			want: Command{Verb: RCPT, Path: Path{Mailbox: bob}, Params: Params{{"NOTIFY", "SUCCESS,FAILURE"}, {"ORCPT", "rfc822;bob+40example.org"}}}},
		// RFC 5321 §3.6.1 / Appendix C.
		{name: "RCPT source route", line: "RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>", opt: strict,
			want: Command{Verb: RCPT, Path: Path{Route: []string{"hosta.int", "jkl.org"}, Mailbox: Mailbox{LocalPart: "userc", Domain: "d.bar.org"}}}, warns: []int{10}},
		{name: "RSET", line: "RSET", opt: strict, want: Command{Verb: RSET}},
		{name: "STARTTLS", line: "starttls", opt: strict, want: Command{Verb: STARTTLS}, canon: "STARTTLS"},
		{name: "DATA trailing space tolerated", line: "DATA ", want: Command{Verb: DATA}, canon: "DATA", warns: []int{5}},
		{name: "NOOP", line: "NOOP", opt: strict, want: Command{Verb: NOOP}},
		{name: "NOOP text", line: "NOOP keepalive", opt: strict, want: Command{Verb: NOOP, Text: "keepalive"}},
		{name: "HELP topic", line: "HELP MAIL", opt: strict, want: Command{Verb: HELP, Text: "MAIL"}},
		// RFC 5321 §3.5.3 examples.
		{name: "VRFY name", line: "VRFY Smith", opt: strict, want: Command{Verb: VRFY, Text: "Smith"}},
		{name: "VRFY full name", line: "VRFY John Smith", opt: strict, want: Command{Verb: VRFY, Text: "John Smith"}},
		{name: "VRFY path", line: "VRFY <bob@example.org>", opt: strict, want: Command{Verb: VRFY, Text: "<bob@example.org>", Mailbox: &bob}},
		{name: "VRFY mailbox", line: "VRFY bob@example.org", opt: strict, want: Command{Verb: VRFY, Text: "bob@example.org", Mailbox: &bob}},
		{name: "EXPN list", line: "EXPN Example-People", opt: strict, want: Command{Verb: EXPN, Text: "Example-People"}},
		// RFC 4954 §4 examples.
		{name: "AUTH PLAIN initial", line: "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=", opt: strict, want: Command{Verb: AUTH, Mechanism: "PLAIN", InitialResponse: "dGVzdAB0ZXN0ADEyMzQ="}},
		{name: "AUTH empty initial", line: "AUTH PLAIN =", opt: strict, want: Command{Verb: AUTH, Mechanism: "PLAIN", InitialResponse: "="}},
		{name: "AUTH LOGIN", line: "AUTH LOGIN", opt: strict, want: Command{Verb: AUTH, Mechanism: "LOGIN"}},
		{name: "AUTH CRAM-MD5", line: "AUTH CRAM-MD5", opt: strict, want: Command{Verb: AUTH, Mechanism: "CRAM-MD5"}},
		{name: "AUTH lower-case tolerated", line: "auth login", want: Command{Verb: AUTH, Mechanism: "LOGIN"}, canon: "AUTH LOGIN", warns: []int{6}},
		// RFC 3030 §4 examples.
		{name: "BDAT", line: "BDAT 86", opt: strict, want: Command{Verb: BDAT, ChunkSize: 86}},
		{name: "BDAT LAST", line: "BDAT 0 LAST", opt: strict, want: Command{Verb: BDAT, Last: true}},
		{name: "BDAT last lower", line: "bdat 5 last", opt: strict, want: Command{Verb: BDAT, ChunkSize: 5, Last: true}, canon: "BDAT 5 LAST"},
		// RFC 1985 §5.
		{name: "ETRN domain", line: "ETRN example.com", opt: strict, want: Command{Verb: ETRN, Domain: "example.com"}},
		{name: "ETRN subdomains", line: "ETRN @example.com", opt: strict, want: Command{Verb: ETRN, Domain: "example.com", Subdomains: true}},
		{name: "ETRN queue", line: "ETRN #fast-queue", opt: strict, want: Command{Verb: ETRN, Queue: "fast-queue"}},
		// RFC 2645 §4.
		{name: "ATRN bare", line: "ATRN", opt: strict, want: Command{Verb: ATRN}},
		{name: "ATRN list", line: "ATRN a.example,b.example", opt: strict, want: Command{Verb: ATRN, Domains: []string{"a.example", "b.example"}}},
		// Postfix XCLIENT_README example.
		{name: "XCLIENT", line: "XCLIENT NAME=spike.porcupine.org ADDR=168.100.189.2", opt: strict,
			want: Command{Verb: XCLIENT, Attrs: []Attr{{"NAME", "spike.porcupine.org"}, {"ADDR", "168.100.189.2"}}}},
		{name: "XCLIENT unavailable", line: "XCLIENT name=[UNAVAILABLE] login=+3Cnone+3E", opt: strict,
			want: Command{Verb: XCLIENT, Attrs: []Attr{{"NAME", "[UNAVAILABLE]"}, {"LOGIN", "+3Cnone+3E"}}}, canon: "XCLIENT NAME=[UNAVAILABLE] LOGIN=+3Cnone+3E"},
		{name: "XFORWARD", line: "XFORWARD PROTO=ESMTP IDENT=abc123 SOURCE=REMOTE", opt: strict,
			want: Command{Verb: XFORWARD, Attrs: []Attr{{"PROTO", "ESMTP"}, {"IDENT", "abc123"}, {"SOURCE", "REMOTE"}}}},
		// RFC 821 verbs.
		{name: "SEND obsolete", line: "SEND FROM:<bob@example.org>", opt: strict, want: Command{Verb: SEND, Path: Path{Mailbox: bob}}, warns: []int{1}},
		{name: "TURN obsolete", line: "TURN", opt: strict, want: Command{Verb: TURN}, warns: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.opt.ParseCommand(tt.line)
			if err != nil {
				t.Fatalf("ParseCommand(%q): %v", tt.line, err)
			}
			if c.Raw != tt.line {
				t.Errorf("Raw = %q, want %q", c.Raw, tt.line)
			}
			if got := normalised(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseCommand(%q) =\n  %+v\nwant\n  %+v", tt.line, got, tt.want)
			}
			var cols []int
			for _, w := range c.Warnings {
				cols = append(cols, w.Column)
			}
			if !reflect.DeepEqual(cols, tt.warns) {
				t.Errorf("warning columns = %v, want %v (%v)", cols, tt.warns, c.Warnings)
			}
			canon := tt.canon
			if canon == "" {
				canon = tt.line
			}
			if s := c.String(); s != canon {
				t.Errorf("String() = %q, want %q", s, canon)
			}
			again, err := tt.opt.ParseCommand(c.String())
			if err != nil {
				t.Fatalf("re-parsing %q: %v", c.String(), err)
			}
			if !reflect.DeepEqual(normalised(again), normalised(c)) {
				t.Errorf("round trip via %q changed the command:\n  %+v\n  %+v", c.String(), normalised(again), normalised(c))
			}
		})
	}
}

func TestParseCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		line string
		opt  ParseOptions
		col  int
		msg  string
	}{
		{name: "empty", line: "", col: 1, msg: "empty command line"},
		{name: "brief example", line: "MAIL FROM:a@b.example", opt: strict, col: 11, msg: "expected '<' to start the reverse-path"},
		{name: "space after colon strict", line: "MAIL FROM: <a@b.example>", opt: strict, col: 11, msg: "space after"},
		{name: "missing colon", line: "MAIL FROM <a@b.example>", col: 10, msg: `expected "FROM:"`},
		{name: "RCPT FROM", line: "RCPT FROM:<a@b.example>", col: 6, msg: `expected "TO:"`},
		{name: "MAIL alone", line: "MAIL", col: 5, msg: "MAIL needs FROM:"},
		{name: "MAIL FROM: nothing", line: "MAIL FROM:", col: 11, msg: "expected '<'"},
		{name: "MAIL Postmaster", line: "MAIL FROM:<Postmaster>", col: 11, msg: "needs a domain"},
		{name: "RCPT null", line: "RCPT TO:<>", col: 9, msg: "cannot be null"},
		{name: "unclosed path", line: "RCPT TO:<a@b.example", col: 21, msg: "expected '>'"},
		{name: "junk after path", line: "RCPT TO:<a@b.example>x", col: 22, msg: "expected a space"},
		{name: "utf8 without SMTPUTF8 on MAIL", line: "MAIL FROM:<pelé@example.com>", col: 15, msg: "add the SMTPUTF8 parameter"},
		{name: "utf8 in RCPT without option", line: "RCPT TO:<pelé@example.com>", col: 13, msg: "needs SMTPUTF8"},
		{name: "DATA argument", line: "DATA now", col: 6, msg: "DATA takes no argument"},
		{name: "QUIT argument", line: "QUIT please", col: 6, msg: "QUIT takes no argument"},
		{name: "STARTTLS argument", line: "STARTTLS x", col: 10, msg: "RFC 3207"},
		{name: "DATA trailing space strict", line: "DATA ", opt: strict, col: 5, msg: "trailing space"},
		{name: "EHLO no argument", line: "EHLO", col: 5, msg: "EHLO needs a domain"},
		{name: "EHLO only spaces", line: "EHLO   ", col: 8, msg: "EHLO needs a domain"},
		{name: "EHLO underscore strict", line: "EHLO DESKTOP_1A2B", opt: strict, col: 13, msg: "'_' is not allowed"},
		{name: "HELO literal strict", line: "HELO [192.0.2.1]", opt: strict, col: 6, msg: "needs EHLO"},
		{name: "VRFY no argument", line: "VRFY", col: 5, msg: "VRFY needs an argument"},
		{name: "AUTH no mechanism", line: "AUTH", col: 5, msg: "SASL mechanism"},
		{name: "AUTH bad mechanism", line: "AUTH PL@IN", col: 8, msg: "not allowed in a SASL mechanism"},
		{name: "AUTH long mechanism", line: "AUTH ABCDEFGHIJKLMNOPQRSTU", col: 6, msg: "20 characters"},
		{name: "AUTH lower strict", line: "AUTH plain", opt: strict, col: 6, msg: "upper-case"},
		{name: "AUTH bad base64", line: "AUTH PLAIN dGVz*A==", col: 16, msg: "not base64"},
		{name: "AUTH unpadded base64", line: "AUTH PLAIN dGVzdA", col: 18, msg: "multiple of 4"},
		{name: "AUTH two responses", line: "AUTH PLAIN dGVz dGVz", col: 17, msg: "unexpected argument"},
		{name: "BDAT no size", line: "BDAT", col: 5, msg: "chunk size"},
		{name: "BDAT not digits", line: "BDAT 12x", col: 8, msg: "1 or more digits"},
		{name: "BDAT overflow", line: "BDAT 18446744073709551616", col: 6, msg: "64 bits"},
		{name: "BDAT bad marker", line: "BDAT 5 FIRST", col: 8, msg: "expected LAST"},
		{name: "ETRN empty queue", line: "ETRN #", col: 7, msg: "queue name"},
		{name: "ETRN bad domain", line: "ETRN ex ample.com", col: 9, msg: "unexpected argument"},
		{name: "ATRN bad list", line: "ATRN a.example,,b.example", col: 16, msg: "expected a domain"},
		{name: "XCLIENT unknown attribute", line: "XCLIENT FOO=bar", col: 9, msg: "does not know the attribute"},
		{name: "XFORWARD LOGIN is XCLIENT only", line: "XFORWARD LOGIN=bob", col: 10, msg: "does not know"},
		{name: "XCLIENT no equals", line: "XCLIENT NAME", col: 13, msg: "expected '='"},
		{name: "XCLIENT bad xtext", line: "XCLIENT NAME=a+zz", col: 15, msg: "hex"},
		{name: "SEND with params", line: "SEND FROM:<a@b.example> SIZE=1", col: 25, msg: "takes no parameters"},
		{name: "bare LF inside", line: "NOOP\nQUIT", col: 5, msg: "bare"},
		{name: "bare CR inside", line: "RSET\r", col: 5, msg: "bare"},
		{name: "NUL", line: "NOOP \x00", col: 6, msg: "control character"},
		{name: "leading space strict", line: " QUIT", opt: strict, col: 1, msg: "space before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.opt.ParseCommand(tt.line)
			if err == nil {
				t.Fatalf("ParseCommand(%q) = %v, want an error", tt.line, c)
			}
			checkSyntaxError(t, err, "command", tt.col, tt.msg)
		})
	}
}

func TestUnknownVerb(t *testing.T) {
	for _, line := range []string{"FOO bar", "XEXCH50 1 2", "MAIL:FROM:<a@b>", "GET / HTTP/1.1"} {
		_, err := ParseCommand(line)
		var uv *UnknownVerbError
		if !errors.As(err, &uv) {
			t.Errorf("ParseCommand(%q) error = %v, want *UnknownVerbError", line, err)
			continue
		}
		if want, _, _ := strings.Cut(line, " "); uv.Verb != want {
			t.Errorf("UnknownVerbError.Verb = %q, want %q", uv.Verb, want)
		}
		checkSyntaxError(t, err, "command", 1, "unknown command")
	}
	_, err := ParseCommand(strings.Repeat("X", 200))
	var uv *UnknownVerbError
	if !errors.As(err, &uv) || len(uv.Verb) != 64 {
		t.Errorf("a 200-byte verb gives %v; want the verb cut to 64 bytes", err)
	}
}

func TestCommandLineLength(t *testing.T) {
	// RFC 5321 §4.5.3.1.4: 512 octets including the CRLF.
	base := "NOOP "
	ok := base + strings.Repeat("x", DefaultMaxCommandLength-2-len(base))
	if _, err := ParseCommand(ok); err != nil {
		t.Errorf("a %d-octet line (with CRLF) was rejected: %v", len(ok)+2, err)
	}
	over := ok + "x"
	_, err := ParseCommand(over)
	var tl *CommandTooLongError
	if !errors.As(err, &tl) || tl.Length != 513 || tl.Limit != 512 {
		t.Fatalf("a 513-octet line gives %v, want *CommandTooLongError{513, 512}", err)
	}
	checkSyntaxError(t, err, "command", 511, "line too long")
	// An extension may raise the limit (e.g. RFC 1870 §3 for SIZE).
	if _, err := (ParseOptions{MaxLineLength: 1024}).ParseCommand(over); err != nil {
		t.Errorf("with MaxLineLength 1024 the 513-octet line was rejected: %v", err)
	}
	// With SMTPUTF8 the limit still counts octets, not characters.
	utf := "RCPT TO:<" + strings.Repeat("é", 250) + "@example.com>"
	if _, err := (ParseOptions{SMTPUTF8: true}).ParseCommand(utf); !errors.As(err, &tl) {
		t.Errorf("a %d-octet UTF-8 line gives %v, want *CommandTooLongError", len(utf)+2, err)
	}
}

func TestCommandWarningsStrictVsLenient(t *testing.T) {
	// Each tolerated deviation is a warning in lenient mode and an error,
	// at the same column, in strict mode.
	for _, line := range []string{
		"MAIL FROM: <a@b.example>", "MAIL FROM:a@b.example", "RCPT TO:<a@b.example>  NOTIFY=NEVER", "QUIT ",
		"HELO [192.0.2.1]", "AUTH plain", "EHLO my_host", "EHLO a b", "RCPT TO:<" + strings.Repeat("l", 65) + "@b.example>", " NOOP",
	} {
		c, err := lenient.ParseCommand(line)
		if err != nil || len(c.Warnings) == 0 {
			t.Errorf("lenient ParseCommand(%q) = %v, %v; want warnings", line, c, err)
			continue
		}
		_, err = strict.ParseCommand(line)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Column != c.Warnings[0].Column {
			t.Errorf("strict ParseCommand(%q) = %v; want an error at column %d like the warning %v", line, err, c.Warnings[0].Column, c.Warnings[0])
		}
	}
}

func TestCommandGolden(t *testing.T) {
	// A corpus of lines as real clients and people type them; the golden
	// file shows how each parses, leniently and strictly, so that a change
	// in wording or columns is reviewed.
	lines := []string{
		"EHLO mail.example.com", "EHLO [IPv6:2001:db8::25]", "HELO localhost", "EHLO my_laptop.local", "EHLO",
		"MAIL FROM:<alice@example.com> SIZE=2048 BODY=8BITMIME", "MAIL FROM:<> BODY=BINARYMIME",
		"mail from: <alice@example.com>", "MAIL FROM:alice@example.com", "MAIL FROM:<alice@example.com> SIZE=abc",
		"MAIL FROM:<alice@example.com> BODY=9BIT", "MAIL FROM:<alice@example.com> RET=ALL",
		"MAIL FROM:<alice@example.com> ENVID=a=b", "MAIL FROM:<alice@example.com> AUTH=<>",
		"MAIL FROM:<alice@example.com> AUTH=alice+40example.com", "MAIL FROM:<alice@example.com> AUTH=nobody",
		"MAIL FROM:<alice@example.com> MT-PRIORITY=10", "MAIL FROM:<alice@example.com> REQUIRETLS=yes",
		"MAIL FROM:<alice@example.com> SMTPUTF8=1",
		"RCPT TO:<bob@example.org> NOTIFY=NEVER,DELAY", "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,SUCCESS",
		"RCPT TO:<bob@example.org> ORCPT=bob@example.org", "RCPT TO:<bob@example.org> ORCPT=rfc822;bob@example.org",
		"RCPT TO:<bob@example.org> SIZE=10", "RCPT TO:<bob@exa_mple.org>", "RCPT TO:<bob@example.org.>",
		"RCPT TO:<\"bob smith\"@example.org>", "RCPT TO:<bob smith@example.org>", "RCPT TO: bob@example.org",
		"RCPT TO:<@relay.example:bob@example.org>", "RCPT TO:<bob@[300.1.1.1]>",
		"DATA", "DATA please", "BDAT 1024", "BDAT 1024 LAST", "BDAT -1", "VRFY postmaster", "EXPN staff",
		"AUTH PLAIN AGJvYgBzZWNyZXQ=", "AUTH XOAUTH2", "AUTH PLAIN AGJvYgBzZWNyZXQ", "STARTTLS", "QUIT",
		"HELO there friend", "SAML FROM:<a@b.example>", "SOML FROM:<a@b.example>", "TURN", "XCLIENT ADDR=192.0.2.1 PORT=25",
		"XFORWARD NAME=mx.example.org", "ETRN", "HTTP/1.1 200 OK", "RCPT TO:<bob@example.org> NOTIFY=SUCCESS ORCPT=rfc822;bob+2",
	}
	var b strings.Builder
	for _, line := range lines {
		fmt.Fprintf(&b, "C: %s\n", line)
		for _, mode := range []struct {
			name string
			opt  ParseOptions
		}{{"lenient", lenient}, {"strict", strict}} {
			c, err := mode.opt.ParseCommand(line)
			if err != nil {
				fmt.Fprintf(&b, "  %-7s error: %v\n", mode.name, err)
				continue
			}
			fmt.Fprintf(&b, "  %-7s %s\n", mode.name, c)
			for _, w := range c.Warnings {
				fmt.Fprintf(&b, "          warning: %s\n", w)
			}
		}
	}
	golden := filepath.Join("testdata", "commands", "corpus.golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run CommandGolden -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("parse results differ from %s (rerun with -update if intended):\n%s", golden, firstDiff(got, string(want)))
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n  got:  %s\n  want: %s", i+1, gl, wl)
		}
	}
	return "(no difference)"
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"EHLO mail.example.com", "HELO [192.0.2.1]", "MAIL FROM:<bounce@example.com> SIZE=10240 BODY=8BITMIME",
		"MAIL FROM:<> RET=HDRS ENVID=QQ314159", "mail from: a@b.example", "MAIL FROM:<pelé@example.com> SMTPUTF8",
		"RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+40d.example", "RCPT TO:<Postmaster>",
		"RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>", "DATA", "BDAT 1000 LAST", "VRFY <smith@example.com>",
		"AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm", "ETRN #queue", "ATRN a.example,b.example",
		"XCLIENT NAME=spike.porcupine.org ADDR=168.100.189.2", "SEND FROM:<a@b.example>", "FOO bar",
	} {
		f.Add(s, false, false)
		f.Add(s, true, true)
	}
	f.Fuzz(func(t *testing.T, line string, strictMode, smtputf8 bool) {
		opt := ParseOptions{Strict: strictMode, SMTPUTF8: smtputf8}
		c, err := opt.ParseCommand(line)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseCommand(%q) error %v (%T) has no *SyntaxError", line, err, err)
			}
			if se.Column < 1 || se.Column > len(line)+1 {
				var tl *CommandTooLongError
				if !errors.As(err, &tl) {
					t.Fatalf("ParseCommand(%q) error column %d is outside the line (length %d): %v", line, se.Column, len(line), err)
				}
			}
			return
		}
		for _, w := range c.Warnings {
			if strictMode && w.Column > 0 && strings.Contains(w.Msg, "tolerated") {
				t.Fatalf("strict ParseCommand(%q) tolerated something: %v", line, w)
			}
			if w.Column < 0 || w.Column > len(line)+1 {
				t.Fatalf("ParseCommand(%q) warning column %d outside the line", line, w.Column)
			}
		}
		out := c.String()
		again, err := opt.ParseCommand(out)
		if err != nil {
			var tl *CommandTooLongError
			if errors.As(err, &tl) {
				return // canonical form can be longer (added brackets)
			}
			t.Fatalf("ParseCommand(%q) = %q, which does not parse: %v", line, out, err)
		}
		if !reflect.DeepEqual(normalised(again), normalised(c)) {
			t.Fatalf("round trip of %q via %q:\n  %+v\n  %+v", line, out, normalised(again), normalised(c))
		}
		if again.String() != out {
			t.Fatalf("String is not stable: %q then %q", out, again.String())
		}
	})
}
