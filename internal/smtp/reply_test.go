package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestReadReplyRealServers(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		code  int
		enh   string
		lines []string
	}{
		{
			name: "postfix EHLO",
			in:   "250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
			code: 250,
			lines: []string{"mail.example.com", "PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS",
				"ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"},
		},
		{
			name:  "postfix relay access denied",
			in:    "554 5.7.1 <x@y>: Relay access denied\r\n",
			code:  554,
			enh:   "5.7.1",
			lines: []string{"<x@y>: Relay access denied"},
		},
		{
			name:  "postfix unknown user",
			in:    "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table\r\n",
			code:  550,
			enh:   "5.1.1",
			lines: []string{"<nobody@example.com>: Recipient address rejected: User unknown in local recipient table"},
		},
		{
			name: "exim sender verify",
			in: "550-Verification failed for <bounce@sender.example>\r\n" +
				"550-Called:   192.0.2.25\r\n" +
				"550-Sent:     RCPT TO:<bounce@sender.example>\r\n" +
				"550-Response: 550 5.1.1 <bounce@sender.example>: Recipient address rejected\r\n" +
				"550 Sender verify failed\r\n",
			code: 550,
			lines: []string{"Verification failed for <bounce@sender.example>", "Called:   192.0.2.25",
				"Sent:     RCPT TO:<bounce@sender.example>",
				"Response: 550 5.1.1 <bounce@sender.example>: Recipient address rejected", "Sender verify failed"},
		},
		{
			name:  "sendmail greeting",
			in:    "220 mx.example.com ESMTP Sendmail 8.15.2/8.15.2; Wed, 25 Nov 2026 19:10:00 GMT\r\n",
			code:  220,
			lines: []string{"mx.example.com ESMTP Sendmail 8.15.2/8.15.2; Wed, 25 Nov 2026 19:10:00 GMT"},
		},
		{
			name:  "exchange EHLO",
			in:    "250-mx.contoso.com Hello [192.0.2.1]\r\n250-SIZE 37748736\r\n250-PIPELINING\r\n250-X-ANONYMOUSTLS\r\n250-AUTH NTLM\r\n250 XRDST\r\n",
			code:  250,
			lines: []string{"mx.contoso.com Hello [192.0.2.1]", "SIZE 37748736", "PIPELINING", "X-ANONYMOUSTLS", "AUTH NTLM", "XRDST"},
		},
		{
			name:  "exchange not authenticated",
			in:    "530 5.7.57 Client not authenticated to send mail.\r\n",
			code:  530,
			enh:   "5.7.57",
			lines: []string{"Client not authenticated to send mail."},
		},
		{
			// Gmail puts two spaces after the enhanced code on later
			// lines; the second is text and must survive.
			name: "gmail try again later",
			in: "421-4.7.0 Try again later, closing connection. (EHLO)\r\n" +
				"421-4.7.0  For more information, go to\r\n" +
				"421 4.7.0  https://support.google.com/a/answer/3221692 d2-20020a05600c - gsmtp\r\n",
			code: 421,
			enh:  "4.7.0",
			lines: []string{"Try again later, closing connection. (EHLO)", " For more information, go to",
				" https://support.google.com/a/answer/3221692 d2-20020a05600c - gsmtp"},
		},
		{
			name: "gmail no such user",
			in: "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n" +
				"550-5.1.1 double-checking the recipient's email address for typos or\r\n" +
				"550-5.1.1 unnecessary spaces. For more information, go to\r\n" +
				"550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp\r\n",
			code: 550,
			enh:  "5.1.1",
			lines: []string{"The email account that you tried to reach does not exist. Please try",
				"double-checking the recipient's email address for typos or",
				"unnecessary spaces. For more information, go to",
				" https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp"},
		},
		{
			name:  "RFC 5321 D.1 greeting",
			in:    "220 foo.com Simple Mail Transfer Service Ready\r\n",
			code:  220,
			lines: []string{"foo.com Simple Mail Transfer Service Ready"},
		},
		{
			name:  "RFC 5321 D.1 EHLO",
			in:    "250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n",
			code:  250,
			lines: []string{"foo.com greets bar.com", "8BITMIME", "SIZE", "DSN", "HELP"},
		},
		{
			name:  "RFC 5321 D.1 DATA",
			in:    "354 Start mail input; end with <CRLF>.<CRLF>\r\n",
			code:  354,
			lines: []string{"Start mail input; end with <CRLF>.<CRLF>"},
		},
		{
			name:  "RFC 5321 D.1 no such user",
			in:    "550 No such user here\r\n",
			code:  550,
			lines: []string{"No such user here"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := NewReplyReader(strings.NewReader(tt.in), nil)
			r, err := rr.ReadReply()
			if err != nil {
				t.Fatalf("ReadReply: %v", err)
			}
			if r.Code != tt.code || r.Enhanced.String() != tt.enh {
				t.Errorf("code %d enhanced %q, want %d %q", r.Code, r.Enhanced, tt.code, tt.enh)
			}
			if !reflect.DeepEqual(r.Lines, tt.lines) {
				t.Errorf("lines\n got %q\nwant %q", r.Lines, tt.lines)
			}
			if r.Warnings != nil {
				t.Errorf("unexpected warnings %v", r.Warnings)
			}
			if raw := strings.Join(r.Raw(), "\r\n") + "\r\n"; raw != tt.in {
				t.Errorf("Raw = %q, want the input", raw)
			}
			if _, err := rr.ReadReply(); err != io.EOF {
				t.Errorf("second ReadReply: %v, want io.EOF", err)
			}
		})
	}
}

