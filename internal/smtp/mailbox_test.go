package smtp

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseMailbox(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.1")
	tests := []struct {
		name  string
		in    string
		utf8  bool
		want  Mailbox
		canon string // String(); "" means the input itself
		warn  int    // number of warnings
	}{
		// RFC 5321 §4.1.2 and its examples (§D: Smith@bar.com, Jones@foo.com).
		{name: "rfc5321 D.1 sender", in: "Smith@bar.com", want: Mailbox{LocalPart: "Smith", Domain: "bar.com"}},
		{name: "dot-string", in: "first.last@sub.example.org", want: Mailbox{LocalPart: "first.last", Domain: "sub.example.org"}},
		{name: "atext specials", in: "!#$%&'*+-/=?^_`{|}~@example.com", want: Mailbox{LocalPart: "!#$%&'*+-/=?^_`{|}~", Domain: "example.com"}},
		{name: "hyphenated domain", in: "a@x-1.example-2.com", want: Mailbox{LocalPart: "a", Domain: "x-1.example-2.com"}},
		{name: "case preserved", in: "Bob@Example.COM", want: Mailbox{LocalPart: "Bob", Domain: "Example.COM"}},
		// RFC 3696 §3 examples of quoted local parts.
		{name: "rfc3696 quoted at", in: `"Abc\@def"@example.com`, want: Mailbox{LocalPart: "Abc@def", Domain: "example.com"}, canon: `"Abc@def"@example.com`},
		{name: "rfc3696 quoted space", in: `"Fred\ Bloggs"@example.com`, want: Mailbox{LocalPart: "Fred Bloggs", Domain: "example.com"}, canon: `"Fred Bloggs"@example.com`},
		{name: "rfc3696 quoted backslash", in: `"Joe.\\Blow"@example.com`, want: Mailbox{LocalPart: `Joe.\Blow`, Domain: "example.com"}},
		{name: "rfc3696 quoted at unescaped", in: `"Abc@def"@example.com`, want: Mailbox{LocalPart: "Abc@def", Domain: "example.com"}},
		{name: "rfc3696 user+mailbox", in: "user+mailbox@example.com", want: Mailbox{LocalPart: "user+mailbox", Domain: "example.com"}},
		{name: "rfc3696 customer/department", in: "customer/department=shipping@example.com", want: Mailbox{LocalPart: "customer/department=shipping", Domain: "example.com"}},
		{name: "rfc3696 dollar", in: "$A12345@example.com", want: Mailbox{LocalPart: "$A12345", Domain: "example.com"}},
		{name: "rfc3696 bang", in: "!def!xyz%abc@example.com", want: Mailbox{LocalPart: "!def!xyz%abc", Domain: "example.com"}},
		{name: "rfc3696 underscore local", in: "_somename@example.com", want: Mailbox{LocalPart: "_somename", Domain: "example.com"}},
		{name: "quoted dots", in: `"a..b"@example.com`, want: Mailbox{LocalPart: "a..b", Domain: "example.com"}},
		{name: "quoted quote", in: `"say \"hi\""@example.com`, want: Mailbox{LocalPart: `say "hi"`, Domain: "example.com"}},
		{name: "empty quoted", in: `""@example.com`, want: Mailbox{LocalPart: "", Domain: "example.com"}},
		{name: "needless quotes warned", in: `"john"@example.com`, want: Mailbox{LocalPart: "john", Domain: "example.com"}, canon: "john@example.com", warn: 1},
		// RFC 5321 §4.1.3 address literals.
		{name: "ipv4 literal", in: "postmaster@[192.0.2.1]", want: Mailbox{LocalPart: "postmaster", Literal: AddressLiteral{Addr: v4}}},
		{name: "ipv4 literal leading zeros", in: "a@[192.000.002.001]", want: Mailbox{LocalPart: "a", Literal: AddressLiteral{Addr: v4}}, canon: "a@[192.0.2.1]"},
		{name: "ipv6 literal", in: "a@[IPv6:2001:db8::1]", want: Mailbox{LocalPart: "a", Literal: AddressLiteral{Addr: netip.MustParseAddr("2001:db8::1")}}},
		{name: "ipv6 literal canonicalised", in: "a@[ipv6:2001:DB8:0:0:0:0:0:1]", want: Mailbox{LocalPart: "a", Literal: AddressLiteral{Addr: netip.MustParseAddr("2001:db8::1")}}, canon: "a@[IPv6:2001:db8::1]"},
		{name: "ipv6v4 literal", in: "a@[IPv6:::ffff:192.0.2.1]", want: Mailbox{LocalPart: "a", Literal: AddressLiteral{Addr: netip.MustParseAddr("::ffff:192.0.2.1")}}},
		{name: "general literal", in: "a@[x-tag:some.thing]", want: Mailbox{LocalPart: "a", Literal: AddressLiteral{Tag: "x-tag", Content: "some.thing"}}, warn: 1},
		// RFC 6531 §3.3 (and RFC 6530's examples).
		{name: "utf8 local part", in: "pelé@example.com", utf8: true, want: Mailbox{LocalPart: "pelé", Domain: "example.com"}},
		{name: "utf8 u-label", in: "用户@例子.广告", utf8: true, want: Mailbox{LocalPart: "用户", Domain: "例子.广告"}},
		{name: "utf8 quoted", in: `"δοκιμή test"@παράδειγμα.δοκιμή`, utf8: true, want: Mailbox{LocalPart: "δοκιμή test", Domain: "παράδειγμα.δοκιμή"}},
		// Warned but valid.
		{name: "numeric domain warned", in: "a@192.0.2.1", want: Mailbox{LocalPart: "a", Domain: "192.0.2.1"}, warn: 1},
		{name: "63 octet label", in: "a@" + strings.Repeat("x", 63) + ".com", want: Mailbox{LocalPart: "a", Domain: strings.Repeat("x", 63) + ".com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warns, err := ParseOptions{Strict: true, SMTPUTF8: tt.utf8}.ParseMailbox(tt.in)
			if err != nil {
				t.Fatalf("ParseMailbox(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseMailbox(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			if len(warns) != tt.warn {
				t.Errorf("ParseMailbox(%q) warnings = %v, want %d", tt.in, warns, tt.warn)
			}
			canon := tt.canon
			if canon == "" {
				canon = tt.in
			}
			if s := got.String(); s != canon {
				t.Errorf("String() = %q, want %q", s, canon)
			}
			again, _, err := ParseOptions{SMTPUTF8: tt.utf8}.ParseMailbox(got.String())
			if err != nil || again != got {
				t.Errorf("re-parsing %q = %#v, %v; want %#v", got.String(), again, err, got)
			}
		})
	}
}

func TestParseMailboxErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		utf8   bool
		strict bool
		col    int
		msg    string // substring of the message
	}{
		{name: "empty", in: "", col: 1, msg: "expected a local part"},
		{name: "no at", in: "postmaster", col: 11, msg: "expected '@'"},
		{name: "empty local", in: "@example.com", col: 1, msg: "empty local part"},
		{name: "leading dot", in: ".a@example.com", col: 1, msg: "cannot start with '.'"},
		{name: "rfc3696 double dot", in: "a..b@example.com", col: 3, msg: "two dots"},
		{name: "trailing dot local", in: "a.@example.com", col: 2, msg: "cannot end with '.'"},
		{name: "unquoted space", in: "Fred Bloggs@example.com", col: 5, msg: "expected '@'"},
		{name: "unterminated quote", in: `"abc@example.com`, col: 1, msg: "no closing"},
		{name: "control in quotes", in: "\"a\x01\"@x.com", col: 3, msg: "control character"},
		{name: "empty domain", in: "a@", col: 3, msg: "expected a domain"},
		{name: "underscore domain", in: "a@my_host.com", col: 5, msg: "'_' is not allowed"},
		{name: "leading hyphen label", in: "a@-x.com", col: 3, msg: "cannot start with '-'"},
		{name: "trailing hyphen label", in: "a@x-.com", col: 4, msg: "cannot end with '-'"},
		{name: "trailing dot domain", in: "a@example.com.", col: 14, msg: "does not end with '.'"},
		{name: "double dot domain", in: "a@example..com", col: 11, msg: "two dots"},
		{name: "64 octet label", in: "a@" + strings.Repeat("x", 64) + ".com", col: 3, msg: "63"},
		{name: "256 octet domain", in: "a@" + strings.Repeat(strings.Repeat("x", 50)+".", 5) + "abcde", col: 3, msg: "255"},
		{name: "65 octet local part strict", in: strings.Repeat("l", 65) + "@example.com", strict: true, col: 1, msg: "64"},
		{name: "non-ascii without smtputf8", in: "pelé@example.com", col: 4, msg: "needs SMTPUTF8"},
		{name: "u-label without smtputf8", in: "a@例子.广告", col: 3, msg: "needs SMTPUTF8"},
		{name: "invalid utf8 even with smtputf8", in: "a\xff@example.com", utf8: true, col: 2, msg: "invalid UTF-8"},
		{name: "symbol in u-label", in: "a@☃.net", utf8: true, col: 3, msg: "not allowed in a domain label"},
		{name: "ipv4 literal over 255", in: "a@[192.0.2.256]", col: 12, msg: "over 255"},
		{name: "ipv4 literal short", in: "a@[192.0.2]", col: 11, msg: "expected '.'"},
		{name: "ipv6 literal without tag", in: "a@[2001:db8::1]", col: 4, msg: "tag"},
		{name: "ipv6 zone", in: "a@[IPv6:fe80::1%eth0]", col: 16, msg: "zone"},
		{name: "ipv6 single group ::", in: "a@[IPv6:1:2:3:4:5:6:7::]", col: 22, msg: "two groups"},
		{name: "ipv6 garbage", in: "a@[IPv6:xyz]", col: 9, msg: "not an IPv6"},
		{name: "unclosed literal", in: "a@[192.0.2.1", col: 3, msg: "no closing ']'"},
		{name: "bad literal byte", in: "a@[1\\2]", col: 5, msg: "not allowed in an address literal"},
		{name: "trailing junk", in: "a@example.com>", col: 14, msg: "unexpected '>'"},
		{name: "second at", in: "a@b@example.com", col: 4, msg: "'@' is not allowed"},
		{name: "bare CR", in: "a@example.com\r", col: 14, msg: "bare"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseOptions{Strict: tt.strict, SMTPUTF8: tt.utf8}.ParseMailbox(tt.in)
			checkSyntaxError(t, err, "mailbox", tt.col, tt.msg)
		})
	}
}

