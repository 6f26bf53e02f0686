package shell

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpsh/smtpsh/internal/dial"
	"github.com/smtpsh/smtpsh/internal/lab/selfsigned"
	"github.com/smtpsh/smtpsh/transcripts"
)

// startTLSLab starts the lab with profile and a fresh self-signed
// certificate (none when noTLS) and returns its address and the pool that
// trusts the certificate.
func startTLSLab(t testing.TB, profile string, noTLS bool) (string, *x509.CertPool) {
	t.Helper()
	l := runLab(t, profile, labOptions{noTLS: noTLS})
	return l.addr, l.pool
}

// plainAlice is AUTH PLAIN's initial response for the lab's alice (RFC
// 4616 §2: authzid NUL authcid NUL passwd).
var plainAlice = base64.StdEncoding.EncodeToString([]byte("\x00alice\x00wonderland"))

// TestStartTLSAgainstLab upgrades sessions with the lab's default profile,
// which offers AUTH only under TLS, as Postfix with
// smtpd_tls_auth_only=yes does.
func TestStartTLSAgainstLab(t *testing.T) {
	const wrongName = "mail.example.com"
	tests := []struct {
		name       string
		trust      bool   // trust the lab's certificate
		insecure   bool   // --insecure
		serverName string // --servername
		startTLS   bool   // --starttls
		noTLS      bool   // the lab has no certificate: no STARTTLS
		lines      []string
		want       []string // in the output, in this order
		notWant    []string
		code       int
		sent       []string // client lines in the transcript, when set
		tlsEvent   bool
	}{
		{
			name:  "trusted-then-ehlo-shows-auth-then-auth-plain",
			trust: true,
			lines: []string{"EHLO client.example", "STARTTLS", "expect 220", "EHLO client.example", "expect 250",
				"AUTH PLAIN " + plainAlice, "expect 235", "QUIT"},
			want: []string{"S: 220 2.0.0 Ready to start TLS", "TLS TLSv1.3, cipher suite TLS_", "ALPN none",
				"certificate 1 of 1: CN=lab.smtpsh.test,O=smtpsh lab", "issuer   CN=lab.smtpsh.test,O=smtpsh lab",
				"names    localhost, lab.smtpsh.test, 127.0.0.1, ::1", "sha256   ", "key      ECDSA P-256",
				`certificate verified for "127.0.0.1"`, "RFC 3207 §4.2", "C: EHLO client.example",
				"+ AUTH PLAIN LOGIN CRAM-MD5", "- STARTTLS", "S: 235 2.7.0", "S: 221"},
			notWant:  []string{"injection", "NOT verified"},
			code:     ExitOK,
			tlsEvent: true,
		},
		{
			name:    "untrusted-certificate-ends-with-exit-6",
			lines:   []string{"EHLO client.example", "STARTTLS", "EHLO client.example", "QUIT"},
			want:    []string{"S: 220 2.0.0", "certificate 1 of 1: CN=lab.smtpsh.test", "sha256", "unknown authority", "--ca FILE", "--insecure"},
			notWant: []string{"certificate verified", "S: 221"},
			code:    ExitTLS,
		},
		{
			name:     "insecure-goes-on-and-says-why",
			insecure: true,
			lines:    []string{"EHLO client.example", "STARTTLS", "EHLO client.example", "AUTH PLAIN " + plainAlice, "expect 235", "QUIT"},
			want:     []string{"S: 220 2.0.0", "certificate NOT verified, going on because of --insecure", "unknown authority", "+ AUTH PLAIN", "S: 235", "S: 221"},
			code:     ExitOK,
			tlsEvent: true,
		},
		{
			name:       "name-mismatch-names-both-names",
			trust:      true,
			serverName: wrongName,
			lines:      []string{"EHLO client.example", "STARTTLS", "QUIT"},
			want:       []string{"name mismatch", `"lab.smtpsh.test"`, `"` + wrongName + `"`, "--servername"},
			code:       ExitTLS,
		},
		{
			name:     "starttls-flag-upgrades-after-the-first-ehlo",
			trust:    true,
			startTLS: true,
			lines:    []string{"EHLO client.example", "AUTH PLAIN " + plainAlice, "expect 235", "QUIT"},
			want:     []string{"C: EHLO client.example", "C: STARTTLS", "S: 220", "certificate verified", "--starttls sends EHLO again", "C: EHLO client.example", "+ AUTH PLAIN", "S: 235", "S: 221"},
			code:     ExitOK,
			sent:     []string{"EHLO client.example", "STARTTLS", "EHLO client.example", "AUTH PLAIN " + plainAlice, "QUIT"},
			tlsEvent: true,
		},
		{
			// :info repeats the TLS parameters and the certificate.
			name:     "info-after-starttls-shows-the-certificate",
			trust:    true,
			lines:    []string{"EHLO client.example", "STARTTLS", "EHLO client.example", ":info", "QUIT"},
			want:     []string{"S: 220 2.0.0", "certificate verified", ":info", "tls:       yes", "TLS TLSv1.3, cipher suite TLS_", "certificate 1 of 1: CN=lab.smtpsh.test", "sha256   ", "auth:      no", "phase:     mail", "S: 221"},
			code:     ExitOK,
			tlsEvent: true,
		},
		{
			name:    "info-in-plaintext",
			trust:   true,
			noTLS:   true,
			lines:   []string{"EHLO client.example", ":info", "QUIT"},
			want:    []string{":info", "tls:       no (plain TCP)", "phase:     mail", "S: 221"},
			notWant: []string{"certificate 1 of 1"},
			code:    ExitOK,
		},
		{
			name:     "starttls-flag-without-starttls-offered-is-exit-6",
			trust:    true,
			startTLS: true,
			noTLS:    true,
			lines:    []string{"EHLO client.example", "MAIL FROM:<a@example.com>"},
			want:     []string{"does not advertise STARTTLS", "S: 221"},
			notWant:  []string{"C: MAIL"},
			code:     ExitTLS,
			sent:     []string{"EHLO client.example", "QUIT"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, pool := startTLSLab(t, "default", tt.noTLS)
			o := dial.Options{TLSConfig: dial.TLSOptions{Insecure: tt.insecure, ServerName: tt.serverName}}
			if tt.trust {
				o.TLSConfig.RootCAs = pool
			} else {
				// Trust nothing: the system roots may be absent or
				// anything on a test machine.
				o.TLSConfig.RootCAs = x509.NewCertPool()
			}
			out, s, err := runLines(t, addr, Config{Dialer: &TransportDialer{Options: o}, StartTLS: tt.startTLS}, tt.lines...)
			if got := exitCode(err); got != tt.code {
				t.Errorf("exit code %d (%v), want %d\n%s", got, err, tt.code, out)
			}
			all := out
			if err != nil {
				all += err.Error()
			}
			rest := all
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order) :\n%s", w, all)
				}
				rest = rest[i+len(w):]
			}
			for _, w := range tt.notWant {
				if strings.Contains(all, w) {
					t.Errorf("output has %q:\n%s", w, all)
				}
			}
			if tt.sent != nil {
				if got := clientLines(s.Transcript()); strings.Join(got, "|") != strings.Join(tt.sent, "|") {
					t.Errorf("sent %q, want %q", got, tt.sent)
				}
			}
			var tlsEv *transcripts.Event
			for i, e := range s.Transcript().Events {
				if e.Kind == transcripts.TLS {
					tlsEv = &s.Transcript().Events[i]
				}
			}
			if tt.tlsEvent {
				if tlsEv == nil || !strings.HasPrefix(tlsEv.TLS.Version, "TLSv1.") || tlsEv.TLS.CertSubject != "CN=lab.smtpsh.test,O=smtpsh lab" {
					t.Errorf("transcript TLS event %+v, want one with the lab's certificate", tlsEv)
				}
				if p := s.prompt(); !strings.Contains(p, " tls ") {
					t.Errorf("prompt %q does not show TLS", p)
				}
			} else if tlsEv != nil {
				t.Errorf("a TLS event was recorded for a failed upgrade: %+v", tlsEv.TLS)
			}
		})
	}
}