func TestReplyClass(t *testing.T) {
	tests := []struct {
		code                 int
		class                int
		pos, inter, tmp, prm bool
	}{
		{250, 2, true, false, false, false},
		{354, 3, false, true, false, false},
		{421, 4, false, false, true, false},
		{554, 5, false, false, false, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			r := &Reply{Code: tt.code}
			got := []any{r.Class(), r.Positive(), r.Intermediate(), r.TransientNegative(), r.PermanentNegative()}
			want := []any{tt.class, tt.pos, tt.inter, tt.tmp, tt.prm}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestReplyWarnings(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		lines []string
		warns []Warning // Msg compared by prefix
	}{
		{"bare LF", "250 OK\n", []string{"OK"},
			[]Warning{{1, 7, "line ends in a bare LF"}}},
		{"bare LF on a continuation", "250-a\n250 b\r\n", []string{"a", "b"},
			[]Warning{{1, 6, "line ends in a bare LF"}}},
		{"code alone", "250\r\n", []string{""},
			[]Warning{{1, 4, "no space after the reply code"}}},
		{"enhanced code missing on a later line", "421-4.7.0 a\r\n421 b\r\n", []string{"a", "b"},
			[]Warning{{2, 5, "line lacks the enhanced code 4.7.0"}}},
		{"enhanced code only on a later line", "250-a\r\n250 2.0.0 b\r\n", []string{"a", "2.0.0 b"},
			[]Warning{{2, 5, "enhanced code 2.0.0 on a later line"}}},
		{"different enhanced code", "550-5.1.1 a\r\n550 5.7.1 b\r\n", []string{"a", "5.7.1 b"},
			[]Warning{{2, 5, "enhanced code 5.7.1 differs"}}},
		{"non-ASCII text", "550 5.1.1 Empfänger unbekannt\r\n", []string{"Empfänger unbekannt"},
			[]Warning{{1, 15, "non-ASCII byte"}}},
		{"line over 512 octets", "250 " + strings.Repeat("x", 600) + "\r\n", []string{strings.Repeat("x", 600)},
			[]Warning{{1, 511, "reply line is 606 octets"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReplyReader(strings.NewReader(tt.in), nil).ReadReply()
			if err != nil {
				t.Fatalf("ReadReply: %v", err)
			}
			if !reflect.DeepEqual(r.Lines, tt.lines) {
				t.Errorf("lines %q, want %q", r.Lines, tt.lines)
			}
			if len(r.Warnings) != len(tt.warns) {
				t.Fatalf("warnings %v, want %v", r.Warnings, tt.warns)
			}
			for i, w := range tt.warns {
				g := r.Warnings[i]
				if g.Line != w.Line || g.Column != w.Column || !strings.HasPrefix(g.Msg, w.Msg) {
					t.Errorf("warning %d = %v, want %v…", i, g, w)
				}
			}
		})
	}
}

// TestReplyErrors checks each error, its line and column, and that the
// reader is in step afterwards: every input is followed by "220 next\r\n".
func TestReplyErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		line   int
		check  func(t *testing.T, err error)
		inStep bool
	}{
		{"not a code", "hello\r\n", 1, wantSyntax(1), true},
		{"short code", "25\r\n", 1, wantSyntax(3), true},
		{"bad separator", "250x\r\n", 1, wantSyntax(4), true},
		{"second digit 6", "260 ok\r\n", 1, wantSyntax(2), true},
		{"NUL in text", "250 a\x00b\r\n", 1, wantSyntax(6), true},
		{"bare CR inside a line", "250 a\rb\r\n", 1, wantSyntax(6), true},
		{"malformed continuation", "250-a\r\n2X0-b\r\n250 c\r\n", 2, wantSyntax(2), true},
		{"code mismatch", "250-a\r\n251-b\r\n250 c\r\n", 2, func(t *testing.T, err error) {
			var e *CodeMismatchError
			if !errors.As(err, &e) || e.First != 250 || e.Got != 251 {
				t.Errorf("error %v, want CodeMismatchError 250/251", err)
			}
		}, true},
		{"line too long", "250 " + strings.Repeat("x", 3000) + "\r\n", 1, func(t *testing.T, err error) {
			var e *LineTooLongError
			if !errors.As(err, &e) || e.Limit != 2048 || !e.Resynced || e.Length != 3006 {
				t.Errorf("error %v (%+v), want LineTooLongError limit 2048, 3006 octets, resynced", err, e)
			}
		}, true},
		{"long continuation line", "250-a\r\n250-" + strings.Repeat("x", 5000) + "\r\n250-b\r\n250 c\r\n", 2, func(t *testing.T, err error) {
			var e *LineTooLongError
			if !errors.As(err, &e) || !e.Resynced {
				t.Errorf("error %v, want resynced LineTooLongError", err)
			}
		}, true},
		{"too many lines", strings.Repeat("250-x\r\n", 200) + "250 end\r\n", 129, func(t *testing.T, err error) {
			var e *TooManyLinesError
			if !errors.As(err, &e) || e.Limit != 128 || !e.Resynced {
				t.Errorf("error %v, want resynced TooManyLinesError limit 128", err)
			}
		}, true},
		{"EOF inside a reply", "250-a\r\n", 2, func(t *testing.T, err error) {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("error %v, want io.ErrUnexpectedEOF", err)
			}
		}, false},
		{"EOF inside a line", "250 a", 1, func(t *testing.T, err error) {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("error %v, want io.ErrUnexpectedEOF", err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if tt.inStep {
				in += "220 next\r\n"
			}
			rr := NewReplyReader(strings.NewReader(in), nil)
			r, err := rr.ReadReply()
			var re *ReplyError
			if !errors.As(err, &re) {
				t.Fatalf("error %v (%T), want *ReplyError", err, err)
			}
			if re.Line != tt.line {
				t.Errorf("ReplyError.Line = %d, want %d (%v)", re.Line, tt.line, err)
			}
			tt.check(t, err)
			if r == nil {
				t.Fatal("no partial reply returned")
			}
			if !tt.inStep {
				return
			}
			next, err := rr.ReadReply()
			if err != nil || next.Code != 220 || next.Text() != "next" {
				t.Errorf("reply after the error: %v, %v; want 220 next", next, err)
			}
		})
	}
}

func wantSyntax(col int) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var se *SyntaxError
		if !errors.As(err, &se) || se.What != "reply" || se.Column != col {
			t.Errorf("error %v, want SyntaxError in reply at column %d", err, col)
		}
	}
}