// checkSyntaxError asserts that err is (or wraps) a *SyntaxError with the
// given What, column and message fragment.
func checkSyntaxError(t *testing.T, err error, what string, col int, msg string) {
	t.Helper()
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v (%T), want a *SyntaxError", err, err)
	}
	if se.What != what || se.Column != col || !strings.Contains(se.Msg, msg) {
		t.Errorf("error = %q (what %q, column %d), want what %q, column %d, containing %q", se.Error(), se.What, se.Column, what, col, msg)
	}
}

func TestLocalPartLengthLenient(t *testing.T) {
	in := strings.Repeat("l", 65) + "@example.com"
	m, warns, err := ParseOptions{}.ParseMailbox(in)
	if err != nil {
		t.Fatalf("lenient ParseMailbox of a 65-octet local part: %v", err)
	}
	if len(warns) != 1 || warns[0].Column != 1 || !strings.Contains(warns[0].Msg, "64") {
		t.Errorf("warnings = %v, want one at column 1 naming the 64-octet limit", warns)
	}
	if len(m.LocalPart) != 65 {
		t.Errorf("LocalPart has %d octets, want 65", len(m.LocalPart))
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  Path
		null  bool
		warns int
	}{
		{name: "null", in: "<>", null: true},
		{name: "mailbox", in: "<Jones@foo.com>", want: Path{Mailbox: Mailbox{LocalPart: "Jones", Domain: "foo.com"}}},
		{name: "postmaster", in: "<Postmaster>", want: Path{Mailbox: Mailbox{LocalPart: "Postmaster"}}},
		{name: "postmaster lower", in: "<postmaster>", want: Path{Mailbox: Mailbox{LocalPart: "postmaster"}}},
		// RFC 5321 §3.6.1 / Appendix C source route example.
		{name: "source route", in: "<@hosta.int,@jkl.org:userc@d.bar.org>", warns: 1,
			want: Path{Route: []string{"hosta.int", "jkl.org"}, Mailbox: Mailbox{LocalPart: "userc", Domain: "d.bar.org"}}},
		{name: "one hop route", in: "<@a.example:u@b.example>", warns: 1,
			want: Path{Route: []string{"a.example"}, Mailbox: Mailbox{LocalPart: "u", Domain: "b.example"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warns, err := ParseOptions{Strict: true}.ParsePath(tt.in)
			if err != nil {
				t.Fatalf("ParsePath(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParsePath(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			if got.IsNull() != tt.null {
				t.Errorf("IsNull() = %v, want %v", got.IsNull(), tt.null)
			}
			if len(warns) != tt.warns {
				t.Errorf("warnings = %v, want %d", warns, tt.warns)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("String() = %q, want %q", s, tt.in)
			}
		})
	}
}

func TestParsePathErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		col  int
		msg  string
	}{
		{name: "no brackets", in: "a@b.example", col: 1, msg: "expected '<'"},
		{name: "unclosed", in: "<a@b.example", col: 13, msg: "expected '>'"},
		{name: "space inside", in: "<a@b.example c>", col: 13, msg: "expected '>'"},
		{name: "double brackets", in: "<<a@b.example>>", col: 2, msg: "'<' cannot start a local part"},
		{name: "route without colon", in: "<@a.example,u@b.example>", col: 13, msg: "expected '@'"},
		{name: "route bad separator", in: "<@a.example;u@b.example>", col: 12, msg: "';' is not allowed"},
		{name: "junk after", in: "<a@b.example> x", col: 14, msg: "unexpected ' '"},
		{name: "quoted postmaster needs domain", in: `<"Postmaster">`, col: 14, msg: "expected '@'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePath(tt.in)
			checkSyntaxError(t, err, "path", tt.col, tt.msg)
		})
	}
}

