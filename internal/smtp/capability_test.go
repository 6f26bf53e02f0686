package smtp

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func readReply(t *testing.T, in string) *Reply {
	t.Helper()
	r, err := NewReplyReader(strings.NewReader(in), nil).ReadReply()
	if err != nil {
		t.Fatalf("ReadReply(%q): %v", in, err)
	}
	return r
}

func TestCapabilitiesRealServers(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		domain   string
		greeting string
		keywords []string
		auth     []string
		size     int64
		sizeOK   bool
	}{
		{
			name: "postfix",
			in: "250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n" +
				"250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n" +
				"250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
			domain: "mail.example.com",
			keywords: []string{"PIPELINING", "SIZE", "VRFY", "ETRN", "STARTTLS", "AUTH", "ENHANCEDSTATUSCODES",
				"8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"},
			auth: []string{"PLAIN", "LOGIN"}, size: 10240000, sizeOK: true,
		},
		{
			name: "exim",
			in: "250-mx.example.org Hello client.example.net [192.0.2.7]\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n" +
				"250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250-CHUNKING\r\n250-STARTTLS\r\n250 HELP\r\n",
			domain: "mx.example.org", greeting: "Hello client.example.net [192.0.2.7]",
			keywords: []string{"SIZE", "8BITMIME", "PIPELINING", "AUTH", "CHUNKING", "STARTTLS", "HELP"},
			auth:     []string{"PLAIN", "LOGIN"}, size: 52428800, sizeOK: true,
		},
		{
			name: "exchange",
			in: "250-mx.contoso.com Hello [192.0.2.1]\r\n250-SIZE 37748736\r\n250-PIPELINING\r\n250-DSN\r\n" +
				"250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-X-ANONYMOUSTLS\r\n250-AUTH NTLM\r\n" +
				"250-X-EXPS GSSAPI NTLM\r\n250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250 XRDST\r\n",
			domain: "mx.contoso.com", greeting: "Hello [192.0.2.1]",
			keywords: []string{"SIZE", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES", "STARTTLS", "X-ANONYMOUSTLS",
				"AUTH", "X-EXPS", "8BITMIME", "BINARYMIME", "CHUNKING", "XRDST"},
			auth: []string{"NTLM"}, size: 37748736, sizeOK: true,
		},
		{
			name: "gmail",
			in: "250-mx.google.com at your service, [192.0.2.7]\r\n250-SIZE 157286400\r\n250-8BITMIME\r\n" +
				"250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
			domain: "mx.google.com", greeting: "at your service, [192.0.2.7]",
			keywords: []string{"SIZE", "8BITMIME", "STARTTLS", "ENHANCEDSTATUSCODES", "PIPELINING", "CHUNKING", "SMTPUTF8"},
			size:     157286400, sizeOK: true,
		},
		{
			// RFC 5321 D.1: SIZE without a number means no fixed limit.
			name:   "RFC 5321 D.1",
			in:     "250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n",
			domain: "foo.com", greeting: "greets bar.com",
			keywords: []string{"8BITMIME", "SIZE", "DSN", "HELP"},
			size:     0, sizeOK: true,
		},
		{
			name:     "single line, no extensions",
			in:       "250 lab.smtpsh.test\r\n",
			domain:   "lab.smtpsh.test",
			keywords: []string{},
		},
		{
			name:     "lower-case keywords",
			in:       "250-mx.example.net\r\n250-size 1000\r\n250 auth login\r\n",
			domain:   "mx.example.net",
			keywords: []string{"SIZE", "AUTH"},
			auth:     []string{"LOGIN"}, size: 1000, sizeOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ws := ParseEHLO(readReply(t, tt.in))
			if tt.name == "postfix" {
				// AUTH= is obsolete: exactly one warning, about it.
				if len(ws) != 1 || ws[0].Line != 8 || ws[0].Column != 9 || !strings.Contains(ws[0].Msg, "obsolete") {
					t.Errorf("warnings %v, want one about AUTH= at line 8 column 9", ws)
				}
			} else if ws != nil {
				t.Errorf("unexpected warnings %v", ws)
			}
			if c.Domain != tt.domain || c.Greeting != tt.greeting {
				t.Errorf("domain %q greeting %q, want %q %q", c.Domain, c.Greeting, tt.domain, tt.greeting)
			}
			if got := c.Keywords(); !reflect.DeepEqual(got, tt.keywords) {
				t.Errorf("keywords %q, want %q", got, tt.keywords)
			}
			if got := c.AuthMechanisms(); !reflect.DeepEqual(got, tt.auth) {
				t.Errorf("AuthMechanisms %q, want %q", got, tt.auth)
			}
			if n, ok := c.Size(); n != tt.size || ok != tt.sizeOK {
				t.Errorf("Size() = %d, %v; want %d, %v", n, ok, tt.size, tt.sizeOK)
			}
		})
	}
}