func TestReadReplyEOF(t *testing.T) {
	_, err := NewReplyReader(strings.NewReader(""), nil).ReadReply()
	if err != io.EOF {
		t.Errorf("empty input: %v, want io.EOF", err)
	}
}

// A line far over the limit that never ends cannot be skipped; the error
// says so.
func TestReplyLineNeverEnds(t *testing.T) {
	in := io.LimitReader(neverEnding('x'), 3<<20)
	_, err := NewReplyReader(in, nil).ReadReply()
	var e *LineTooLongError
	if !errors.As(err, &e) || e.Resynced {
		t.Errorf("error %v, want a LineTooLongError not resynced", err)
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

func TestReplyLimits(t *testing.T) {
	lim := &ReplyLimits{MaxLineLength: 100, MaxLines: 2}
	in := "250 " + strings.Repeat("y", 96) + "\r\n" + // 102 octets: too long
		"250 " + strings.Repeat("y", 94) + "\r\n" + // 100: fits
		"250-a\r\n250-b\r\n250 c\r\n"
	rr := NewReplyReader(strings.NewReader(in), lim)
	var e1 *LineTooLongError
	if _, err := rr.ReadReply(); !errors.As(err, &e1) || e1.Limit != 100 {
		t.Errorf("first: %v, want LineTooLongError limit 100", err)
	}
	if r, err := rr.ReadReply(); err != nil || len(r.Lines[0]) != 94 {
		t.Errorf("second: %v, %v; want a 100-octet line accepted", r, err)
	}
	var e2 *TooManyLinesError
	if _, err := rr.ReadReply(); !errors.As(err, &e2) || e2.Limit != 2 {
		t.Errorf("third: %v, want TooManyLinesError limit 2", err)
	}
}

// Reading through a one-byte reader exercises every buffer boundary.
func TestReplyOneByteReader(t *testing.T) {
	in := "250-mail.example.com\r\n250-SIZE 10240000\r\n250 CHUNKING\r\n554 5.7.1 <x@y>: Relay access denied\r\n"
	rr := NewReplyReader(iotest.OneByteReader(strings.NewReader(in)), nil)
	r1, err := rr.ReadReply()
	if err != nil || r1.Code != 250 || len(r1.Lines) != 3 {
		t.Fatalf("first: %v, %v", r1, err)
	}
	r2, err := rr.ReadReply()
	if err != nil || r2.Code != 554 || r2.Enhanced != (EnhancedCode{5, 7, 1}) {
		t.Fatalf("second: %v, %v", r2, err)
	}
}

// ReadReplyInto reuses the Reply without corrupting earlier strings.
func TestReadReplyIntoReuse(t *testing.T) {
	rr := NewReplyReader(strings.NewReader("250-a\r\n250 b\r\n550 5.1.1 c\r\n"), nil)
	var r Reply
	if err := rr.ReadReplyInto(&r); err != nil {
		t.Fatal(err)
	}
	first := r.Lines
	kept := append([]string(nil), first...)
	if err := rr.ReadReplyInto(&r); err != nil {
		t.Fatal(err)
	}
	if r.Code != 550 || r.Enhanced != (EnhancedCode{5, 1, 1}) || !reflect.DeepEqual(r.Lines, []string{"c"}) {
		t.Errorf("second reply %+v", r)
	}
	if kept[0] != "a" || kept[1] != "b" {
		t.Errorf("strings of the first reply changed: %q", kept)
	}
}

// A *bufio.Reader big enough is used as it is, so the caller can share it.
func TestNewReplyReaderSharesBufio(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader("220 hi\r\nEXTRA"), 4096)
	rr := NewReplyReader(br, nil)
	if _, err := rr.ReadReply(); err != nil {
		t.Fatal(err)
	}
	if rr.Buffered() != 5 || br.Buffered() != 5 {
		t.Errorf("Buffered = %d/%d, want 5 (the bytes after the reply)", rr.Buffered(), br.Buffered())
	}
}

// Replies that arrive together share one copy of the buffer; reading the
// shared bufio.Reader in between must not make the next reply stale.
func TestReplySharedBufferCopy(t *testing.T) {
	in := "250 first\r\nDATA-ISH BYTES\r\n250 second\r\n354 go ahead\r\n"
	br := bufio.NewReaderSize(strings.NewReader(in), 4096)
	rr := NewReplyReader(br, nil)
	var r Reply
	if err := rr.ReadReplyInto(&r); err != nil || r.Text() != "first" {
		t.Fatalf("first: %q, %v", r.Text(), err)
	}
	if l, _ := br.ReadString('\n'); l != "DATA-ISH BYTES\r\n" {
		t.Fatalf("caller read %q", l)
	}
	for _, want := range []string{"250 second", "354 go ahead"} {
		if err := rr.ReadReplyInto(&r); err != nil || r.String() != want || r.Raw()[0] != want {
			t.Errorf("got %q (raw %q), %v; want %q", r.String(), r.Raw(), err, want)
		}
	}
}

func TestReplyString(t *testing.T) {
	tests := []struct {
		name string
		r    Reply
		want string
	}{
		{"one line", Reply{Code: 250, Lines: []string{"OK"}}, "250 OK"},
		{"enhanced on every line", Reply{Code: 550, Enhanced: EnhancedCode{5, 1, 1}, Lines: []string{"a", "b"}}, "550-5.1.1 a\n550 5.1.1 b"},
		{"empty text with enhanced code", Reply{Code: 250, Enhanced: EnhancedCode{2, 0, 0}, Lines: []string{""}}, "250 2.0.0"},
		{"no lines", Reply{Code: 354}, "354 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWriteReply(t *testing.T) {
	tests := []struct {
		name    string
		code    int
		enh     EnhancedCode
		lines   []string
		want    string
		wantErr string
	}{
		{"single line", 250, EnhancedCode{}, []string{"OK"}, "250 OK\r\n", ""},
		{"RFC 2034 code on every line", 250, EnhancedCode{2, 0, 0}, []string{"first", "second", "last"},
			"250-2.0.0 first\r\n250-2.0.0 second\r\n250 2.0.0 last\r\n", ""},
		{"EHLO", 250, EnhancedCode{}, []string{"lab.smtpsh.test", "PIPELINING", "STARTTLS"},
			"250-lab.smtpsh.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n", ""},
		{"no lines", 354, EnhancedCode{}, nil, "354 \r\n", ""},
		{"LF in a line", 250, EnhancedCode{}, []string{"a\n250 forged"}, "", "control character"},
		{"CR in a line", 250, EnhancedCode{}, []string{"ok", "a\rb"}, "", "reply line 2"},
		{"class mismatch", 550, EnhancedCode{2, 0, 0}, []string{"x"}, "", "different class"},
		{"code 600", 600, EnhancedCode{}, []string{"x"}, "", "outside"},
		{"code 270", 270, EnhancedCode{}, []string{"x"}, "", "outside"},
		{"subject over 3 digits", 550, EnhancedCode{5, 1000, 1}, []string{"x"}, "", "1-3 digit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			err := WriteReply(&b, tt.code, tt.enh, tt.lines...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want one containing %q", err, tt.wantErr)
				}
				if b.Len() != 0 {
					t.Errorf("wrote %q despite the error", b.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("wrote %q, want %q", b.String(), tt.want)
			}
			// The reader must read back exactly what was written.
			r, err := NewReplyReader(&b, nil).ReadReply()
			if err != nil || r.Code != tt.code || r.Enhanced != tt.enh || r.Warnings != nil {
				t.Fatalf("re-read: %+v, %v", r, err)
			}
			want := tt.lines
			if len(want) == 0 {
				want = []string{""}
			}
			if !reflect.DeepEqual(r.Lines, want) {
				t.Errorf("re-read lines %q, want %q", r.Lines, want)
			}
		})
	}
}

// TestReplyGolden reads each testdata/replies/*.txt (replies as received,
// CRLF and all) and compares a dump of every reply, warning and error with
// the .golden file beside it. Run with -update to rewrite them.
func TestReplyGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/replies/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := dumpReplies(bytes.NewReader(in), nil)
			golden := strings.TrimSuffix(f, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("dump differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

func dumpReplies(in io.Reader, lim *ReplyLimits) []byte {
	var b bytes.Buffer
	rr := NewReplyReader(in, lim)
	for i := 1; i < 1<<20; i++ {
		r, err := rr.ReadReply()
		if err == io.EOF {
			break
		}
		if r != nil {
			fmt.Fprintf(&b, "reply %d: code %d class %d enhanced %q\n", i, r.Code, r.Class(), r.Enhanced)
			for j, l := range r.Lines {
				fmt.Fprintf(&b, "  line %d: %q\n", j+1, l)
			}
			for _, w := range r.Warnings {
				fmt.Fprintf(&b, "  warning: %s\n", w)
			}
		}
		if err != nil {
			fmt.Fprintf(&b, "  error: %v\n", err)
			var re *ReplyError
			if !errors.As(err, &re) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
		}
	}
	return b.Bytes()
}

// FuzzReadReply reads replies with small limits from arbitrary input. It
// checks that nothing panics, that limits bound what is kept, and that a
// reply read without error formats back (String and WriteTo) to text that
// re-reads to the same Code, Enhanced and Lines.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 CHUNKING\r\n",
		"554 5.7.1 <x@y>: Relay access denied\r\n",
		"421-4.7.0 Try again later, closing connection. (EHLO)\r\n421-4.7.0  For more information, go to\r\n421 4.7.0  https://support.google.com/ - gsmtp\r\n",
		"550-Verification failed for <a@b>\r\n550-Called:   192.0.2.1\r\n550 Sender verify failed\r\n",
		"250 OK\n", "250\r\n", "421-4.7.0 a\r\n421 b\r\n", "250-a\r\n250 2.0.0 b\r\n", "250-a\r\n251 b\r\n220 x\r\n",
		"550-5.1.1 a\r\n550 5.7.1 b\r\n", "250 a\x00b\r\n", "250-a", "",
	} {
		f.Add([]byte(s))
	}
	lim := ReplyLimits{MaxLineLength: 64, MaxLines: 8}
	f.Fuzz(func(t *testing.T, in []byte) {
		// Replies whole in the buffer take a faster path than those read
		// a byte at a time; both must give the same result.
		whole := dumpReplies(bytes.NewReader(in), &lim)
		bytewise := dumpReplies(iotest.OneByteReader(bytes.NewReader(in)), &lim)
		if !bytes.Equal(whole, bytewise) {
			t.Fatalf("buffered and byte-by-byte reads differ:\n%s\n---\n%s", whole, bytewise)
		}
		rr := NewReplyReader(bytes.NewReader(in), &lim)
		for range len(in) + 1 {
			r, err := rr.ReadReply()
			if err == io.EOF {
				return
			}
			if r == nil {
				t.Fatalf("error %v with no reply", err)
			}
			raw := r.Raw()
			if len(raw) > lim.MaxLines {
				t.Fatalf("%d lines kept, limit %d", len(raw), lim.MaxLines)
			}
			for _, l := range raw {
				if len(l) > lim.MaxLineLength {
					t.Fatalf("line of %d octets kept, limit %d", len(l), lim.MaxLineLength)
				}
			}
			if err != nil {
				var re *ReplyError
				if !errors.As(err, &re) || re.Line < 1 {
					t.Fatalf("error %v (%T) is not a *ReplyError with a line", err, err)
				}
				if errors.Is(err, io.ErrUnexpectedEOF) {
					return
				}
				continue
			}
			checkReplyRoundTrip(t, r)
		}
		t.Fatal("reader made no progress")
	})
}

func checkReplyRoundTrip(t *testing.T, r *Reply) {
	t.Helper()
	big := &ReplyLimits{MaxLineLength: 1 << 16, MaxLines: 1 << 10}
	var wire bytes.Buffer
	if _, err := r.WriteTo(&wire); err != nil {
		t.Fatalf("WriteTo(%q): %v", r.Raw(), err)
	}
	for _, text := range []string{r.String() + "\n", wire.String()} {
		r2, err := NewReplyReader(strings.NewReader(text), big).ReadReply()
		if err != nil {
			t.Fatalf("re-reading %q: %v", text, err)
		}
		if r2.Code != r.Code || r2.Enhanced != r.Enhanced || !reflect.DeepEqual(r2.Lines, r.Lines) {
			t.Fatalf("round trip changed the reply:\n got %d %v %q\nwant %d %v %q\nvia %q", r2.Code, r2.Enhanced, r2.Lines, r.Code, r.Enhanced, r.Lines, text)
		}
	}
}

func ExampleReplyReader() {
	conn := strings.NewReader("250-mail.example.com\r\n250-SIZE 10240000\r\n250 CHUNKING\r\n" +
		"554 5.7.1 <x@y>: Relay access denied\r\n")
	rr := NewReplyReader(conn, nil)
	for {
		r, err := rr.ReadReply()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("error:", err)
			break
		}
		fmt.Printf("%d %q %q\n", r.Code, r.Enhanced, r.Lines)
	}
	// Output:
	// 250 "" ["mail.example.com" "SIZE 10240000" "CHUNKING"]
	// 554 "5.7.1" ["<x@y>: Relay access denied"]
}

func ExampleWriteReply() {
	var b strings.Builder
	WriteReply(&b, 550, EnhancedCode{5, 1, 1}, "<nobody@example.com>: Recipient address rejected:", "User unknown")
	fmt.Printf("%q\n", b.String())
	// Output:
	// "550-5.1.1 <nobody@example.com>: Recipient address rejected:\r\n550 5.1.1 User unknown\r\n"
}
