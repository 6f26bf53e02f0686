package shell

import (
	"slices"
	"strings"
	"testing"

	"github.com/smtpsh/smtpsh/internal/smtp"
)

// ehloCaps parses an EHLO reply as a server sent it.
func ehloCaps(t *testing.T, lines ...string) smtp.Capabilities {
	t.Helper()
	r, err := smtp.NewReplyReader(strings.NewReader(strings.Join(lines, "\r\n")+"\r\n"), nil).ReadReply()
	if err != nil {
		t.Fatal(err)
	}
	c, _ := smtp.ParseEHLO(r)
	return c
}

func TestComplete(t *testing.T) {
	// Postfix's EHLO reply with AUTH after STARTTLS, as in its docs.
	postfix := ehloCaps(t, "250-mail.example.com", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN",
		"250-STARTTLS", "250-AUTH PLAIN LOGIN", "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING")
	// An RFC 821-era server: HELO only, nothing advertised.
	bare := ehloCaps(t, "250 old.example.com")
	addrs := []string{"student@inlanefreight.htb", "admin@inlanefreight.htb"}
	tests := []struct {
		name   string
		st     state
		head   string
		first  []string // the completions start with these, in order
		has    []string
		hasNot []string
		none   bool
	}{
		{name: "helo-phase-ehlo-first", st: state{phase: PhaseHelo}, head: "", first: []string{"EHLO ", "HELO "}},
		{name: "lower-case-typed", st: state{phase: PhaseHelo}, head: "e", first: []string{"ehlo "}, hasNot: []string{"EHLO "}},
		{name: "mixed-case-follows-last-letter", st: state{phase: PhaseMail, ehlo: true, caps: postfix}, head: "Ma", first: []string{"Mail from:<"}},
		{name: "rcpt-phase-rcpt-then-data", st: state{phase: PhaseRcptData, ehlo: true, caps: postfix}, head: "", first: []string{"RCPT TO:<", "DATA", "BDAT "}},
		{name: "after-a-chunk-bdat-not-data", st: state{phase: PhaseRcptData, ehlo: true, caps: postfix, bdat: true}, head: "", first: []string{"BDAT ", "RSET"}},
		{name: "bdat-only-with-chunking", st: state{phase: PhaseRcptData, ehlo: true, caps: bare}, head: "", has: []string{"DATA"}, hasNot: []string{"BDAT "}},
		{name: "starttls-when-advertised", st: state{phase: PhaseMail, ehlo: true, caps: postfix}, head: "ST", first: []string{"STARTTLS"}},
		{name: "starttls-not-advertised", st: state{phase: PhaseMail, ehlo: true, caps: bare}, head: "ST", none: true},
		{name: "starttls-not-again-under-tls", st: state{phase: PhaseMail, ehlo: true, caps: postfix, tls: true}, head: "ST", none: true},
		{name: "no-extensions-before-ehlo", st: state{phase: PhaseHelo}, head: "A", none: true},
		{name: "illegal-verbs-after-legal", st: state{phase: PhaseHelo}, head: "", has: []string{"MAIL FROM:<", "QUIT"}},
		{name: "auth-mechanisms", st: state{phase: PhaseMail, ehlo: true, caps: postfix}, head: "AUTH ", first: []string{"AUTH PLAIN", "AUTH LOGIN"}},
		{name: "auth-mechanisms-lower", st: state{phase: PhaseMail, ehlo: true, caps: postfix}, head: "auth p", first: []string{"auth plain"}},
		{name: "ehlo-name", st: state{phase: PhaseHelo}, head: "EHLO ", first: []string{"EHLO client.example"}},
		{name: "mail-from", st: state{phase: PhaseMail}, head: "MAIL ", first: []string{"MAIL FROM:<"}},
		{name: "rcpt-to-lower", st: state{phase: PhaseRcpt}, head: "rcpt t", first: []string{"rcpt to:<"}},
		{name: "address-used", st: state{phase: PhaseRcpt, addrs: addrs}, head: "RCPT TO:<ad", first: []string{"RCPT TO:<admin@inlanefreight.htb>"}},
		{name: "address-course-notes-space", st: state{phase: PhaseMail, addrs: addrs}, head: "MAIL FROM: <st", first: []string{"MAIL FROM: <student@inlanefreight.htb>"}},
		{name: "mail-params-advertised", st: state{phase: PhaseMail, ehlo: true, caps: postfix}, head: "MAIL FROM:<a@b.example> ",
			has:    []string{"MAIL FROM:<a@b.example> SIZE=", "MAIL FROM:<a@b.example> BODY=8BITMIME", "MAIL FROM:<a@b.example> SMTPUTF8", "MAIL FROM:<a@b.example> RET=HDRS"},
			hasNot: []string{"MAIL FROM:<a@b.example> BODY=BINARYMIME", "MAIL FROM:<a@b.example> REQUIRETLS"}},
		{name: "mail-params-none-advertised", st: state{phase: PhaseMail, ehlo: true, caps: bare}, head: "MAIL FROM:<a@b.example> ",
			has: []string{"MAIL FROM:<a@b.example> BODY=7BIT"}, hasNot: []string{"MAIL FROM:<a@b.example> SIZE="}},
		{name: "rcpt-notify-lower", st: state{phase: PhaseRcpt, ehlo: true, caps: postfix}, head: "RCPT TO: <admin@inlanefreight.htb> notify=s",
			first: []string{"RCPT TO: <admin@inlanefreight.htb> notify=success"}},
		{name: "meta", st: state{phase: PhaseMail}, head: ":ex", first: []string{":explain"}},
		{name: "meta-auth-advertised-first", st: state{phase: PhaseMail, ehlo: true, caps: postfix}, head: ":auth ", first: []string{":auth plain", ":auth login", ":auth cram-md5"}},
		{name: "meta-auth-case", st: state{phase: PhaseMail}, head: ":auth CR", first: []string{":auth CRAM-MD5"}},
		{name: "meta-auth-user-is-free", st: state{phase: PhaseMail}, head: ":auth plain al", none: true},
		{name: "meta-raw", st: state{phase: PhaseMail}, head: ":raw o", first: []string{":raw on", ":raw off"}},
		{name: "meta-send-dir", st: state{phase: PhaseRcptData}, head: ":send testdata/mess", first: []string{":send testdata/messages/"}},
		{name: "meta-send-file-after-flag", st: state{phase: PhaseRcptData}, head: ":send --bdat testdata/messages/spo", first: []string{":send --bdat testdata/messages/spoof.eml"}},
		{name: "meta-send-flag", st: state{phase: PhaseRcptData}, head: ":send --b", first: []string{":send --bdat"}},
		{name: "meta-send-no-hidden", st: state{phase: PhaseRcptData}, head: ":send testdata/", hasNot: []string{":send testdata/.hidden"}},
		{name: "meta-explain-last-codes", st: state{phase: PhaseMail, lastCodes: []string{"550", "5.7.1"}}, head: ":explain ", first: []string{":explain 550", ":explain 5.7.1"}},
		{name: "meta-compose-bdat-needs-chunking", st: state{phase: PhaseMail, ehlo: true, caps: bare}, head: ":compose ", none: true},
		{name: "meta-enum-method", st: state{phase: PhaseMail}, head: ":enum --method v", first: []string{":enum --method vrfy"}},
		{name: "meta-enum-flags", st: state{phase: PhaseMail}, head: ":enum --", first: []string{":enum --method", ":enum --domain", ":enum --yes"}},
		{name: "meta-smuggle-flag", st: state{phase: PhaseMail}, head: ":smuggle --i", first: []string{":smuggle --i-own-this-server"}},
		{name: "meta-compose-bdat", st: state{phase: PhaseMail, ehlo: true, caps: postfix}, head: ":compose ", first: []string{":compose --bdat"}},
		{name: "data-mode-nothing", st: state{phase: PhaseData}, head: "Sub", none: true},
		{name: "sasl-nothing", st: state{phase: PhaseMail, sasl: true}, head: "", none: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Session{cfg: Config{EHLOName: "client.example"}, st: tt.st}
			got := s.Complete(tt.head)
			for _, g := range got {
				if !strings.HasPrefix(g, tt.head) {
					t.Errorf("completion %q rewrites the typed %q", g, tt.head)
				}
			}
			if tt.none && len(got) > 0 {
				t.Errorf("Complete(%q) = %q, want none", tt.head, got)
			}
			if len(got) < len(tt.first) || !slices.Equal(got[:len(tt.first)], tt.first) {
				t.Errorf("Complete(%q) = %q, want it to start with %q", tt.head, got, tt.first)
			}
			for _, h := range tt.has {
				if !slices.Contains(got, h) {
					t.Errorf("Complete(%q) = %q, lacks %q", tt.head, got, h)
				}
			}
			for _, h := range tt.hasNot {
				if slices.Contains(got, h) {
					t.Errorf("Complete(%q) = %q, has %q", tt.head, got, h)
				}
			}
		})
	}
}

// TestCompleterFunc checks the readline adapter reports the word length in
// runes, so a completion after a multi-byte address is placed right.
func TestCompleterFunc(t *testing.T) {
	f := completerFunc(func(head string) ([]string, int) { return []string{"ël>"}, len("<zo") })
	sufs, n := f.Do([]rune("RCPT TO:<zo"), len([]rune("RCPT TO:<zo")))
	if n != 3 || len(sufs) != 1 || string(sufs[0]) != "ël>" {
		t.Errorf("Do = %q, %d", sufs, n)
	}
	f = completerFunc(func(head string) ([]string, int) { return []string{"x"}, len("é") })
	if _, n := f.Do([]rune("é"), 1); n != 1 {
		t.Errorf("word length %d runes, want 1", n)
	}
}
