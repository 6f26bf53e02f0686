package lessons

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/smtpsh/smtpsh/capture"
	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/shell"
	"github.com/smtpsh/smtpsh/transcripts"
)

// samples holds the packet captures lessons name in their front matter's
// `capture` key.
//
//go:embed files/samples/*.pcap
var samples embed.FS

// Sample returns an embedded capture by its file name
// ("14-reading-a-capture.pcap").
func Sample(name string) ([]byte, error) {
	if name != path.Base(name) {
		return nil, fmt.Errorf("capture sample %q: a file name, not a path", name)
	}
	b, err := samples.ReadFile("files/samples/" + name)
	if err != nil {
		return nil, fmt.Errorf("capture sample %q: %w", name, fs.ErrNotExist)
	}
	return b, nil
}

// SampleNames lists the embedded captures.
func SampleNames() []string {
	names, _ := fs.Glob(samples, "files/samples/*.pcap")
	for i, n := range names {
		names[i] = path.Base(n)
	}
	return names
}

// DecodeSample decodes an embedded capture with package capture and
// returns its SMTP conversations in capture order, with their transcripts
// and message lines.
func DecodeSample(name string) ([]*capture.Conversation, error) {
	b, err := Sample(name)
	if err != nil {
		return nil, err
	}
	var (
		mu    sync.Mutex
		convs []*capture.Conversation
	)
	h := &capture.ConversationHandler{
		Options: capture.DecoderOptions{KeepTranscript: true, KeepData: true, KeepMessages: true, MaxMessage: 1 << 20, Source: "pcap:" + name},
		Done: func(c *capture.Conversation) {
			mu.Lock()
			convs = append(convs, c)
			mu.Unlock()
		},
	}
	if _, err := capture.DecodeReader(context.Background(), name, bytes.NewReader(b), h, capture.Options{Workers: 1}); err != nil {
		return nil, fmt.Errorf("capture sample %s: %w", name, err)
	}
	slices.SortFunc(convs, func(a, b *capture.Conversation) int { return a.Info.ID - b.Info.ID })
	return convs, nil
}

// captureMetas is :capture, which reads the capture a lesson names in its
// front matter.
func captureMetas() []extraMeta {
	return []extraMeta{{
		MetaCommand: shell.MetaCommand{Name: ":capture", Args: "[--summary|--creds|--follow N]",
			Usage: "the lesson's packet capture: its conversations, the credentials in it, or conversation N whole"},
		run: (*Engine).captureCommand,
	}}
}

// captureCommand runs :capture ARG on the lesson's sample.
func (e *Engine) captureCommand(arg string, out io.Writer) {
	term := e.term()
	warn := func(format string, args ...any) {
		fmt.Fprintln(out, render.Warning(term, "   "+fmt.Sprintf(format, args...)))
	}
	if e.lesson.Capture == "" {
		warn("this lesson ships no capture (lesson 14, reading-a-capture, does)")
		return
	}
	convs, err := DecodeSample(e.lesson.Capture)
	if err != nil {
		warn("%v", err)
		return
	}
	f := strings.Fields(arg)
	switch {
	case len(f) == 0 || len(f) == 1 && f[0] == "--summary":
		WriteCaptureSummary(out, term, e.lesson.Capture, convs)
	case len(f) == 1 && f[0] == "--creds":
		WriteCaptureCreds(out, term, convs)
	case len(f) == 2 && f[0] == "--follow":
		n, err := strconv.Atoi(f[1])
		if err != nil || n < 1 || n > len(convs) {
			warn(":capture --follow wants a conversation number from 1 to %d", len(convs))
			return
		}
		if err := WriteCaptureConversation(out, term, convs[n-1]); err != nil {
			warn("%v", err)
		}
	default:
		warn("usage: :capture [--summary|--creds|--follow N]")
	}
}