func TestPathLengthLimit(t *testing.T) {
	// 1 + 64 + 1 + 189 + 1 = 256 octets: at the limit.
	mb := strings.Repeat("l", 64) + "@" + strings.Repeat("d", 50) + "." + strings.Repeat("d", 50) + "." + strings.Repeat("d", 50) + "." + strings.Repeat("d", 36)
	at := "<" + mb + ">"
	if len(at) != MaxPathLength {
		t.Fatalf("test path is %d octets, want %d", len(at), MaxPathLength)
	}
	if _, err := ParsePath(at); err != nil {
		t.Errorf("ParsePath of a %d-octet path: %v", len(at), err)
	}
	over := "<" + mb + "d>"
	_, err := ParsePath(over)
	checkSyntaxError(t, err, "path", 1, "256")
	if _, warns, err := (ParseOptions{}).ParsePath(over); err != nil || len(warns) != 1 {
		t.Errorf("lenient ParsePath of a 257-octet path = %v, %v; want one warning", warns, err)
	}
}

func TestParseAddressLiteral(t *testing.T) {
	for _, in := range []string{"[192.0.2.1]", "[IPv6:2001:db8::1]", "[IPv6:::1]", "[IPv6:2001:db8:0:0:1:0:0:1]", "[tag:x]"} {
		l, err := ParseAddressLiteral(in)
		if err != nil {
			t.Errorf("ParseAddressLiteral(%q): %v", in, err)
			continue
		}
		if again, err := ParseAddressLiteral(l.String()); err != nil || again != l {
			t.Errorf("round trip of %q via %q = %#v, %v", in, l.String(), again, err)
		}
	}
	// RFC 5321 §4.1.3 IPv6-full: eight groups are fine without "::".
	if l, err := ParseAddressLiteral("[IPv6:2001:db8:0:0:1:0:0:1]"); err != nil || l.String() != "[IPv6:2001:db8::1:0:0:1]" {
		t.Errorf("IPv6-full literal = %q, %v; want the RFC 5952 form [IPv6:2001:db8::1:0:0:1]", l.String(), err)
	}
	if _, err := ParseAddressLiteral("192.0.2.1"); err == nil {
		t.Error("ParseAddressLiteral without brackets succeeded")
	}
}