// TestStartTLSForgetsCapabilities checks the state after the upgrade,
// before the new EHLO: RFC 3207 §4.2 says the client forgets what it knew,
// so completion offers EHLO first and the prompt says tls helo.
func TestStartTLSForgetsCapabilities(t *testing.T) {
	addr, pool := startTLSLab(t, "default", false)
	o := dial.Options{TLSConfig: dial.TLSOptions{RootCAs: pool}}
	_, s, err := runLines(t, addr, Config{Name: "lab:2525", Dialer: &TransportDialer{Options: o}}, "EHLO client.example", "STARTTLS", "expect 220")
	if err != nil {
		t.Fatal(err)
	}
	// The script ended with QUIT sent by the shell; look at the state the
	// upgrade left by replaying the last moment: phase, caps and TLS.
	s.mu.Lock()
	st := s.st
	s.mu.Unlock()
	if !st.tls || st.ehlo || len(st.caps.List) != 0 {
		t.Errorf("after STARTTLS: tls=%v ehlo=%v caps=%v, want tls and no capabilities", st.tls, st.ehlo, st.caps.List)
	}
	st.phase = PhaseHelo
	s.mu.Lock()
	s.st = st
	s.mu.Unlock()
	if p := s.prompt(); p != "lab:2525 tls helo> " {
		t.Errorf("prompt %q, want %q", p, "lab:2525 tls helo> ")
	}
	if vs := legalVerbs(st.phase, &st); len(vs) == 0 || vs[0] != "EHLO" {
		t.Errorf("first verb offered %v, want EHLO", vs)
	}
}