// WriteCaptureSummary writes one row per conversation: who talked to whom,
// the EHLO name, the AUTH user, the messages, whether TLS hid the rest, and
// how it ended.
func WriteCaptureSummary(w io.Writer, term render.Terminal, name string, convs []*capture.Conversation) {
	fmt.Fprintln(w, render.Note(term, fmt.Sprintf("%s: %d SMTP conversation(s)", render.Escape(name), len(convs))))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tclient\tserver\tEHLO\tAUTH\tmessages\tTLS\tresult")
	for _, c := range convs {
		auth := "-"
		if u := c.AuthUser(); u != "" {
			auth = u
		} else if len(c.Creds) > 0 {
			auth = c.Creds[0].Mechanism
		}
		msgs := "-"
		if len(c.Messages) > 0 {
			var size int64
			for _, m := range c.Messages {
				size += m.Size
			}
			msgs = fmt.Sprintf("%d (%d B)", len(c.Messages), size)
		}
		tls := "no"
		if c.TLS != "" {
			tls = fmt.Sprintf("%s, %d B hidden", c.TLS, c.TLSClientBytes+c.TLSServerBytes)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Info.ID, c.Info.Client, c.Info.Server,
			cell(c.Helo), cell(auth), msgs, tls, cell(c.Result))
	}
	tw.Flush()
	fmt.Fprintln(w, render.Note(term, "   :capture --creds shows the credentials, :capture --follow N a conversation whole"))
}

// cell escapes s for a table cell and bounds it.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return render.Escape(s)
}

// WriteCaptureCreds writes every AUTH exchange decoded: what whoever
// recorded the traffic holds.
func WriteCaptureCreds(w io.Writer, term render.Terminal, convs []*capture.Conversation) {
	n := 0
	for _, c := range convs {
		for _, cr := range c.Creds {
			n++
			result := "no reply seen"
			switch {
			case cr.Accepted():
				result = "accepted (235)"
			case cr.Result != 0:
				result = fmt.Sprintf("refused (%d)", cr.Result)
			}
			fmt.Fprintf(w, "conversation %d  %s → %s  AUTH %s  %s\n", c.Info.ID, c.Info.Client, c.Info.Server, render.Escape(cr.Mechanism), result)
			if cr.User != "" {
				fmt.Fprintf(w, "   user:     %s\n", render.Escape(cr.User))
			}
			if cr.Password != "" {
				fmt.Fprintf(w, "   password: %s\n", render.Escape(cr.Password))
			}
			if l := cr.HashcatLine(); l != "" {
				fmt.Fprintf(w, "   hashcat -m 10200: %s\n", render.Escape(l))
			}
			if cr.Err != "" {
				fmt.Fprintln(w, render.Warning(term, "   "+render.Escape(cr.Err)))
			}
		}
	}
	if n == 0 {
		fmt.Fprintln(w, render.Note(term, "   no AUTH exchange in the capture"))
		return
	}
	fmt.Fprintln(w, render.Note(term, "   base64 is an encoding, not encryption: AUTH without TLS gives the password to anyone on the path"))
}

// WriteCaptureConversation writes one conversation as the shell would have
// shown it, with its AUTH secrets redacted.
func WriteCaptureConversation(w io.Writer, term render.Terminal, c *capture.Conversation) error {
	if c.Transcript == nil {
		return fmt.Errorf("conversation %d: no transcript kept", c.Info.ID)
	}
	fmt.Fprintln(w, render.Note(term, fmt.Sprintf("conversation %d: %s → %s", c.Info.ID, c.Info.Client, c.Info.Server)))
	if err := shell.Replay(w, transcripts.Redact(c.Transcript), shell.ReplayOptions{Terminal: term, NoExplain: true}); err != nil {
		return err
	}
	if len(c.Creds) > 0 {
		fmt.Fprintln(w, render.Note(term, "   (secrets redacted: :capture --creds shows them decoded)"))
	}
	if c.TLS != "" {
		fmt.Fprintln(w, render.Note(term, fmt.Sprintf("   after %s: %d bytes from the client and %d from the server that nobody without the keys can read",
			c.TLS, c.TLSClientBytes, c.TLSServerBytes)))
	}
	return nil
}
