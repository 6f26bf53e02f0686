package transcripts

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what was written; got:\n%s", path, got)
	}
}

func mustParse(t *testing.T, s string) *Transcript {
	t.Helper()
	tr, err := Parse(strings.NewReader(s))
	if err != nil {
		t.Fatalf("Parse: %v\ninput:\n%s", err, s)
	}
	return tr
}

func write(t *testing.T, tr *Transcript, opts WriteOptions) string {
	t.Helper()
	var b strings.Builder
	if err := Write(&b, tr, opts); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.String()
}

var started = time.Date(2026, 11, 25, 19, 10, 0, 0, time.UTC)

// labSession is a session with every kind of event, as the shell would
// record one against the lab: times, STARTTLS, AUTH LOGIN, pipelining, DATA
// with a dot-stuffed line, a reply with a control character.
func labSession() *Transcript {
	at := func(ms int) time.Time { return started.Add(time.Duration(ms) * time.Millisecond) }
	tr := &Transcript{Server: "127.0.0.1:2525", Client: "127.0.0.1:51234", Started: started, Source: "live",
		Meta: map[string]string{"profile": "postfix-like", "smtpsh-version": "0.1.0"}}
	tr.AddConnect(at(0), "127.0.0.1:2525", "socks5://127.0.0.1:1080")
	tr.AddServer(at(4), "220 lab.smtpsh.test ESMTP smtpsh-lab")
	tr.AddClient(at(1510), "EHLO student.example")
	tr.AddServer(at(1512), "250-lab.smtpsh.test")
	tr.AddServer(at(1512), "250-PIPELINING")
	tr.AddServer(at(1512), "250-AUTH PLAIN LOGIN")
	tr.AddServer(at(1512), "250 STARTTLS")
	tr.AddClient(at(2000), "STARTTLS")
	tr.AddServer(at(2001), "220 2.0.0 Ready to start TLS")
	tr.AddTLS(at(2020), TLSInfo{Version: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256",
		CertSubject: "CN=lab.smtpsh.test,O=smtpsh lab", ServerName: "lab.smtpsh.test"})
	tr.AddClient(at(3000), "AUTH LOGIN")
	tr.AddServer(at(3001), "334 VXNlcm5hbWU6")
	tr.AddClient(at(4000), "c3R1ZGVudA==")
	tr.AddServer(at(4001), "334 UGFzc3dvcmQ6")
	tr.AddClient(at(5000), "aHVudGVyMg==")
	tr.AddServer(at(5002), "235 2.7.0 Authentication successful")
	tr.AddClient(at(6000), "MAIL FROM:<student@example.org>")
	tr.AddClient(at(6000), "RCPT TO:<teacher@example.org>")
	tr.AddClient(at(6000), "DATA")
	tr.AddServer(at(6003), "250 2.1.0 Ok")
	tr.AddServer(at(6003), "250 2.1.5 Ok")
	tr.AddServer(at(6003), "354 End data with <CR><LF>.<CR><LF>")
	tr.AddData(at(7000), "Subject: hello")
	tr.AddData(at(7000), "")
	tr.AddData(at(7000), "..a line that began with a dot")
	tr.AddData(at(7000), "\tindented, and trailing space ")
	tr.AddClient(at(7000), ".")
	tr.AddServer(at(7050), "250 2.0.0 Ok: queued as 4Fq2Xk1vZz")
	tr.AddNote(time.Time{}, "the lab keeps the message in memory only")
	tr.AddClient(at(8000), "QUIT")
	tr.AddServer(at(8001), "221 2.0.0 Bye\x1b[2J")
	tr.AddClose(at(8002), SideServer, "")
	return tr
}