// TestStartTLSOtherTransport: a Dialer that is not internal/dial's cannot
// be upgraded, and the shell says so instead of pretending.
func TestStartTLSOtherTransport(t *testing.T) {
	addr, _ := startTLSLab(t, "default", false)
	out, s, err := runLines(t, addr, Config{}, "EHLO client.example", "STARTTLS", "expect 220")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "cannot be upgraded to TLS") {
		t.Errorf("output does not say the transport cannot upgrade:\n%s", out)
	}
	for _, e := range s.Transcript().Events {
		if e.Kind == transcripts.TLS {
			t.Errorf("a TLS event was recorded: %+v", e.TLS)
		}
	}
}

// TestStartTLSInjection: a server that sends plaintext after its 220 (the
// CVE-2011-0411 shape) gets it reported and discarded, never read as a
// reply over TLS.
func TestStartTLSInjection(t *testing.T) {
	cert, err := selfsigned.Certificate("mx.example.net")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		inject string
		// fails: more than the read buffers hold, so the rest reaches
		// the handshake, which fails on plaintext (exit 6).
		fails bool
	}{
		{name: "reply-after-220", inject: "250 2.0.0 injected\r\n"},
		{name: "escape-sequence", inject: "250 \x1b[31mred\r\n"},
		{name: "longer-than-the-buffers", inject: "250-" + strings.Repeat("x", 9000) + "\r\n250 end\r\n", fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeServer(t, func(c net.Conn) {
				c.Write([]byte("220 mx.example.net ESMTP\r\n"))
				readLine(c) // EHLO
				c.Write([]byte("250-mx.example.net\r\n250 STARTTLS\r\n"))
				readLine(c) // STARTTLS
				c.Write([]byte("220 2.0.0 Ready to start TLS\r\n" + tt.inject))
				tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
				if err := tc.Handshake(); err != nil {
					return
				}
				br := bufio.NewReader(tc)
				for {
					l, err := br.ReadString('\n')
					if err != nil {
						return
					}
					switch {
					case strings.HasPrefix(l, "EHLO"):
						tc.Write([]byte("250-mx.example.net\r\n250 AUTH PLAIN\r\n"))
					case strings.HasPrefix(l, "QUIT"):
						tc.Write([]byte("221 2.0.0 Bye\r\n"))
						return
					}
				}
			})
			o := dial.Options{TLSConfig: dial.TLSOptions{Insecure: true}}
			out, s, err := runLines(t, addr, Config{Dialer: &TransportDialer{Options: o}}, "EHLO client.example", "STARTTLS", "EHLO client.example", "QUIT")
			if tt.fails {
				if exitCode(err) != ExitTLS || !strings.Contains(out, "STARTTLS injection: the server sent ") || !strings.Contains(out, "plaintext instead of TLS") {
					t.Errorf("exit %d (%v), want %d with the injection and the plaintext reported:\n%s", exitCode(err), err, ExitTLS, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			want := "STARTTLS injection: the server sent " + strconv.Itoa(len(tt.inject)) + " byte(s)"
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
			if strings.Contains(out, "\x1b") {
				t.Errorf("an escape byte reached the output")
			}
			for _, e := range s.Transcript().Events {
				if e.Kind == transcripts.Server && (strings.Contains(e.Text, "injected") || strings.Contains(e.Text, "red") || strings.Contains(e.Text, "end")) {
					t.Errorf("injected text recorded as a server line: %q", e.Text)
				}
			}
			if !strings.Contains(out, "S: 250 AUTH PLAIN") || !strings.Contains(out, "S: 221 2.0.0 Bye") {
				t.Errorf("the session did not go on over TLS:\n%s", out)
			}
		})
	}
}

// TestStartTLSStalledHandshake: a server that answers 220 and then says
// nothing gets a timeout that names the handshake, and exit 6.
func TestStartTLSStalledHandshake(t *testing.T) {
	release := make(chan struct{})
	addr := fakeServer(t, func(c net.Conn) {
		c.Write([]byte("220 mx.example.net ESMTP\r\n"))
		readLine(c) // EHLO
		c.Write([]byte("250-mx.example.net\r\n250 STARTTLS\r\n"))
		readLine(c) // STARTTLS
		c.Write([]byte("220 2.0.0 Ready to start TLS\r\n"))
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
	})
	// Registered after fakeServer's, so it runs first (cleanups run last
	// in, first out) and lets the server end.
	t.Cleanup(func() { close(release) })
	o := dial.Options{TLSConfig: dial.TLSOptions{Insecure: true}}
	start := time.Now()
	out, _, err := runLines(t, addr, Config{Timeout: 300 * time.Millisecond, Dialer: &TransportDialer{Options: o}}, "EHLO client.example", "STARTTLS", "EHLO client.example")
	if exitCode(err) != ExitTLS || !strings.Contains(out, "timed out (the server did not complete the handshake)") {
		t.Errorf("exit %d (%v), want %d and a handshake timeout:\n%s", exitCode(err), err, ExitTLS, out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s with a 300ms timeout", d)
	}
}
