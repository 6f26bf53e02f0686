package explain

import (
	"errors"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

func TestReplyInContext(t *testing.T) {
	kb := newKB(t)
	tests := []struct {
		name  string
		line  string
		after smtp.Verb
		want  string // in Summary
	}{
		{"252 after VRFY is anti-enumeration", "252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery", smtp.VRFY, "enumeration"},
		{"250 after VRFY confirms the mailbox", "250 <bob@example.org>", smtp.VRFY, "deliverable mailbox"},
		{"250 after EXPN lists members", "250 alice@example.org", smtp.EXPN, "members"},
		{"550 after RCPT (Postfix)", "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table", smtp.RCPT, "recipient is refused"},
		{"550 after MAIL (Gmail-like)", "550 5.7.1 Sender rejected", smtp.MAIL, "sender is refused"},
		{"550 after VRFY", "550 5.1.1 User unknown", smtp.VRFY, "not a known mailbox"},
		{"354 after DATA (Postfix)", "354 End data with <CR><LF>.<CR><LF>", smtp.DATA, "single"},
		{"235 after AUTH", "235 2.7.0 Authentication successful", smtp.AUTH, "logged in"},
		{"220 after STARTTLS", "220 2.0.0 Ready to start TLS", smtp.STARTTLS, "handshake"},
		{"220 as greeting (Exim)", "220 mx.example.org ESMTP Exim 4.96", Greeting, "EHLO"},
		{"221 after QUIT", "221 2.0.0 Bye", smtp.QUIT, "session is over"},
		{"554 as greeting", "554 5.7.1 No SMTP service here", Greeting, "No SMTP service"},
		{"454 after STARTTLS", "454 4.7.0 TLS not available due to local problem", smtp.STARTTLS, "TLS cannot be started"},
		{"454 after AUTH", "454 4.7.0 Temporary authentication failure", smtp.AUTH, "credentials"},
		{"501 after AUTH", "501 5.5.2 Cannot Base64-decode Client responses", smtp.AUTH, "base64"},
		{"503 after AUTH", "503 5.5.1 Error: already authenticated", smtp.AUTH, "already authenticated"},
		{"504 after AUTH", "504 5.5.4 Unrecognized authentication type", smtp.AUTH, "mechanism"},
		{"535 after AUTH (Gmail)", "535 5.7.8 Username and Password not accepted", smtp.AUTH, "password"},
		{"538 after AUTH", "538 5.7.11 Encryption required for requested authentication mechanism", smtp.AUTH, "STARTTLS"},
		{"552 after DATA", "552 5.3.4 Message size exceeds fixed limit", smtp.DATA, "larger than"},
		{"552 after BDAT", "552 5.3.4 Message size exceeds fixed limit", smtp.BDAT, "chunks"},
		{"552 after MAIL SIZE", "552 5.3.4 Message size exceeds fixed maximum message size", smtp.MAIL, "SIZE"},
		{"451 after RCPT (greylisting)", "451 4.7.1 Please try again later", smtp.RCPT, "recipient"},
		{"452 after RCPT too many", "452 4.5.3 Error: too many recipients", smtp.RCPT, "too many"},
		{"500 line too long", "500 5.5.0 Line too long", smtp.MAIL, "too long"},
		{"421 after anything", "421 4.3.2 Service shutting down", smtp.RCPT, "closing the connection"},
		{"421 after NOOP", "421 4.4.2 mx.example.org Error: timeout exceeded", smtp.NOOP, "closing the connection"},
		{"no context falls back to the code", "211 System status", smtp.HELP, "status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rl, err := smtp.ParseReplyLine(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			e := kb.Reply(rl, tt.after)
			if !strings.Contains(e.Summary, tt.want) {
				t.Errorf("Summary = %q, want it to contain %q", e.Summary, tt.want)
			}
			if !rl.Enhanced.IsZero() && (e.Enhanced == nil || e.Enhanced.Code != rl.Enhanced) {
				t.Errorf("Enhanced = %+v, want %v", e.Enhanced, rl.Enhanced)
			}
		})
	}
}

func TestReplyDecodesSASLChallenge(t *testing.T) {
	kb := newKB(t)
	tests := []struct {
		name, text, want string
		bad              bool
	}{
		{"LOGIN user prompt", "VXNlcm5hbWU6", "Username:", false},
		{"LOGIN password prompt", "UGFzc3dvcmQ6", "Password:", false},
		{"empty challenge of PLAIN", "", "", false},
		{"not base64", "not*base64", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := kb.Reply(smtp.ReplyLine{Code: 334, Text: tt.text}, smtp.AUTH)
			if e.Challenge == nil {
				t.Fatal("no challenge")
			}
			if (e.Challenge.Err != nil) != tt.bad || e.Challenge.Decoded != tt.want {
				t.Errorf("challenge = %+v, want %q (error %v)", e.Challenge, tt.want, tt.bad)
			}
		})
	}
	if e := kb.Reply(smtp.ReplyLine{Code: 334, Text: "VXNlcm5hbWU6"}, smtp.DATA); e.Challenge != nil {
		t.Errorf("334 after DATA decoded as SASL: %+v", e.Challenge)
	}
}

