package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/smtpsh/smtpsh/capture"
	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/shell"
	"github.com/smtpsh/smtpsh/transcripts"
)

// replayOptions are the flags of `smtpsh replay FILE`.
type replayOptions struct {
	All bool
	To  string
	// Conv picks the conversation of a capture file (ConnInfo.ID), 0 the
	// first.
	Conv int
	// shell holds --no-explain, --timeout and the transport flags, so that
	// transportDialer reads them as the shell's own.
	shell shellOptions
}

// newReplayCmd returns `smtpsh replay FILE`.
func newReplayCmd() *cobra.Command {
	var o replayOptions
	cmd := &cobra.Command{
		Use:   "replay FILE",
		Short: "Step through a saved transcript or a captured conversation, or send it again to a server and compare the replies",
		Long: `replay shows a transcript saved with --record or :save (FILE.jsonl for JSON
Lines) as the shell showed it live: client lines, server replies and the
explanation of each. On a terminal it waits for Enter before each client
command; --all, or a stdin that is not a terminal, prints it whole.

FILE may also be a packet capture (pcap, pcapng, gzip-compressed): replay
decodes it as "smtpsh capture" does and plays one SMTP conversation, the
first or the one --conv N names ("smtpsh capture --summary FILE" lists them).

With --to host:port it sends the transcript's client lines to that server
instead, waiting for each reply as the shell does, and compares each reply's
code and enhanced code with the recorded one. Redacted lines (AUTH secrets)
cannot be sent: replay stops before the first one.

Exit status: 0 the replies matched (or the transcript was shown), 1 the file
could not be read or replay stopped early, 3 the connection could not be
opened, 4 a reply differed, 5 protocol error, 6 TLS failure.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReplay(cmd, args[0], &o)
		},
	}
	f := cmd.Flags()
	s := &o.shell
	f.BoolVar(&o.All, "all", false, "print the whole transcript at once instead of waiting for Enter")
	f.StringVar(&o.To, "to", "", "send the client lines to host[:port] and compare its replies with the recorded ones")
	f.IntVar(&o.Conv, "conv", 0, "for a capture file: the conversation `N` to play (as numbered by smtpsh capture)")
	f.BoolVar(&s.NoExplain, "no-explain", false, "do not print the one-line explanation after each reply")
	f.DurationVar(&s.Timeout, "timeout", shell.DefaultTimeout, "with --to: how long to wait to connect and for each reply")
	f.BoolVar(&s.TLS, "tls", false, "with --to: implicit TLS (RFC 8314), the default on port 465")
	f.StringVar(&s.Proxy, "proxy", "", "with --to: reach the server through http://… or socks5://… (default $SMTPSH_PROXY, then $ALL_PROXY)")
	f.BoolVar(&s.Insecure, "insecure", false, "with --to: go on when the server's certificate does not verify")
	f.StringVar(&s.CAFile, "ca", "", "with --to: trust the CA certificates in FILE (PEM) instead of the system's")
	f.StringVar(&s.ServerName, "servername", "", "with --to: the name to verify the certificate against and send as SNI")
	f.BoolVarP(&s.IPv4, "ipv4", "4", false, "with --to: connect over IPv4 only")
	f.BoolVarP(&s.IPv6, "ipv6", "6", false, "with --to: connect over IPv6 only")
	return cmd
}

// runReplay reads the transcript at path and shows it, or replays it
// against --to.
func runReplay(cmd *cobra.Command, path string, o *replayOptions) error {
	out := cmd.OutOrStdout()
	var t *transcripts.Transcript
	var err error
	if isCapture(path) {
		t, err = captureTranscript(cmd, path, o.Conv)
	} else {
		t, err = readTranscript(path)
	}
	if err != nil {
		return err
	}
	term := render.Detect(out, os.Getenv)
	if o.To == "" {
		opts := shell.ReplayOptions{Terminal: term, NoExplain: o.shell.NoExplain}
		if !o.All {
			if in, ok := cmd.InOrStdin().(*os.File); ok && isTerminal(in) {
				opts.Step = in
			}
		}
		return shell.Replay(out, t, opts)
	}
	addr, err := targetAddr(o.To)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	d, err := transportDialer(&o.shell, addr)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := shell.Config{
		Addr:      addr,
		EHLOName:  defaultEHLOName(),
		Timeout:   o.shell.Timeout,
		NoExplain: o.shell.NoExplain,
		Terminal:  term,
		Dialer:    d,
	}
	_, err = shell.ReplayTo(ctx, cfg, t, out)
	return err
}

// readTranscript parses the transcript at path: JSON Lines when the name
// ends in .jsonl, the text format otherwise. Errors name the file and,
// through *transcripts.ParseError, the line.
func readTranscript(path string) (*transcripts.Transcript, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	parse := transcripts.Parse
	if strings.HasSuffix(strings.ToLower(path), ".jsonl") {
		parse = transcripts.ParseJSONL
	}
	t, err := parse(f)
	if err != nil {
		var pe *transcripts.ParseError
		if errors.As(err, &pe) && pe.Line > 0 {
			pos := fmt.Sprintf("%s:%d", path, pe.Line)
			if pe.Column > 0 {
				pos += fmt.Sprintf(":%d", pe.Column)
			}
			return nil, fmt.Errorf("%s: %s", pos, pe.Msg)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// isTerminal reports whether f is a terminal, where replay waits for Enter.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// isCapture reports whether the file at path starts like a packet capture
// (pcap in either byte order and resolution, the modified pcap, pcapng) or
// a gzip stream, which a transcript never is.
func isCapture(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var m [4]byte
	if _, err := io.ReadFull(f, m[:]); err != nil {
		return false
	}
	switch {
	case m[0] == 0x1f && m[1] == 0x8b: // gzip
		return true
	case m == [4]byte{0x0a, 0x0d, 0x0d, 0x0a}: // pcapng section header
		return true
	}
	for _, magic := range []uint32{0xa1b2c3d4, 0xa1b23c4d, 0xa1b2cd34} {
		be := [4]byte{byte(magic >> 24), byte(magic >> 16), byte(magic >> 8), byte(magic)}
		le := [4]byte{be[3], be[2], be[1], be[0]}
		if m == be || m == le {
			return true
		}
	}
	return false
}

// captureTranscript decodes the capture at path and returns conversation
// conv (0: the first), telling on stderr which one it is when there are
// several.
func captureTranscript(cmd *cobra.Command, path string, conv int) (*transcripts.Transcript, error) {
	var mu sync.Mutex
	var convs []*capture.Conversation
	h := &capture.ConversationHandler{
		Options: capture.DecoderOptions{KeepTranscript: true, KeepData: true},
		Done: func(c *capture.Conversation) {
			mu.Lock()
			defer mu.Unlock()
			if conv == 0 || c.Info.ID == conv {
				convs = append(convs, c)
			}
		},
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	_, derr := capture.Decode(ctx, []string{path}, h, capture.Options{Detect: true})
	mu.Lock()
	defer mu.Unlock()
	if len(convs) == 0 {
		if derr != nil {
			return nil, fmt.Errorf("replay: %w", derr)
		}
		if conv > 0 {
			return nil, fmt.Errorf("replay: %s has no SMTP conversation %d (smtpsh capture --summary lists them)", path, conv)
		}
		return nil, fmt.Errorf("replay: %s holds no SMTP conversation", path)
	}
	if derr != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "smtpsh: %v (replaying what was decoded before it)\n", derr)
	}
	slices.SortFunc(convs, func(a, b *capture.Conversation) int { return a.Info.ID - b.Info.ID })
	c := convs[0]
	if conv == 0 && len(convs) > 1 {
		fmt.Fprintf(cmd.ErrOrStderr(), "smtpsh: %s holds %d SMTP conversations; replaying conversation %d (--conv N picks another)\n", path, len(convs), c.Info.ID)
	}
	// A capture holds AUTH secrets as sent; replay shows them redacted,
	// as every transcript (smtpsh capture --creds is for the secrets).
	return transcripts.Redact(c.Transcript), nil
}