func TestWriteGolden(t *testing.T) {
	for _, c := range []struct {
		file string
		opts WriteOptions
	}{
		{"session.txt", WriteOptions{Times: true}},
		{"session-notimes.txt", WriteOptions{}},
		{"session-secrets.txt", WriteOptions{Times: true, Secrets: true}},
	} {
		t.Run(c.file, func(t *testing.T) {
			out := write(t, labSession(), c.opts)
			golden(t, c.file, []byte(out))
			// What was written reads back as what was meant.
			want := labSession()
			if !c.opts.Secrets {
				want = Redact(want)
			}
			if !c.opts.Times {
				for i := range want.Events {
					want.Events[i].Time = time.Time{}
				}
			}
			if got := mustParse(t, out); !got.Equal(want) {
				t.Errorf("Parse(Write(t)) != t:\n%s", write(t, got, WriteOptions{Times: true, Secrets: true}))
			}
		})
	}
}

func TestParseDesignExample(t *testing.T) {
	in, err := os.ReadFile("testdata/design-example.txt")
	if err != nil {
		t.Fatal(err)
	}
	tr := mustParse(t, string(in))
	if tr.Server != "127.0.0.1:2525" || tr.Client != "127.0.0.1:51234" || !tr.Started.Equal(started) {
		t.Errorf("metadata = %q %q %v", tr.Server, tr.Client, tr.Started)
	}
	kinds := []Kind{Server, Client, Server, Server, Server, Client, Server, TLS, Client}
	if len(tr.Events) != len(kinds) {
		t.Fatalf("%d events, want %d", len(tr.Events), len(kinds))
	}
	for i, k := range kinds {
		if tr.Events[i].Kind != k {
			t.Errorf("event %d is %v, want %v", i+1, tr.Events[i].Kind, k)
		}
	}
	wantTLS := TLSInfo{Version: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", CertSubject: "CN=lab.smtpsh.test"}
	if got := tr.Events[7].TLS; got == nil || *got != wantTLS {
		t.Errorf("tls = %+v, want %+v", got, wantTLS)
	}
	if e := tr.Events[8]; e.Text != "AUTH PLAIN <redacted>" || !e.Redacted {
		t.Errorf("last event = %q redacted=%v, want a redacted AUTH PLAIN", e.Text, e.Redacted)
	}
	// The example is in the writer's canonical form.
	if got := write(t, tr, WriteOptions{}); got != string(in) {
		t.Errorf("Write differs from DESIGN.md's example:\n%s", got)
	}
}

// TestRFC5321AppendixD1 reads the example session of RFC 5321 Appendix D.1
// with its C: and S: lines exactly as the RFC prints them.
func TestRFC5321AppendixD1(t *testing.T) {
	in, err := os.ReadFile("testdata/rfc5321-d1.txt")
	if err != nil {
		t.Fatal(err)
	}
	tr := mustParse(t, string(in))
	if len(tr.Events) != 23 {
		t.Fatalf("%d events, want the RFC's 23 lines", len(tr.Events))
	}
	if e := tr.Events[18]; e.Kind != Client || e.Text != "...etc. etc. etc." {
		t.Errorf("event 19 = %v %q", e.Kind, e.Text)
	}
	if got := write(t, tr, WriteOptions{}); got != string(in) {
		t.Errorf("Write differs from the RFC notation:\n%s", got)
	}
	tr.MarkData()
	var data []string
	for _, e := range tr.Events {
		if e.Kind == Data {
			data = append(data, e.Text)
		}
	}
	if want := []string{"Blah blah blah...", "...etc. etc. etc."}; strings.Join(data, "|") != strings.Join(want, "|") {
		t.Errorf("MarkData marked %q, want %q", data, want)
	}
	if e := tr.Events[19]; e.Kind != Client || e.Text != "." {
		t.Errorf("the end of data %v %q should stay a client line", e.Kind, e.Text)
	}
	out := write(t, tr, WriteOptions{})
	if !strings.Contains(out, "\nD: Blah blah blah...\nD: ...etc. etc. etc.\nC: .\n") {
		t.Errorf("data lines not written as D:\n%s", out)
	}
}

// TestEscaping pins the written form of awkward texts and checks each reads
// back as the same bytes.
func TestEscaping(t *testing.T) {
	cases := []struct {
		name string
		kind Kind
		text string
		want string // the event line as written
	}{
		{"plain", Client, "MAIL FROM:<a@example.org>", `C: MAIL FROM:<a@example.org>`},
		{"empty", Data, "", `D:`},
		{"leading spaces", Data, "  indented", `D:   indented`},
		{"leading tab", Data, "\tfolded header", "D: \tfolded header"},
		{"trailing space", Server, "250 ok ", `S:"250 ok "`},
		{"trailing tab", Data, "x\t", `D:"x\t"`},
		{"only spaces", Data, "   ", `D:"   "`},
		{"bare CR", Client, "EHLO x\rMAIL FROM:<a@b>", `C:"EHLO x\rMAIL FROM:<a@b>"`},
		{"bare LF smuggling", Data, "x\n.\nMAIL FROM:<evil@example>", `D:"x\n.\nMAIL FROM:<evil@example>"`},
		{"NUL", Client, "HELO a\x00b", `C:"HELO a\x00b"`},
		{"terminal escape", Server, "220 \x1b[31mred\x1b[0m", `S:"220 \x1b[31mred\x1b[0m"`},
		{"DEL", Client, "NOOP\x7f", `C:"NOOP\x7f"`},
		{"C1 control", Server, "250 \u0085next", `S:"250 \u0085next"`},
		{"invalid UTF-8", Data, "caf\xe9", `D:"caf\xe9"`},
		{"UTF-8 stays raw", Client, "RCPT TO:<jörg@exämple.de>", `C: RCPT TO:<jörg@exämple.de>`},
		{"no-break space", Data, "a\u00a0b", `D:"a\u00a0b"`},
		{"line separator", Data, "a\u2028b", `D:"a\u2028b"`},
		{"byte order mark", Data, "\ufeffSubject: x", `D:"\ufeffSubject: x"`},
		{"starts with a quote", Data, `"Hi," she said`, `D: "Hi," she said`},
		{"looks quoted", Client, `"x"`, `C: "x"`},
		{"backslash", Data, `C:\path\to`, `D: C:\path\to`},
		{"literal redacted mark", Client, "<redacted>", `C:"<redacted>"`},
		{"literal redacted AUTH", Client, "AUTH PLAIN <redacted>", `C:"AUTH PLAIN <redacted>"`},
		{"redacted mark from server", Server, "<redacted>", `S: <redacted>`},
		{"note", Note, "retrying with HELO", `*: note retrying with HELO`},
		{"note quoted", Note, `"quoted" note`, `*: note "\"quoted\" note"`},
		{"note with newline", Note, "two\nlines", `*: note "two\nlines"`},
		{"empty note", Note, "", `*: note`},
		{"close reason", Close, "read: connection reset by peer", `*: close server read: connection reset by peer`},
		{"close reason control", Close, "timeout\r", `*: close server "timeout\r"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := &Transcript{Events: []Event{{Kind: c.kind, Text: c.text}}}
			if c.kind == Close {
				tr.Events[0].Side = SideServer
			}
			out := write(t, tr, WriteOptions{Secrets: true})
			line := strings.TrimSuffix(strings.TrimPrefix(out, header+"\n"), "\n")
			if line != c.want {
				t.Errorf("written as\n\t%s\nwant\n\t%s", line, c.want)
			}
			if got := mustParse(t, out); !got.Equal(tr) {
				t.Errorf("read back as %+v, want %+v", got.Events, tr.Events)
			}
		})
	}
}

func TestStarEvents(t *testing.T) {
	cases := []struct {
		name string
		line string
		want Event
	}{
		{"tls design", `*: tls TLSv1.3 TLS_AES_128_GCM_SHA256 cert="CN=lab.smtpsh.test"`,
			Event{Kind: TLS, TLS: &TLSInfo{Version: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", CertSubject: "CN=lab.smtpsh.test"}}},
		{"tls all", `*: tls TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 cert="CN=mx.google.com" sni=gmail-smtp-in.l.google.com alpn=smtp`,
			Event{Kind: TLS, TLS: &TLSInfo{Version: "TLSv1.2", CipherSuite: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
				CertSubject: "CN=mx.google.com", ServerName: "gmail-smtp-in.l.google.com", ALPN: "smtp"}}},
		{"tls unknown from capture", `*: tls - -`, Event{Kind: TLS, TLS: &TLSInfo{}}},
		{"tls quoted dash", `*: tls "-" "TLS weird suite"`, Event{Kind: TLS, TLS: &TLSInfo{Version: "-", CipherSuite: "TLS weird suite"}}},
		{"connect", `*: connect 127.0.0.1:2525`, Event{Kind: Connect, Addr: "127.0.0.1:2525"}},
		{"connect IPv6 via proxy", `*: connect [2001:db8::25]:25 via=http://proxy.example:3128`,
			Event{Kind: Connect, Addr: "[2001:db8::25]:25", Via: "http://proxy.example:3128"}},
		{"close server", `*: close server`, Event{Kind: Close, Side: SideServer}},
		{"close client reason", `*: close client QUIT sent`, Event{Kind: Close, Side: SideClient, Text: "QUIT sent"}},
		{"close unknown", `*: close unknown`, Event{Kind: Close}},
		{"gap", `*: gap client 1460 bytes`, Event{Kind: Gap, Side: SideClient, Bytes: 1460}},
		{"gap zero", `*: gap server 0 bytes`, Event{Kind: Gap, Side: SideServer}},
		{"note", `*: note free text`, Event{Kind: Note, Text: "free text"}},
		{"unknown kind kept as note", `*: dkim pass d=example.org`, Event{Kind: Note, Text: "dkim pass d=example.org"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := mustParse(t, header+"\n"+c.line+"\n")
			if len(tr.Events) != 1 || !tr.Events[0].Equal(c.want) {
				t.Fatalf("got %+v, want %+v", tr.Events, c.want)
			}
			again := mustParse(t, write(t, tr, WriteOptions{}))
			if !again.Equal(tr) {
				t.Errorf("round trip gave %+v", again.Events)
			}
		})
	}
}

func TestTimes(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{0, "[+0.000s]"},
		{4 * time.Millisecond, "[+0.004s]"},
		{1500 * time.Millisecond, "[+1.500s]"},
		{time.Nanosecond, "[+0.000000001s]"},
		{1234567 * time.Nanosecond, "[+0.001234567s]"},
		{-250 * time.Millisecond, "[-0.250s]"},
		{3725*time.Second + 125*time.Millisecond, "[+3725.125s]"},
		{maxOffset * time.Second, "[+1000000000.000s]"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			tr := &Transcript{Started: started}
			tr.AddClient(started.Add(c.d), "NOOP")
			out := write(t, tr, WriteOptions{Times: true})
			if !strings.Contains(out, "\n"+c.want+" C: NOOP\n") {
				t.Errorf("wrote\n%s\nwant the time %s", out, c.want)
			}
			if got := mustParse(t, out); !got.Events[0].Time.Equal(tr.Events[0].Time) {
				t.Errorf("read back %v, want %v", got.Events[0].Time, tr.Events[0].Time)
			}
		})
	}
}

