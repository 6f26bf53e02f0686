package smtp

import (
	"strings"
	"testing"
)

func mustParams(t *testing.T, line string) Params {
	t.Helper()
	c, err := (ParseOptions{Strict: true, SMTPUTF8: true}).ParseCommand(line)
	if err != nil {
		t.Fatalf("ParseCommand(%q): %v", line, err)
	}
	return c.Params
}

func TestParamAccessorsMail(t *testing.T) {
	ps := mustParams(t, "MAIL FROM:<a@b.example> SIZE=10240000 body=8bitmime SMTPUTF8 RET=hdrs ENVID=QQ+2B314159 AUTH=e+3Dmc2@example.com REQUIRETLS MT-PRIORITY=-3 X-UNKNOWN=v")
	if n, ok := ps.Size(); !ok || n != 10240000 {
		t.Errorf("Size() = %d, %v; want 10240000", n, ok)
	}
	if b, ok := ps.Body(); !ok || b != "8BITMIME" {
		t.Errorf("Body() = %q, %v; want 8BITMIME", b, ok)
	}
	if !ps.SMTPUTF8() || !ps.RequireTLS() {
		t.Errorf("SMTPUTF8() = %v, RequireTLS() = %v; want both true", ps.SMTPUTF8(), ps.RequireTLS())
	}
	if r, ok := ps.Ret(); !ok || r != "HDRS" {
		t.Errorf("Ret() = %q, %v; want HDRS", r, ok)
	}
	if e, ok := ps.EnvID(); !ok || e != "QQ+314159" {
		t.Errorf("EnvID() = %q, %v; want QQ+314159", e, ok)
	}
	// RFC 4954 §5 example: AUTH=e+3Dmc2@example.com is e=mc2@example.com.
	if a, ok := ps.Auth(); !ok || a != "e=mc2@example.com" {
		t.Errorf("Auth() = %q, %v; want e=mc2@example.com", a, ok)
	}
	if p, ok := ps.MTPriority(); !ok || p != -3 {
		t.Errorf("MTPriority() = %d, %v; want -3", p, ok)
	}
	if p, ok := ps.Get("x-unknown"); !ok || p.Keyword != "X-UNKNOWN" || p.Value != "v" {
		t.Errorf("Get(x-unknown) = %+v, %v; want X-UNKNOWN=v kept", p, ok)
	}
	if _, ok := ps.Notify(); ok {
		t.Error("Notify() reported a value on a MAIL command without one")
	}
	if got := ps.String(); got != "SIZE=10240000 BODY=8bitmime SMTPUTF8 RET=hdrs ENVID=QQ+2B314159 AUTH=e+3Dmc2@example.com REQUIRETLS MT-PRIORITY=-3 X-UNKNOWN=v" {
		t.Errorf("String() = %q", got)
	}
}

func TestParamAccessorsRcpt(t *testing.T) {
	tests := []struct {
		line     string
		notify   Notify
		addrType string
		orcpt    string
	}{
		// RFC 3461 §4.2 examples and real client traffic.
		{"RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob+40Example.ORG", NotifySuccess | NotifyFailure, "rfc822", "Bob@Example.ORG"},
		{"RCPT TO:<bob@example.org> NOTIFY=never", NotifyNever, "", ""},
		{"RCPT TO:<bob@example.org> NOTIFY=DELAY,FAILURE,SUCCESS", NotifySuccess | NotifyFailure | NotifyDelay, "", ""},
		{"RCPT TO:<bob@example.org> ORCPT=rfc822;x+2By+3Dz@example.org", 0, "rfc822", "x+y=z@example.org"},
		{"RCPT TO:<用户@例子.广告> ORCPT=utf-8;用户@例子.广告", 0, "utf-8", "用户@例子.广告"},
	}
	for _, tt := range tests {
		ps := mustParams(t, tt.line)
		n, ok := ps.Notify()
		if ok != (tt.notify != 0) || n != tt.notify {
			t.Errorf("%q: Notify() = %v, %v; want %v", tt.line, n, ok, tt.notify)
		}
		typ, addr, ok := ps.ORCPT()
		if ok != (tt.addrType != "") || typ != tt.addrType || addr != tt.orcpt {
			t.Errorf("%q: ORCPT() = %q, %q, %v; want %q, %q", tt.line, typ, addr, ok, tt.addrType, tt.orcpt)
		}
	}
	if s := (NotifySuccess | NotifyDelay).String(); s != "SUCCESS,DELAY" {
		t.Errorf("Notify.String() = %q, want SUCCESS,DELAY", s)
	}
}