func TestMailboxStringQuoting(t *testing.T) {
	tests := []struct {
		m    Mailbox
		want string
	}{
		{Mailbox{LocalPart: "john.doe", Domain: "example.com"}, "john.doe@example.com"},
		{Mailbox{LocalPart: "john doe", Domain: "example.com"}, `"john doe"@example.com`},
		{Mailbox{LocalPart: `a"b\c`, Domain: "example.com"}, `"a\"b\\c"@example.com`},
		{Mailbox{LocalPart: ".a", Domain: "example.com"}, `".a"@example.com`},
		{Mailbox{LocalPart: "", Domain: "example.com"}, `""@example.com`},
		{Mailbox{LocalPart: "Postmaster"}, "Postmaster"},
		{Mailbox{LocalPart: "x", Literal: AddressLiteral{Tag: "tag", Content: "c"}}, "x@[tag:c]"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestMailboxPredicates(t *testing.T) {
	if !(Mailbox{LocalPart: "POSTMASTER", Domain: "x.example"}).IsPostmaster() {
		t.Error("POSTMASTER@x.example is not Postmaster")
	}
	if (Mailbox{LocalPart: "postmaster2", Domain: "x.example"}).IsPostmaster() {
		t.Error("postmaster2 is Postmaster")
	}
	if !(Mailbox{LocalPart: "pelé", Domain: "x.example"}).NeedsSMTPUTF8() || (Mailbox{LocalPart: "pele", Domain: "x.example"}).NeedsSMTPUTF8() {
		t.Error("NeedsSMTPUTF8 does not follow the non-ASCII local part")
	}
}

func FuzzParseMailbox(f *testing.F) {
	for _, s := range []string{
		"Smith@bar.com", `"Abc\@def"@example.com`, `"Fred\ Bloggs"@example.com`, `""@x.org`,
		"a@[192.0.2.1]", "a@[IPv6:2001:db8::1]", "a@[tag:c]", "pelé@example.com", "用户@例子.广告",
		"a..b@c", "a@b_c.d", "a@[IPv6:1:2:3:4:5:6:7::]", "<a@b>",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, smtputf8 bool) {
		o := ParseOptions{SMTPUTF8: smtputf8}
		m, _, err := o.ParseMailbox(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Column < 1 || se.Column > len(s)+1 {
				t.Fatalf("ParseMailbox(%q) error %v has no column within the input", s, err)
			}
			return
		}
		if !smtputf8 && m.NeedsSMTPUTF8() {
			t.Fatalf("ParseMailbox(%q) accepted non-ASCII without SMTPUTF8", s)
		}
		if !utf8.ValidString(m.LocalPart) || !utf8.ValidString(m.Domain) {
			t.Fatalf("ParseMailbox(%q) returned invalid UTF-8", s)
		}
		out := m.String()
		again, _, err := o.ParseMailbox(out)
		if err != nil {
			t.Fatalf("ParseMailbox(%q) = %#v whose String %q does not parse: %v", s, m, out, err)
		}
		if again != m {
			t.Fatalf("round trip of %q via %q: %#v != %#v", s, out, again, m)
		}
		if again.String() != out {
			t.Fatalf("String is not stable: %q then %q", out, again.String())
		}
	})
}