func TestParseLenient(t *testing.T) {
	in := "\ufeff" + header + "\r\n" +
		"# a comment, dropped\r\n" +
		"#\r\n" +
		"# Server: not a key, so a comment\r\n" +
		"\r\n" +
		"# started: 2026-11-25T20:10:00.5+01:00  \r\n" +
		"[+1s]   C: NOOP\r\n" +
		"# x-lesson: quoting \"inside\"  source: \"pcap:my capture.pcap\"\r\n" +
		"C:"
	tr := mustParse(t, in)
	want := &Transcript{Started: started.Add(500 * time.Millisecond), Source: "pcap:my capture.pcap",
		Meta: map[string]string{"x-lesson": `quoting "inside"`}}
	want.AddClient(started.Add(1500*time.Millisecond), "NOOP")
	want.AddClient(time.Time{}, "")
	if !tr.Equal(want) {
		t.Errorf("got %+v\nwant %+v", tr, want)
	}
	out := write(t, tr, WriteOptions{Times: true})
	wantOut := header + "\n# started: 2026-11-25T20:10:00.5+01:00\n# source: pcap:my capture.pcap\n" +
		"# x-lesson: quoting \"inside\"\n[+1.000s] C: NOOP\nC:\n"
	if out != wantOut {
		t.Errorf("wrote\n%s\nwant\n%s", out, wantOut)
	}
}

