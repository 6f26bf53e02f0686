package lessons

import (
	"fmt"
	"io"
	"strings"

	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/smtp"
	"github.com/smtpsh/smtpsh/shell"
)

// maxLogLine bounds a relayed line as :proxylog shows it, in bytes before
// escaping.
const maxLogLine = 100

// proxyMetas is :proxylog, for a session that goes through the lesson's
// proxy (a lesson with proxy = true).
func proxyMetas() []extraMeta {
	return []extraMeta{{
		MetaCommand: shell.MetaCommand{Name: ":proxylog", Usage: "what the lesson's HTTP CONNECT proxy saw: the request, its answer, the bytes it relayed"},
		run: func(e *Engine, _ string, out io.Writer) {
			if e.cfg.Proxy == nil {
				fmt.Fprintln(out, render.Warning(e.term(), "   this session does not go through the lesson's proxy (smtpsh learn starts one for it)"))
				return
			}
			ts, dropped := e.cfg.Proxy.Tunnels()
			WriteProxyLog(out, e.term(), e.cfg.Proxy.URL(), ts, dropped)
		},
	}}
}

// WriteProxyLog writes what a proxy saw for a person: a line for each
// earlier tunnel, then the last one whole: the CONNECT request and its
// answer, the bytes relayed each way, and every read relayed, as SMTP text
// while it was readable and as TLS record types once it was not. Text from
// the network is escaped; AUTH secrets are redacted as in transcripts.
func WriteProxyLog(w io.Writer, term render.Terminal, url string, ts []Tunnel, dropped int) {
	note := func(format string, args ...any) { fmt.Fprintln(w, render.Note(term, fmt.Sprintf(format, args...))) }
	note("proxy %s: %d tunnel(s)", url, len(ts)+dropped)
	if len(ts) == 0 {
		note("   nothing yet: no client has connected")
		return
	}
	for _, t := range ts[:len(ts)-1] {
		note("   #%d from %s to %s: %s, %d bytes up, %d down", t.N, t.Client, render.Escape(t.Target), render.Escape(t.Status), t.Up, t.Down)
	}
	t := ts[len(ts)-1]
	state := "open"
	if t.Done {
		state = "closed"
	}
	fmt.Fprintf(w, "tunnel #%d from %s (%s)\n", t.N, t.Client, state)
	for _, l := range t.Request {
		fmt.Fprintln(w, render.ClientLine("  client → proxy  ", l))
	}
	if t.Status != "" {
		fmt.Fprintln(w, "  proxy → client  "+render.Escape(t.Status))
	}
	if t.Target == "" || !strings.Contains(t.Status, " 200 ") {
		return
	}
	fmt.Fprintf(w, "  relayed to %s: %d bytes client → server, %d bytes server → client\n", render.Escape(t.Target), t.Up, t.Down)
	var sasl, tlsUp, tlsDown bool
	for _, c := range t.Chunks {
		dir := "server → client"
		if c.Up {
			dir = "client → server"
		}
		head := fmt.Sprintf("  %s %5d B ", dir, c.Size)
		if c.TLS {
			if c.Up && !tlsUp || !c.Up && !tlsDown {
				note("  (%s from here on: TLS records; the proxy sees their types and sizes, not what they carry)", dir)
				tlsUp, tlsDown = tlsUp || c.Up, tlsDown || !c.Up
			}
			what := "TLS continued"
			if len(c.Records) > 0 {
				what = "TLS " + strings.Join(c.Records, ", ")
			}
			fmt.Fprintf(w, "%s %s  %s\n", head, what, hexPreview(c.Head, 8))
			continue
		}
		lines := strings.SplitAfter(string(c.Head), "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		for i, l := range lines {
			l = strings.TrimRight(l, "\r\n")
			if c.Up {
				l, sasl = redactSASL(l, sasl)
			} else if rl, err := smtp.ParseReplyLine(l); err == nil && !rl.More {
				sasl = rl.Code == 334 // RFC 4954 §4: the next client line answers it
			}
			if len(l) > maxLogLine {
				l = l[:maxLogLine] + "…"
			}
			if i > 0 {
				head = strings.Repeat(" ", len(head))
			}
			fmt.Fprintf(w, "%s %s\n", head, render.Escape(l))
		}
		if c.Size > len(c.Head) {
			note("  %s… %d more bytes", strings.Repeat(" ", 24), c.Size-len(c.Head))
		}
	}
	if t.ChunksDropped > 0 {
		note("   … and %d more reads not kept", t.ChunksDropped)
	}
}

// redactSASL hides a client line's secret, as transcripts.Redact does: the
// initial response of AUTH (RFC 4954 §4) or a line answering a 334.
func redactSASL(line string, sasl bool) (string, bool) {
	if sasl {
		if line == "*" {
			return line, false
		}
		return "<redacted>", false
	}
	verb, rest := smtp.SplitVerb(line)
	if verb != smtp.AUTH {
		return line, false
	}
	if mech, ir, ok := strings.Cut(rest, " "); ok && ir != "" && ir != "=" {
		return line[:len(line)-len(rest)] + mech + " <redacted>", false
	}
	return line, false
}

// hexPreview shows the first n bytes of b in hex: what "encrypted" looks
// like.
func hexPreview(b []byte, n int) string {
	var s strings.Builder
	for i, c := range b[:min(n, len(b))] {
		if i > 0 {
			s.WriteByte(' ')
		}
		fmt.Fprintf(&s, "%02x", c)
	}
	if len(b) > n {
		s.WriteString(" …")
	}
	return s.String()
}
