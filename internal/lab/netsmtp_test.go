package lab

import (
	"errors"
	"io"
	netsmtp "net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// TestNetSMTPClient sends through every profile with Go's net/smtp, a real
// client written without the lab in mind.
func TestNetSMTPClient(t *testing.T) {
	auth := netsmtp.PlainAuth("", "alice", "wonderland", "127.0.0.1")
	for _, tc := range []struct {
		profile  string
		starttls bool
		auth     bool
		rcpts    []string
		relayed  bool
		greylist bool
	}{
		{profile: "default", starttls: true, auth: true, rcpts: []string{"bob@lab.smtpsh.test", "friend@example.org"}, relayed: true},
		{profile: "default", starttls: true, rcpts: []string{"team@lab.smtpsh.test"}},
		{profile: "open-relay", rcpts: []string{"victim@example.org"}, relayed: true},
		{profile: "enum", starttls: true, rcpts: []string{"postmaster@lab.smtpsh.test"}},
		{profile: "htb", rcpts: []string{"alice@lab.smtpsh.test", "x@example.net"}, relayed: true},
		{profile: "hardened", starttls: true, auth: true, rcpts: []string{"bob@lab.smtpsh.test"}, greylist: true},
		{profile: "legacy", rcpts: []string{"bob@lab.smtpsh.test"}},
		{profile: "smuggling", rcpts: []string{"bob@lab.smtpsh.test"}},
	} {
		name := tc.profile
		if tc.auth {
			name += " with AUTH"
		}
		t.Run(name, func(t *testing.T) {
			l := startLab(t, tc.profile, labOptions{edit: func(p *Profile) { p.Limits.ErrorDelay = 0 }})
			c, err := netsmtp.Dial(l.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Hello("client.example"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := c.Extension("STARTTLS"); ok != l.srv.profile.hasExtension("STARTTLS") {
				t.Errorf("STARTTLS advertised: %v, profile %v", ok, l.srv.profile.SMTP.Extensions)
			}
			if tc.starttls {
				if err := c.StartTLS(l.pool); err != nil {
					t.Fatal(err)
				}
			}
			if tc.auth {
				if err := c.Auth(auth); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Mail("alice@lab.smtpsh.test"); err != nil {
				t.Fatal(err)
			}
			for _, r := range tc.rcpts {
				err := c.Rcpt(r)
				if tc.greylist {
					if !isReply(err, 450, "4.7.1 ") {
						t.Fatalf("first RCPT: %v, want 450 4.7.1 greylisted", err)
					}
					l.clock.Advance(2 * time.Minute)
					err = c.Rcpt(r)
				}
				if err != nil {
					t.Fatalf("RCPT %s: %v", r, err)
				}
			}
			w, err := c.Data()
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, "Subject: from net/smtp\r\n\r\n.leading dot\r\n")
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := c.Quit(); err != nil {
				t.Fatal(err)
			}
			if n := l.store.Count(); n != 1 {
				t.Fatalf("store holds %d messages", n)
			}
			if got := len(l.store.Relayed()); (got == 1) != tc.relayed {
				t.Errorf("relayed %d, want relayed=%v", got, tc.relayed)
			}
		})
	}
	t.Run("enum VRFY", func(t *testing.T) {
		l := startLab(t, "enum", labOptions{})
		c, err := netsmtp.Dial(l.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Verify("alice@lab.smtpsh.test"); err != nil {
			t.Errorf("VRFY alice: %v", err)
		}
		if err := c.Verify("nobody@lab.smtpsh.test"); !isReply(err, 550, "5.1.1 ") {
			t.Errorf("VRFY nobody: %v, want 550 5.1.1", err)
		}
	})
	t.Run("default refuses relay without AUTH", func(t *testing.T) {
		l := startLab(t, "default", labOptions{})
		c, err := netsmtp.Dial(l.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Mail("a@example.org"); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("b@example.net"); !isReply(err, 554, "5.7.1 ") {
			t.Errorf("RCPT: %v, want 554 5.7.1 Relay access denied", err)
		}
	})
}

// isReply reports whether err is net/smtp's error for code and a text
// starting with prefix.
func isReply(err error, code int, prefix string) bool {
	var te *textproto.Error
	return errors.As(err, &te) && te.Code == code && strings.HasPrefix(te.Msg, prefix)
}
