package shell

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smtpsh/smtpsh/internal/dial"
	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/transcripts"
)

// The STARTTLS upgrade (RFC 3207) and the reply reader.
//
// Replies are read by one goroutine, readReplies, through s.rbuf (a
// bufio.Reader over s.tap over the *dial.Conn), and handed to the session's
// goroutine on a channel. A TLS handshake must run on the same connection,
// and nothing else may read it meanwhile: a reader blocked in Read would
// swallow the server's first TLS records, and it would race with
// dial.Conn.StartTLS, which swaps the stream under the connection's reader.
//
// So the reader parks after every 220 reply it delivers, before reading
// again, and waits for the session to say "go on" on the resume channel. Only
// the greeting and the answer to STARTTLS are 220 (RFC 5321 §4.2.3, RFC 3207
// §4), so this costs one channel send per connection, plus one per STARTTLS.
// While the reader is parked the session owns s.rbuf and s.rr (the channel
// operations order their accesses): after a 220 to STARTTLS it takes
// whatever is still buffered (bytes the server sent after its 220: a
// STARTTLS injection, CVE-2011-0411), runs the handshake, resets the reply
// reader onto the TLS stream, and only then lets the reader go on. If the
// handshake fails the session closes the connection and never resumes the
// reader, which ends when Run closes done.

// maxShownSANs bounds the names printed for one certificate: a certificate
// may carry hundreds.
const maxShownSANs = 20

// maxShownChain bounds the certificates printed for one chain.
const maxShownChain = 10

// maxInjectionShown bounds the injected bytes kept for display.
const maxInjectionShown = 512

// afterParkedReply runs on the session's goroutine after a 220 reply, while
// the reply reader is parked: it does the STARTTLS upgrade when that reply
// answered STARTTLS, then reports whether the reader may go on.
func (s *Session) afterParkedReply(ctx context.Context) bool {
	if s.tlsDue {
		s.tlsDue = false
		s.upgrade(ctx)
	}
	return !s.closed
}

// afterReply does what the shell does by itself after a reply: --starttls
// after the first EHLO, and a STARTTLS answered while the reader was not
// parked (its reply was unreadable), which cannot be upgraded safely.
func (s *Session) afterReply(parked bool) {
	if s.tlsDue && !parked {
		s.tlsDue = false
		s.warn("the reply to STARTTLS could not be read cleanly, so the shell will not start TLS on this stream")
		s.closeConn(transcripts.SideClient, "STARTTLS reply unreadable")
		s.fail(ExitTLS, "STARTTLS with %s: the reply to STARTTLS was unreadable", s.cfg.Addr)
		return
	}
	if s.autoTLSRefused {
		s.autoTLSRefused = false
		s.warn("--starttls: the server refused STARTTLS, so the session ends here rather than go on in plaintext")
		s.fail(ExitTLS, "--starttls: %s refused STARTTLS", s.cfg.Addr)
		if !s.closed && !s.quitSent {
			s.sendCommand("QUIT", false)
		}
		return
	}
	if s.autoTLSDue {
		s.autoTLSDue = false
		s.autoStartTLS()
	}
}

// autoStartTLS sends STARTTLS for --starttls, after the first EHLO.
func (s *Session) autoStartTLS() {
	if s.closed || s.quitSent {
		return
	}
	s.mu.Lock()
	offered := s.st.ehlo && s.st.caps.Has("STARTTLS")
	s.mu.Unlock()
	if !offered {
		// Going on in plaintext when TLS was asked for would be a silent
		// downgrade, the very attack STARTTLS stripping is.
		s.warn("--starttls: the server does not advertise STARTTLS, so the session ends here rather than go on in plaintext")
		s.fail(ExitTLS, "--starttls: %s does not advertise STARTTLS", s.cfg.Addr)
		s.sendCommand("QUIT", false)
		return
	}
	if len(s.pending) > 0 {
		s.warn("--starttls: commands are still waiting for replies; type STARTTLS when they are answered")
		return
	}
	if s.in.Interactive() {
		s.note("--starttls: sending STARTTLS")
	}
	s.autoEHLO = true
	s.sendCommand("STARTTLS", false)
}