func TestParseErrors(t *testing.T) {
	h := header + "\n"
	long := h + "C: " + strings.Repeat("x", MaxLineBytes) + "\n"
	cases := []struct {
		name      string
		in        string
		line, col int
		msg       string
	}{
		{"empty", "", 0, 0, "empty input"},
		{"no header", "S: 220 hi\n", 1, 1, "not an smtpsh transcript"},
		{"future version", "# smtpsh transcript v2\n", 1, 22, "v2 is newer"},
		{"garbage version", "# smtpsh transcript vX\n", 1, 22, "unknown transcript format version"},
		{"second header", h + "C: NOOP\n" + header + "\n", 3, 1, "second transcript header"},
		{"unknown prefix", h + "X: hello\n", 2, 1, "expected C:, S:, D:, *: or #"},
		{"lower-case prefix", h + "c: hello\n", 2, 1, "expected C:"},
		{"no space after C:", h + "C:NOOP\n", 2, 3, "expected a space or a quote"},
		{"unterminated quote", h + `C:"NOOP` + "\n", 2, 3, "bad quoted line"},
		{"bad escape", h + `C:"\q"` + "\n", 2, 3, "bad quoted line"},
		{"text after quote", h + `C:"NOOP" x` + "\n", 2, 9, "unexpected text after"},
		{"raw control", h + "C: NOOP\x01\n", 2, 8, "control character"},
		{"raw invalid UTF-8", h + "D: caf\xe9\n", 2, 7, "invalid UTF-8"},
		{"raw CR mid-line", h + "C: A\rB\n", 2, 5, "control character"},
		{"time without started", h + "[+0.004s] C: NOOP\n", 2, 1, "needs a \"started:\""},
		{"time without sign", h + "# started: 2026-11-25T19:10:00Z\n[0.004s] C: NOOP\n", 3, 2, "expected '+' or '-'"},
		{"time with 10 decimals", h + "[+0.0000000001s] C: NOOP\n", 2, 14, "more than 9 decimals"},
		{"time unit", h + "[+4ms] C: NOOP\n", 2, 4, "ends with \"s]\""},
		{"time too large", h + "[+9999999999.0s] C: NOOP\n", 2, 3, "more than"},
		{"time no space", h + "[+1.0s]C: NOOP\n", 2, 8, "expected a space after the time"},
		{"star without kind", h + "*: \n", 2, 4, "expected an event kind"},
		{"star no space", h + "*:note\n", 2, 3, "expected a space"},
		{"tls without cipher", h + "*: tls TLSv1.3\n", 2, 15, "cipher suite"},
		{"tls unknown attribute", h + "*: tls TLSv1.3 X cert=\"CN=a\" ocsp=good\n", 2, 30, "unknown attribute \"ocsp\""},
		{"tls repeated attribute", h + "*: tls TLSv1.3 X sni=a sni=b\n", 2, 24, "given twice"},
		{"tls attr not key=value", h + "*: tls TLSv1.3 X CN\n", 2, 18, "expected key=value"},
		{"close bad side", h + "*: close both\n", 2, 10, "side must be client, server or unknown"},
		{"gap negative", h + "*: gap client -5 bytes\n", 2, 15, "expected a number of bytes"},
		{"gap minus zero", h + "*: gap client -0 bytes\n", 2, 15, "expected a number of bytes"},
		{"gap no unit", h + "*: gap client 5\n", 2, 16, "\" bytes\""},
		{"gap wrong unit", h + "*: gap client 5 packets\n", 2, 16, "\" bytes\""},
		{"meta bad started", h + "# started: yesterday\n", 2, 3, "RFC 3339"},
		{"meta repeated", h + "# server: a\n# server: b\n", 3, 3, "given twice"},
		{"meta bad second field", h + "# server: a  Client: b\n", 2, 14, "expected \"key: value\""},
		{"started out of range", h + "# started: 9999-12-31T23:00:00Z\n", 2, 3, "year 9999"},
		{"time out of range", h + "# started: 9998-12-31T23:00:00Z\n[+7200s] C: NOOP\n", 3, 0, "year 9999"},
		{"line too long", long, 2, 0, "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.Line != c.line || pe.Column != c.col || !strings.Contains(pe.Msg, c.msg) {
				t.Errorf("got line %d column %d %q; want line %d column %d containing %q", pe.Line, pe.Column, pe.Msg, c.line, c.col, c.msg)
			}
		})
	}
}