func TestParamErrors(t *testing.T) {
	tests := []struct {
		name string
		line string
		col  int
		msg  string
	}{
		{"SIZE overflow", "MAIL FROM:<a@b.example> SIZE=18446744073709551616", 30, "64 bits"},
		{"SIZE 21 digits", "MAIL FROM:<a@b.example> SIZE=000000000000000000001", 30, "1 to 20 digits"},
		{"SIZE no value", "MAIL FROM:<a@b.example> SIZE", 25, "SIZE needs a value"},
		{"SIZE empty value", "MAIL FROM:<a@b.example> SIZE=", 30, "empty value"},
		{"SIZE negative", "MAIL FROM:<a@b.example> SIZE=-1", 30, "digits"},
		{"BODY unknown", "MAIL FROM:<a@b.example> BODY=8BIT", 30, "7BIT, 8BITMIME"},
		{"duplicate", "MAIL FROM:<a@b.example> BODY=7BIT body=7bit", 35, "given twice"},
		{"bad keyword", "MAIL FROM:<a@b.example> -SIZE=1", 25, "keyword"},
		{"keyword junk", "MAIL FROM:<a@b.example> SI_ZE=1", 27, "not allowed in a parameter keyword"},
		{"ENVID lower hex", "MAIL FROM:<a@b.example> ENVID=a+2b", 32, "upper-case hex"},
		{"ENVID too long", "MAIL FROM:<a@b.example> ENVID=" + strings.Repeat("x", 101), 31, "100"},
		{"AUTH bad xtext", "MAIL FROM:<a@b.example> AUTH=a+", 31, "hex"},
		{"RET on RCPT", "RCPT TO:<a@b.example> RET=FULL", 23, "belongs on MAIL FROM"},
		{"ORCPT on MAIL", "MAIL FROM:<a@b.example> ORCPT=rfc822;a@b", 25, "belongs on RCPT TO"},
		{"ORCPT no type", "RCPT TO:<a@b.example> ORCPT=;a@b", 29, "address type"},
		{"ORCPT no address", "RCPT TO:<a@b.example> ORCPT=rfc822;", 36, "address after"},
		{"ORCPT too long", "RCPT TO:<a@b.example> ORCPT=rfc822;" + strings.Repeat("x", 490), 23, "500"},
		{"NOTIFY unknown", "RCPT TO:<a@b.example> NOTIFY=ALWAYS", 30, "NEVER or a comma-separated list"},
		{"NOTIFY empty element", "RCPT TO:<a@b.example> NOTIFY=SUCCESS,", 38, "NEVER or a comma-separated list"},
		{"MT-PRIORITY two digits", "MAIL FROM:<a@b.example> MT-PRIORITY=+10", 37, "-9 to 9"},
		{"SMTPUTF8 with value", "MAIL FROM:<a@b.example> SMTPUTF8=yes", 33, "takes no value"},
		{"non-ASCII value without SMTPUTF8", "RCPT TO:<a@b.example> X-NOTE=é", 30, "needs SMTPUTF8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// DSN raises the line limit (RFC 3461 §5); the ORCPT case needs it.
			_, err := ParseOptions{Strict: true, MaxLineLength: 1024}.ParseCommand(tt.line)
			checkSyntaxError(t, err, "command", tt.col, tt.msg)
		})
	}
}

func TestParamsBuiltByHand(t *testing.T) {
	// Accessors must not trust a list that did not come from the parser.
	ps := Params{{"SIZE", "12x"}, {"BODY", "9BIT"}, {"MT-PRIORITY", "99"}, {"NOTIFY", "NEVER,SUCCESS"}, {"ORCPT", "nosemicolon"}, {"ENVID", "a+zz"}}
	if _, ok := ps.Size(); ok {
		t.Error("Size() accepted 12x")
	}
	if _, ok := ps.Body(); ok {
		t.Error("Body() accepted 9BIT")
	}
	if _, ok := ps.MTPriority(); ok {
		t.Error("MTPriority() accepted 99")
	}
	if _, ok := ps.Notify(); ok {
		t.Error("Notify() accepted NEVER,SUCCESS")
	}
	if _, _, ok := ps.ORCPT(); ok {
		t.Error("ORCPT() accepted a value without ';'")
	}
	if _, ok := ps.EnvID(); ok {
		t.Error("EnvID() accepted bad xtext")
	}
}

func TestXtext(t *testing.T) {
	tests := []struct{ decoded, encoded string }{
		{"", ""},
		{"plain@example.com", "plain@example.com"},
		{"e=mc2@example.com", "e+3Dmc2@example.com"}, // RFC 4954 §5
		{"a+b", "a+2Bb"},
		{"two words", "two+20words"},
		{"<>", "<>"},
		{"tab\tand\x7f", "tab+09and+7F"},
		{"é", "+C3+A9"},
	}
	for _, tt := range tests {
		if got := EncodeXtext(tt.decoded); got != tt.encoded {
			t.Errorf("EncodeXtext(%q) = %q, want %q", tt.decoded, got, tt.encoded)
		}
		got, err := DecodeXtext(tt.encoded)
		if err != nil || got != tt.decoded {
			t.Errorf("DecodeXtext(%q) = %q, %v; want %q", tt.encoded, got, err, tt.decoded)
		}
	}
	bad := []struct {
		in  string
		col int
	}{{"a+", 2}, {"a+4", 2}, {"a+4g", 2}, {"+2b", 1}, {"a=b", 2}, {"a b", 2}, {"é", 1}}
	for _, tt := range bad {
		_, err := DecodeXtext(tt.in)
		checkSyntaxError(t, err, "xtext", tt.col, "")
	}
}

func FuzzXtext(f *testing.F) {
	for _, s := range []string{"", "e=mc2@example.com", "a+b c", "\x00\xff", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := EncodeXtext(s)
		if len(enc) > 3*len(s) {
			t.Fatalf("EncodeXtext(%q) = %d bytes, over 3 per input byte", s, len(enc))
		}
		dec, err := DecodeXtext(enc)
		if err != nil || dec != s {
			t.Fatalf("DecodeXtext(EncodeXtext(%q)) = %q, %v", s, dec, err)
		}
	})
}

func TestParamKnown(t *testing.T) {
	for _, tc := range []struct {
		kw   string
		want bool
	}{{"SIZE", true}, {"body", true}, {"MT-PRIORITY", true}, {"NOTIFY", true}, {"FROB", false}, {"XVERP", false}} {
		if got := (Param{Keyword: tc.kw}).Known(); got != tc.want {
			t.Errorf("Param{%q}.Known() = %v, want %v", tc.kw, got, tc.want)
		}
	}
}