func TestQuery(t *testing.T) {
	kb := newKB(t)
	tests := []struct {
		name  string
		q     string
		check func(Answer) bool
	}{
		{"code", "550", func(a Answer) bool { return a.Code != nil && a.Code.Code == 550 && len(a.Contexts) > 3 }},
		{"undefined code", "599", func(a Answer) bool { return a.Code != nil && !a.Code.Defined }},
		{"enhanced", "5.7.1", func(a Answer) bool {
			return a.Enhanced != nil && a.Enhanced.Name == "Delivery not authorized, message refused"
		}},
		{"enhanced all classes", "X.7.1", func(a Answer) bool {
			return a.Enhanced != nil && a.Enhanced.Code.Class == 0 && len(a.EnhancedClasses) == 3
		}},
		{"unregistered enhanced", "5.9.99", func(a Answer) bool { return a.Enhanced != nil && !a.Enhanced.Registered }},
		{"reply line (Postfix relay)", "554 5.7.1 <x@example.net>: Relay access denied", func(a Answer) bool {
			return a.Line != nil && a.Code.Code == 554 && a.Enhanced.Code.String() == "5.7.1" && a.Line.Text == "<x@example.net>: Relay access denied"
		}},
		{"reply line with keyword", "250-PIPELINING", func(a Answer) bool { return a.Keyword != nil && a.Keyword.Name == "PIPELINING" }},
		{"keyword lower case", "pipelining", func(a Answer) bool { return a.Keyword != nil && a.Keyword.Known }},
		{"AUTH line", "AUTH PLAIN LOGIN XOAUTH2", func(a Answer) bool {
			return a.Keyword != nil && len(a.Keyword.Mechanisms) == 3 && a.Keyword.Mechanisms[2].Known
		}},
		{"old AUTH= form", "AUTH=LOGIN PLAIN", func(a Answer) bool {
			return a.Keyword != nil && a.Keyword.Name == "AUTH=" && len(a.Keyword.Mechanisms) == 2
		}},
		{"SIZE with limit", "SIZE 52428800", func(a Answer) bool { return a.Keyword != nil && a.Keyword.Params[0] == "52428800" }},
		{"X-LINK2STATE warns", "X-LINK2STATE", func(a Answer) bool { return a.Keyword != nil && strings.Contains(a.Keyword.Warning, "worm") }},
		{"unknown X keyword", "XSHADOW", func(a Answer) bool {
			return a.Keyword != nil && !a.Keyword.Known && strings.Contains(a.Keyword.Meaning, "local extensions")
		}},
		{"mechanism", "cram-md5", func(a Answer) bool { return a.Mechanism != nil && a.Mechanism.Name == "CRAM-MD5" }},
		{"spaces trimmed", "  421  ", func(a Answer) bool { return a.Code != nil && a.Code.Code == 421 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := kb.Query(tt.q)
			if err != nil {
				t.Fatalf("Query(%q): %v", tt.q, err)
			}
			if !tt.check(a) {
				t.Errorf("Query(%q) = %+v", tt.q, a)
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	kb := newKB(t)
	tests := []struct {
		name, q string
		column  int // of the wrapped *smtp.SyntaxError; 0 for none
	}{
		{"empty", "   ", 0},
		{"class 6", "650", 0},
		{"class 1", "100 Continue", 1},
		{"bad enhanced class", "3.1.1", 1},
		{"enhanced detail too long", "5.1.1000", 8},
		{"unknown keyword", "FOOBAR", 0},
		{"prose", "what is this?", 0},
		{"599 as a line breaks the grammar", "599 Weird", 2},
		{"too long", strings.Repeat("A", 2000), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := kb.Query(tt.q)
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("Query(%q) error = %v, want *QueryError", tt.q, err)
			}
			if !strings.Contains(err.Error(), "enhanced status code (5.7.1") {
				t.Errorf("error %q does not say what is accepted", err)
			}
			var se *smtp.SyntaxError
			col := 0
			if errors.As(err, &se) {
				col = se.Column
			}
			if col != tt.column {
				t.Errorf("column = %d, want %d (%v)", col, tt.column, err)
			}
		})
	}
}

func TestEveryCodeAndEntryAnswersQuery(t *testing.T) {
	kb := newKB(t)
	for code := range kb.codes {
		a, err := kb.Query(itoa(code))
		if err != nil || a.Code == nil || !a.Code.Defined {
			t.Errorf("Query(%d) = %+v, %v", code, a, err)
		}
	}
	for _, c := range kb.EnhancedCodes() {
		for _, class := range []string{"X", "2", "4", "5"} {
			q := class + strings.TrimPrefix((EnhancedStatus{Code: c}).CodeString(), "X")
			a, err := kb.Query(q)
			if err != nil || a.Enhanced == nil || !a.Enhanced.Registered {
				t.Errorf("Query(%q) = %+v, %v", q, a, err)
			}
		}
	}
	for name := range kb.keywords {
		if a, err := kb.Query(name); err != nil || a.Keyword == nil || !a.Keyword.Known {
			t.Errorf("Query(%q) = %+v, %v", name, a, err)
		}
	}
}

func FuzzQuery(f *testing.F) {
	for _, s := range []string{"550", "5.7.1", "X.7.1", "550 5.7.1 Relay access denied", "250-PIPELINING",
		"AUTH=LOGIN", "auth plain", "599", "5.9.99", "\x1b[31m", "X-", "-X", "5.", "X.1."} {
		f.Add(s)
	}
	kb := newKB(f)
	f.Fuzz(func(t *testing.T, q string) {
		a, err := kb.Query(q)
		if err != nil {
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("Query(%q): error %T is not *QueryError", q, err)
			}
			if len(err.Error()) > 2000 {
				t.Fatalf("error message unbounded: %d bytes", len(err.Error()))
			}
			return
		}
		if a.Code == nil && a.Enhanced == nil && a.Keyword == nil && a.Mechanism == nil {
			t.Fatalf("Query(%q) answered nothing", q)
		}
	})
}
