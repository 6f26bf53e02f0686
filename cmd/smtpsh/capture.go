package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/smtpsh/smtpsh/capture"
	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/shell"
	"github.com/smtpsh/smtpsh/transcripts"
)

// captureOptions are the flags of `smtpsh capture`.
type captureOptions struct {
	Iface    string
	Ports    []uint
	NoDetect bool
	Summary  bool
	JSON     bool
	Follow   int
	Explain  bool
	Extract  string
	Creds    bool
	Save     string
	Workers  int
	Progress string // auto, always, never
}

// newCaptureCmd returns `smtpsh capture FILE...`.
func newCaptureCmd() *cobra.Command {
	var o captureOptions
	cmd := &cobra.Command{
		Use:   "capture [flags] FILE... | -i IFACE",
		Short: "Decode SMTP conversations from pcap/pcapng files (or a live interface) into explained transcripts",
		Long: `capture reads packet captures (pcap, pcapng, the "modified" pcap, gzip-compressed
copies of any; "-" is stdin; several files are one capture), reassembles TCP,
finds the SMTP conversations (ports 25, 465, 587, 2525 and --port, and any port
where a 220 greeting is answered by HELO, EHLO or LHLO) and shows each one as
the shell would. Nothing is sent anywhere: capture never connects.

  --summary     one row per conversation
  --json        one JSON object per conversation (JSON Lines)
  --follow N    only conversation N, with its message text
  --creds       the AUTH credentials the capture gives away
  --extract DIR each message as DIR/conv-N-I.eml, byte for byte as sent
  --save DIR    each conversation as DIR/conv-N.txt, a transcript that
                "smtpsh replay" plays (AUTH secrets redacted)

With -i IFACE it decodes live traffic (Linux, needs root or CAP_NET_RAW) until
Ctrl-C, then prints the summary.

Exit status: 0 decoded, 1 a file could not be read or was corrupt (the
conversations decoded before the damage are still printed).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCapture(cmd, args, &o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Iface, "interface", "i", "", "decode live traffic on IFACE (Linux; root or CAP_NET_RAW) until Ctrl-C")
	f.UintSliceVar(&o.Ports, "port", nil, "also take this server port as SMTP (repeatable)")
	f.BoolVar(&o.NoDetect, "no-detect", false, "only the SMTP ports, no detection from content on other ports")
	f.BoolVar(&o.Summary, "summary", false, "one row per conversation: time, client, server, HELO, MAIL FROM, recipients, result, bytes, TLS, AUTH user")
	f.BoolVar(&o.JSON, "json", false, "one JSON object per conversation (JSON Lines)")
	f.IntVar(&o.Follow, "follow", 0, "show only conversation `N`, with its message text")
	f.BoolVar(&o.Explain, "explain", false, "explain each reply, as the shell does")
	f.StringVar(&o.Extract, "extract", "", "write each message to `DIR`/conv-N-I.eml")
	f.BoolVar(&o.Creds, "creds", false, "list the AUTH credentials (PLAIN and LOGIN decoded, CRAM-MD5 for crackers)")
	f.StringVar(&o.Save, "save", "", "write each conversation to `DIR`/conv-N.txt, a transcript smtpsh replay plays")
	f.IntVar(&o.Workers, "workers", 0, "reassembly workers (default: one per CPU)")
	f.StringVar(&o.Progress, "progress", "auto", "progress on stderr: auto (a terminal and a large input), always, never")
	return cmd
}

// progressThreshold is the input size above which "auto" shows progress.
const progressThreshold = 64 << 20

func runCapture(cmd *cobra.Command, args []string, o *captureOptions) error {
	if o.Iface == "" && len(args) == 0 {
		return fmt.Errorf("capture needs a FILE (or - for stdin), or -i IFACE")
	}
	if o.Iface != "" && len(args) > 0 {
		return fmt.Errorf("capture takes FILEs or -i IFACE, not both")
	}
	if o.Summary && (o.JSON || o.Creds) {
		return fmt.Errorf("--summary is a view of its own: not with --json or --creds")
	}
	var ports []uint16
	for _, p := range o.Ports {
		if p == 0 || p > 65535 {
			return fmt.Errorf("--port %d: not a TCP port", p)
		}
		ports = append(ports, uint16(p))
	}
	for _, dir := range []string{o.Extract, o.Save} {
		if dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return fmt.Errorf("capture: %w", err)
			}
		}
	}
	out := cmd.OutOrStdout()
	errOut := cmd.ErrOrStderr()
	term := render.Detect(out, os.Getenv)
	// What each conversation must keep depends on what is printed: the
	// summary and JSON views keep neither transcripts nor message text, so
	// memory stays flat however large the capture.
	text := !o.Summary && !o.JSON && !o.Creds
	dopts := capture.DecoderOptions{
		KeepTranscript: text || o.Save != "",
		KeepData:       o.Follow > 0 || o.Save != "",
		KeepMessages:   o.Extract != "",
	}
	col := &collector{o: o, errOut: errOut}
	h := &capture.ConversationHandler{Options: dopts, Done: col.done}
	copts := capture.Options{Ports: append(capture.DefaultPorts(), ports...), Detect: !o.NoDetect, Workers: o.Workers}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var stats capture.Stats
	var derr error
	if o.Iface != "" {
		stats, derr = capture.Live(ctx, o.Iface, h, copts)
		if errors.Is(derr, context.Canceled) {
			derr = nil // Ctrl-C is how a live capture ends
		}
		if !o.JSON {
			o.Summary = true
		}
	} else {
		if p := newProgress(errOut, o.Progress, args); p != nil {
			copts.Progress = p.update
			defer p.finish()
		}
		stats, derr = capture.Decode(ctx, args, h, copts)
	}
	convs := col.sorted()
	if err := col.err(); err != nil && derr == nil {
		derr = err
	}
	if o.Follow > 0 {
		i := slices.IndexFunc(convs, func(c *capture.Conversation) bool { return c.Info.ID == o.Follow })
		if i < 0 {
			return fmt.Errorf("capture: no SMTP conversation %d (%d found)", o.Follow, len(convs))
		}
		convs = convs[i : i+1]
	}
	var werr error
	switch {
	case o.Creds && o.JSON:
		werr = writeCredsJSON(out, convs)
	case o.Creds:
		werr = writeCreds(out, convs)
	case o.JSON:
		werr = writeConvJSON(out, convs)
	case o.Summary:
		werr = writeSummary(out, convs)
	default:
		werr = writeConvText(out, convs, term, o.Explain)
	}
	if werr != nil {
		return werr
	}
	fmt.Fprintf(errOut, "capture: %d packets, %d TCP connections, %d SMTP conversations%s\n",
		stats.Packets, stats.Conns, len(col.all), skippedNote(stats.Skipped))
	if derr != nil {
		var fe *capture.FormatError
		if errors.As(derr, &fe) {
			return fmt.Errorf("capture: %w (the conversations before it are shown above)", derr)
		}
		return fmt.Errorf("capture: %w", derr)
	}
	return nil
}

func skippedNote(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return "; packets skipped: " + strings.Join(parts, ", ")
}

// collector receives conversations as they end, from the decoding
// goroutines: it writes --extract and --save files at once and keeps the
// rest for the views, sorted by ID at the end.
type collector struct {
	o      *captureOptions
	errOut io.Writer
	mu     sync.Mutex
	all    []*capture.Conversation
	first  error
}

func (c *collector) done(conv *capture.Conversation) {
	var err error
	if c.o.Extract != "" {
		err = extractMessages(c.o.Extract, conv)
	}
	if c.o.Save != "" && conv.Transcript != nil {
		err = errors.Join(err, shell.WriteTranscript(filepath.Join(c.o.Save, fmt.Sprintf("conv-%d.txt", conv.Info.ID)), conv.Transcript))
	}
	// Drop what no view prints: message bytes were written, and the
	// transcript is kept only for the text view.
	for _, m := range conv.Messages {
		m.Data = nil
	}
	if c.o.Summary || c.o.JSON || c.o.Creds || c.o.Follow > 0 && conv.Info.ID != c.o.Follow {
		conv.Transcript = nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all = append(c.all, conv)
	if err != nil && c.first == nil {
		c.first = err
	}
}

func (c *collector) sorted() []*capture.Conversation {
	c.mu.Lock()
	defer c.mu.Unlock()
	slices.SortFunc(c.all, func(a, b *capture.Conversation) int { return a.Info.ID - b.Info.ID })
	return c.all
}

func (c *collector) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first
}

// extractMessages writes each message of conv as DIR/conv-N-I.eml, exactly
// the bytes sent (dot-stuffing undone, BDAT chunks joined).
func extractMessages(dir string, conv *capture.Conversation) error {
	for _, m := range conv.Messages {
		if m.Data == nil {
			continue
		}
		name := filepath.Join(dir, fmt.Sprintf("conv-%d-%d.eml", m.ConvID, m.Index))
		if err := os.WriteFile(name, m.Data, 0o600); err != nil {
			return fmt.Errorf("--extract: %w", err)
		}
	}
	return nil
}

// writeConvText renders each conversation as the shell's replay does.
func writeConvText(w io.Writer, convs []*capture.Conversation, term render.Terminal, explain bool) error {
	for i, c := range convs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s\n", render.Note(term, fmt.Sprintf("# conversation %d: %s -> %s%s, %s, %s", c.Info.ID, c.Info.Client, render.Escape(c.Info.ServerName()), viaNote(c.Info),
			c.Start.UTC().Format(time.RFC3339), summaryResult(c))))
		if c.Transcript == nil {
			continue
		}
		// Secrets stay out of the view, as out of every transcript; --creds
		// is the one place that shows them, on purpose.
		if err := shell.Replay(w, transcripts.Redact(c.Transcript), shell.ReplayOptions{Terminal: term, NoExplain: !explain}); err != nil {
			return err
		}
		for _, warn := range c.Warnings {
			fmt.Fprintln(w, render.Warning(term, "   ! "+render.Escape(warn)))
		}
	}
	return nil
}

func summaryResult(c *capture.Conversation) string {
	r := c.Result
	if r == "" {
		r = "no reply"
	}
	return render.Escape(r)
}

// writeSummary prints one row per conversation.
func writeSummary(w io.Writer, convs []*capture.Conversation) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tTIME\tCLIENT\tSERVER\tHELO\tMAIL FROM\tRCPT\tRESULT\tBYTES\tTLS\tAUTH")
	for _, c := range convs {
		var from, rcpts []string
		for _, t := range c.Transactions {
			from = append(from, "<"+t.MailFrom+">")
			for _, r := range t.Rcpts {
				rcpts = append(rcpts, r.Addr)
			}
		}
		tlsMode := c.TLS
		if tlsMode == "" {
			tlsMode = "-"
		}
		user := c.AuthUser()
		if user == "" {
			user = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", c.Info.ID, c.Start.UTC().Format("2006-01-02 15:04:05"),
			c.Info.Client, cell(c.Info.ServerName()), cell(c.Helo), cell(strings.Join(from, ",")), cell(strings.Join(rcpts, ",")),
			cell(summaryResult(c)), c.ClientBytes+c.ServerBytes, tlsMode, cell(user))
	}
	return tw.Flush()
}

// maxCell bounds a summary cell: a row is for reading.
const maxCell = 48

func cell(s string) string {
	if s == "" {
		return "-"
	}
	s = render.Escape(s)
	s = strings.NewReplacer("\t", " ").Replace(s)
	if len(s) > maxCell {
		s = s[:maxCell-3] + "..."
	}
	return s
}

// convJSON is one conversation in --json.
type convJSON struct {
	ID           int        `json:"id"`
	Start        time.Time  `json:"start"`
	End          time.Time  `json:"end"`
	EndReason    string     `json:"end_reason,omitempty"`
	Client       string     `json:"client"`
	Server       string     `json:"server"`
	Via          string     `json:"via,omitempty"` // the HTTP proxy the conversation was tunnelled through
	SawSYN       bool       `json:"saw_syn"`
	Greeting     string     `json:"greeting,omitempty"`
	Helo         string     `json:"helo,omitempty"`
	HeloVerb     string     `json:"helo_verb,omitempty"`
	LMTP         bool       `json:"lmtp,omitempty"`
	TLS          string     `json:"tls,omitempty"`
	AuthUser     string     `json:"auth_user,omitempty"`
	Transactions []txJSON   `json:"transactions"`
	Exchanges    []exJSON   `json:"exchanges"`
	Result       string     `json:"result"`
	ResultCode   int        `json:"result_code"`
	ClientBytes  int64      `json:"client_bytes"`
	ServerBytes  int64      `json:"server_bytes"`
	Gaps         int        `json:"gaps,omitempty"`
	GapBytes     [2]int64   `json:"gap_bytes,omitempty"`
	Warnings     []string   `json:"warnings,omitempty"`
	Creds        []credJSON `json:"credentials,omitempty"`
}

type txJSON struct {
	MailFrom   string     `json:"mail_from"`
	MailCode   int        `json:"mail_code"`
	Rcpts      []rcptJSON `json:"rcpts"`
	Method     string     `json:"method,omitempty"`
	ResultCode int        `json:"result_code,omitempty"`
	Result     string     `json:"result,omitempty"`
	Size       int64      `json:"size,omitempty"`
	Complete   bool       `json:"complete,omitempty"`
}

type rcptJSON struct {
	Addr string `json:"addr"`
	Code int    `json:"code"`
}

type exJSON struct {
	Line  string `json:"line"`
	Codes []int  `json:"codes"`
}

type credJSON struct {
	Mechanism string `json:"mechanism"`
	User      string `json:"user"`
	Result    int    `json:"result"`
}

// writeConvJSON writes one JSON object per conversation. Passwords are not
// in it (--creds shows them); AUTH responses are redacted as in
// transcripts.
func writeConvJSON(w io.Writer, convs []*capture.Conversation) error {
	enc := json.NewEncoder(w)
	for _, c := range convs {
		j := convJSON{ID: c.Info.ID, Start: c.Start.UTC(), End: c.End.UTC(), EndReason: c.EndReason,
			Client: c.Info.Client.String(), Server: c.Info.ServerName(), Via: c.Info.Via(), SawSYN: c.Info.SawSYN,
			Greeting: c.Greeting, Helo: c.Helo, HeloVerb: string(c.HeloVerb), LMTP: c.LMTP, TLS: c.TLS,
			AuthUser: c.AuthUser(), Result: c.Result, ResultCode: c.ResultCode,
			ClientBytes: c.ClientBytes, ServerBytes: c.ServerBytes, Gaps: c.Gaps,
			Warnings: c.Warnings, Transactions: []txJSON{}, Exchanges: []exJSON{}}
		if c.Gaps > 0 {
			j.GapBytes = [2]int64{c.GapClientBytes, c.GapServerBytes}
		}
		for _, t := range c.Transactions {
			tj := txJSON{MailFrom: t.MailFrom, MailCode: t.MailCode, Method: t.Method, ResultCode: t.ResultCode, Result: t.Result, Rcpts: []rcptJSON{}}
			for _, r := range t.Rcpts {
				tj.Rcpts = append(tj.Rcpts, rcptJSON{Addr: r.Addr, Code: r.Code})
			}
			if t.Message != nil {
				tj.Size, tj.Complete = t.Message.Size, t.Message.Complete
			}
			j.Transactions = append(j.Transactions, tj)
		}
		for _, e := range c.Exchanges {
			codes := e.Codes
			if codes == nil {
				codes = []int{}
			}
			j.Exchanges = append(j.Exchanges, exJSON{Line: e.Line, Codes: codes})
		}
		for _, cr := range c.Creds {
			j.Creds = append(j.Creds, credJSON{Mechanism: cr.Mechanism, User: cr.User, Result: cr.Result})
		}
		if err := enc.Encode(j); err != nil {
			return err
		}
	}
	return nil
}

// writeCreds lists the credentials, with why a capture can hold them.
func writeCreds(w io.Writer, convs []*capture.Conversation) error {
	n := 0
	for _, c := range convs {
		for _, cr := range c.Creds {
			if n == 0 {
				fmt.Fprintln(w, "# AUTH over plaintext SMTP: PLAIN and LOGIN are base64, an encoding, not encryption;")
				fmt.Fprintln(w, "# CRAM-MD5 hides the password but its digest can be cracked offline. TLS first (RFC 8314).")
			}
			n++
			status := "accepted"
			switch {
			case cr.Cancelled:
				status = "cancelled"
			case cr.Result == 0:
				status = "no reply captured"
			case !cr.Accepted():
				status = fmt.Sprintf("refused (%d)", cr.Result)
			}
			fmt.Fprintf(w, "conversation %d  %s -> %s  %s  user %q", cr.ConvID, cr.Client, cr.Server, cr.Mechanism, render.Escape(cr.User))
			switch {
			case cr.Password != "":
				fmt.Fprintf(w, "  password %q", render.Escape(cr.Password))
			case cr.Token != "":
				fmt.Fprintf(w, "  token %q", render.Escape(cr.Token))
			case cr.Nonce != "":
				fmt.Fprintf(w, "  nonce %q (not replayable)", render.Escape(cr.Nonce))
			}
			fmt.Fprintf(w, "  %s\n", status)
			if h := cr.HashcatLine(); h != "" {
				fmt.Fprintf(w, "  hashcat -m 10200: %s\n", h)
				fmt.Fprintf(w, "  john --format=hmac-md5: %s\n", cr.JohnLine())
			}
			if cr.Err != "" {
				fmt.Fprintf(w, "  ! %s\n", render.Escape(cr.Err))
			}
		}
	}
	if n == 0 {
		fmt.Fprintln(w, "no AUTH exchanges in the capture")
	}
	return nil
}

// credLine is one credential in --creds --json.
type credLine struct {
	Conv       int    `json:"conv"`
	Client     string `json:"client"`
	Server     string `json:"server"`
	At         string `json:"at"`
	Mechanism  string `json:"mechanism"`
	Authzid    string `json:"authzid,omitempty"`
	User       string `json:"user"`
	Password   string `json:"password,omitempty"`
	Token      string `json:"token,omitempty"`
	Nonce      string `json:"nonce,omitempty"`
	Hashcat    string `json:"hashcat,omitempty"`
	Replayable bool   `json:"replayable"`
	Cancelled  bool   `json:"cancelled,omitempty"`
	Result     int    `json:"result"`
	Error      string `json:"error,omitempty"`
}

// writeCredsJSON writes one JSON object per credential: --creds asked for
// the secrets, so they are in it.
func writeCredsJSON(w io.Writer, convs []*capture.Conversation) error {
	enc := json.NewEncoder(w)
	for _, c := range convs {
		for _, cr := range c.Creds {
			l := credLine{Conv: cr.ConvID, Client: cr.Client.String(), Server: cr.Server.String(), At: cr.At.UTC().Format(time.RFC3339Nano),
				Mechanism: cr.Mechanism, Authzid: cr.Authzid, User: cr.User, Password: cr.Password, Token: cr.Token, Nonce: cr.Nonce,
				Hashcat: cr.HashcatLine(), Replayable: cr.Replayable, Cancelled: cr.Cancelled, Result: cr.Result, Error: cr.Err}
			if err := enc.Encode(l); err != nil {
				return err
			}
		}
	}
	return nil
}

// progress prints how much of the input was read, on stderr, at most ten
// times a second.
type progress struct {
	w     io.Writer
	mu    sync.Mutex
	last  time.Time
	shown bool
}

func newProgress(w io.Writer, mode string, files []string) *progress {
	switch mode {
	case "never":
		return nil
	case "always":
		return &progress{w: w}
	}
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return nil
	}
	var total int64
	for _, name := range files {
		if st, err := os.Stat(name); err == nil {
			total += st.Size()
		}
	}
	if total < progressThreshold {
		return nil
	}
	return &progress{w: w}
}

func (p *progress) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last, p.shown = now, true
	if total > 0 {
		fmt.Fprintf(p.w, "\rcapture: %d / %d MB (%d%%)", done>>20, total>>20, done*100/total)
	} else {
		fmt.Fprintf(p.w, "\rcapture: %d MB", done>>20)
	}
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// viaNote names the proxy a tunnelled conversation went through.
func viaNote(info capture.ConnInfo) string {
	if v := info.Via(); v != "" {
		return " via " + render.Escape(v)
	}
	return ""
}