func TestCapabilitiesLookup(t *testing.T) {
	c, _ := ParseEHLO(readReply(t, "250-mx.contoso.com Hello [192.0.2.1]\r\n250-X-EXPS GSSAPI NTLM\r\n250 8BITMIME\r\n"))
	if !c.Has("x-exps") || !c.Has("8bitmime") || c.Has("STARTTLS") {
		t.Errorf("Has is wrong: %+v", c)
	}
	cp, ok := c.Get("X-Exps")
	if !ok || cp.Keyword != "X-EXPS" || !reflect.DeepEqual(cp.Params, []string{"GSSAPI", "NTLM"}) {
		t.Errorf("Get(X-Exps) = %+v, %v", cp, ok)
	}
	if _, ok := c.Get("AUTH"); ok || c.AuthMechanisms() != nil {
		t.Error("AUTH found where none was advertised")
	}
	if _, ok := c.Size(); ok {
		t.Error("Size reported where SIZE was not advertised")
	}
}

func TestCapabilitiesWarnings(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Warning // Msg compared by substring
		kws  []string
	}{
		{"underscore in keyword", "250-mx\r\n250 X_EXPS GSSAPI\r\n",
			[]Warning{{2, 6, "malformed EHLO keyword"}}, []string{"X_EXPS"}},
		{"keyword starting with a dash", "250-mx\r\n250 -FOO\r\n",
			[]Warning{{2, 5, "malformed EHLO keyword"}}, []string{"-FOO"}},
		{"obsolete AUTH= alone", "250-mx\r\n250-AUTH=LOGIN\r\n250 AUTH PLAIN\r\n",
			[]Warning{{2, 9, "obsolete"}}, []string{"AUTH"}},
		{"two spaces between parameters", "250-mx\r\n250 AUTH  PLAIN\r\n",
			[]Warning{{2, 10, "extra space"}}, []string{"AUTH"}},
		{"SIZE not a number", "250-mx\r\n250 SIZE 10M\r\n",
			[]Warning{{2, 10, "not a number"}}, []string{"SIZE"}},
		{"keyword twice", "250-mx\r\n250-PIPELINING\r\n250 PIPELINING\r\n",
			[]Warning{{3, 5, "advertised twice"}}, []string{"PIPELINING"}},
		{"empty line", "250-mx\r\n250-\r\n250 DSN\r\n",
			[]Warning{{2, 5, "empty EHLO line"}}, []string{"DSN"}},
		{"no domain", "250- Hello\r\n250 DSN\r\n",
			[]Warning{{1, 5, "lacks the server's domain"}}, []string{"DSN"}},
		{"non-ASCII parameter", "250-mx\r\n250 X-FOO caf\u00e9\r\n",
			[]Warning{{2, 14, "not allowed"}}, []string{"X-FOO"}},
		{"refused", "502 5.5.1 EHLO not implemented\r\n",
			[]Warning{{1, 1, "not 250"}}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ws := ParseEHLO(readReply(t, tt.in))
			if len(ws) != len(tt.want) {
				t.Fatalf("warnings %v, want %v", ws, tt.want)
			}
			for i, w := range tt.want {
				if ws[i].Line != w.Line || ws[i].Column != w.Column || !strings.Contains(ws[i].Msg, w.Msg) {
					t.Errorf("warning %v, want %v", ws[i], w)
				}
			}
			if got := c.Keywords(); !reflect.DeepEqual(got, tt.kws) {
				t.Errorf("keywords %q, want %q", got, tt.kws)
			}
		})
	}
}

// Columns are counted in the line as received even when an enhanced code
// was stripped from it.
func TestCapabilitiesColumnsWithEnhancedCode(t *testing.T) {
	_, ws := ParseEHLO(readReply(t, "250-2.0.0 mx\r\n250 2.0.0 X_Y\r\n"))
	if len(ws) != 1 || ws[0].Column != 12 {
		t.Errorf("warnings %v, want one at column 12", ws)
	}
}

func TestCapabilitiesHandBuiltReply(t *testing.T) {
	c, ws := ParseEHLO(&Reply{Code: 250, Lines: []string{"lab.smtpsh.test", "SIZE 0", "AUTH PLAIN"}})
	if ws != nil || c.Domain != "lab.smtpsh.test" {
		t.Errorf("got %+v, %v", c, ws)
	}
	if n, ok := c.Size(); n != 0 || !ok {
		t.Errorf("SIZE 0: Size() = %d, %v; want 0 (no fixed limit, RFC 1870 §4), true", n, ok)
	}
	if _, ws := ParseEHLO(nil); len(ws) != 1 {
		t.Errorf("nil reply: warnings %v", ws)
	}
}

func ExampleParseEHLO() {
	r, _ := NewReplyReader(strings.NewReader("250-mx.example.org Hello client [192.0.2.7]\r\n"+
		"250-SIZE 52428800\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n"), nil).ReadReply()
	c, _ := ParseEHLO(r)
	size, _ := c.Size()
	fmt.Println(c.Domain, c.Keywords(), c.AuthMechanisms(), size, c.Has("starttls"))
	// Output:
	// mx.example.org [SIZE AUTH STARTTLS] [PLAIN LOGIN] 52428800 true
}