// upgrade runs the TLS handshake after the server's 220 to STARTTLS (RFC
// 3207 §4) and then forgets what the shell knew of the server (§4.2).
func (s *Session) upgrade(ctx context.Context) {
	if s.dc == nil {
		// A Dialer other than TransportDialer: there is no way to run a
		// handshake on its stream, and pretending would lie.
		s.warn("this connection was not opened by internal/dial, so it cannot be upgraded to TLS; the server now waits for a TLS handshake (RFC 3207 §4): :quit")
		return
	}
	if len(s.pending) > 0 {
		// RFC 3207 §4.2 and CVE-2011-0411: commands pipelined after
		// STARTTLS reach the server as plaintext it must discard.
		s.warn("%d command(s) sent after STARTTLS went out in plaintext before the handshake; a correct server discards them (CVE-2011-0411)", len(s.pending))
		s.pending = nil
	}
	var injected []byte
	n := 0
	if b := s.rbuf.Buffered(); b > 0 {
		p, _ := s.rbuf.Peek(b)
		injected = append(injected, p[:min(b, maxInjectionShown)]...)
		n = b
		_, _ = s.rbuf.Discard(b)
	}
	s.printRawReceived()
	hctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	at := s.now()
	insp, err := s.dc.StartTLS(hctx)
	var te *dial.TLSError
	if err != nil && errors.As(err, &te) && te.Inspection != nil {
		insp = te.Inspection
	}
	if insp != nil && insp.Injected > 0 {
		if len(injected) < maxInjectionShown {
			injected = append(injected, insp.Injection[:min(len(insp.Injection), maxInjectionShown-len(injected))]...)
		}
		n += insp.Injected
	}
	if n > 0 {
		s.warn("STARTTLS injection: the server sent %d byte(s) after its 220 and before the handshake; discarded, never read as TLS data (CVE-2011-0411): %s",
			n, render.Escape(string(injected)))
		s.tr.AddNote(at, fmt.Sprintf("STARTTLS injection: %d bytes discarded", n))
	}
	if err != nil {
		if insp != nil && len(insp.Chain) > 0 {
			s.printInspection(insp)
		}
		var ce *dial.CertificateError
		if errors.As(err, &ce) {
			s.warn("%s", err)
			s.warn("the session ends here: use --ca FILE to trust the certificate's issuer, or --insecure to go on anyway")
		} else {
			s.warn("%s", err)
		}
		s.closeConn(transcripts.SideClient, "TLS handshake failed")
		s.fail(ExitTLS, "STARTTLS with %s failed: %w", s.cfg.Addr, err)
		return
	}
	s.rr.Reset(s.tap)
	s.tr.AddTLS(at, tlsInfo(insp))
	s.mu.Lock()
	// RFC 3207 §4.2: the client MUST discard any knowledge obtained from
	// the server, such as the list of extensions, and the server forgets
	// the session (an AUTH done before TLS too).
	s.st.tls = true
	s.st.phase = PhaseHelo
	s.st.ehlo, s.st.caps = false, smtp.Capabilities{}
	s.st.authed, s.st.sasl = false, false
	s.mu.Unlock()
	s.printInspection(insp)
	if s.autoEHLO && s.ehloLine != "" {
		s.autoEHLO = false
		s.note("RFC 3207 §4.2: capabilities forgotten; --starttls sends EHLO again")
		if s.in.Interactive() {
			s.note("sending %s", render.Escape(s.ehloLine))
		}
		s.sendCommand(s.ehloLine, false)
		return
	}
	s.autoEHLO = false
	s.note("RFC 3207 §4.2: the shell forgot the server's capabilities; send EHLO again (Tab offers it first)")
}

// printInspection shows a TLS session: version, cipher suite, ALPN, the
// certificate chain and whether it verified. Everything from the
// certificate is escaped: it is network data.
func (s *Session) printInspection(in *dial.Inspection) {
	alpn := "none"
	if in.ALPN != "" {
		alpn = render.Escape(in.ALPN)
	}
	s.note("TLS %s, cipher suite %s, ALPN %s, server name %s", render.Escape(in.Version), render.Escape(in.CipherSuite), alpn, render.Escape(in.ServerName))
	for i, c := range in.Chain {
		if i == maxShownChain {
			s.note("... and %d more certificate(s)", len(in.Chain)-i)
			break
		}
		s.note("certificate %d of %d: %s", i+1, len(in.Chain), render.Escape(c.Subject))
		s.note("  issuer   %s", render.Escape(c.Issuer))
		s.note("  names    %s", sanList(c.SANs))
		s.note("  valid    %s to %s", c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		s.note("  sha256   %s", render.Escape(c.SHA256))
		s.note("  key      %s", render.Escape(c.KeyType))
	}
	switch {
	case in.Verified:
		s.note("certificate verified for %q", render.Escape(in.ServerName))
	case in.VerifyError != "":
		s.warn("certificate NOT verified, going on because of --insecure: %s", render.Escape(in.VerifyError))
	}
}

// sanList joins a certificate's names for display, escaped and bounded.
func sanList(sans []string) string {
	if len(sans) == 0 {
		return "(none)"
	}
	shown := sans[:min(len(sans), maxShownSANs)]
	q := make([]string, len(shown))
	for i, n := range shown {
		q[i] = render.Escape(n)
	}
	out := strings.Join(q, ", ")
	if len(sans) > maxShownSANs {
		out += fmt.Sprintf(" and %d more", len(sans)-maxShownSANs)
	}
	return out
}