func TestWriteRefusesInvalid(t *testing.T) {
	cases := []struct {
		name string
		tr   *Transcript
		msg  string
	}{
		{"time without started", &Transcript{Events: []Event{{Kind: Client, Text: "NOOP", Time: started}}}, "no Started"},
		{"unknown kind", &Transcript{Events: []Event{{Kind: 0}}}, "unknown kind"},
		{"tls without info", &Transcript{Events: []Event{{Kind: TLS}}}, "TLSInfo"},
		{"negative gap", &Transcript{Events: []Event{{Kind: Gap, Bytes: -1}}}, "gap of -1"},
		{"bad side", &Transcript{Events: []Event{{Kind: Close, Side: 9}}}, "unknown side"},
		{"redacted server line", &Transcript{Events: []Event{{Kind: Server, Text: "<redacted>", Redacted: true}}}, "marked redacted"},
		{"text too long", &Transcript{Events: []Event{{Kind: Data, Text: strings.Repeat("x", MaxTextBytes+1)}}}, "limit"},
		{"address not UTF-8", &Transcript{Events: []Event{{Kind: Connect, Addr: "\xff"}}}, "UTF-8"},
		{"reserved meta key", &Transcript{Meta: map[string]string{"server": "x"}}, "Transcript field"},
		{"bad meta key", &Transcript{Meta: map[string]string{"Bad Key": "x"}}, "keys are"},
		{"time far from started", &Transcript{Started: started, Events: []Event{{Kind: Note, Time: started.AddDate(40, 0, 0)}}}, "limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			err := Write(&b, c.tr, WriteOptions{Times: true, Secrets: true})
			var ie *InvalidError
			if !errors.As(err, &ie) || !strings.Contains(ie.Msg, c.msg) {
				t.Fatalf("err = %v, want an *InvalidError containing %q", err, c.msg)
			}
			if b.Len() != 0 {
				t.Errorf("wrote %d bytes before refusing", b.Len())
			}
		})
	}
}

func TestStartedZoneWithSeconds(t *testing.T) {
	// Amsterdam's local mean time was +00:19:32; RFC 3339 cannot say that,
	// so the writer keeps the instant by writing UTC.
	lmt := time.Date(1900, 1, 1, 12, 0, 0, 0, time.FixedZone("LMT", 19*60+32))
	tr := &Transcript{Started: lmt}
	if got := mustParse(t, write(t, tr, WriteOptions{})); !got.Started.Equal(lmt) {
		t.Errorf("started read back as %v, want %v", got.Started, lmt)
	}
}
