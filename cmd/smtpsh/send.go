package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/smtpsh/smtpsh/internal/dial"
	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/internal/send"
	"github.com/smtpsh/smtpsh/shell"
)

// sendOptions are the flags of `smtpsh send`; the connection flags are the
// shell's (addShellFlags).
type sendOptions struct {
	shell sendShell

	Server                       string
	From                         string
	To, Cc, Bcc                  []string
	Headers                      []string
	Subject, Body, Data          string
	Attach                       []string
	EightBitMIME, SMTPUTF8, BDAT bool
	Notify, Ret, EnvID           string
	RequireTLS, Pipeline         bool
	QuitAfter                    string
	Auth, User                   string
	Explain, Quiet, JSON         bool
}

// sendShell is the shell's flag set, shared with the root command.
type sendShell = shellOptions

const sendLong = `send sends one message in one session, from flags, the way swaks does: the
conversation is printed as the shell prints it (explanations with --explain),
checked at every step, and the first refusal ends it with QUIT and an exit
status that names the phase.

With no --server it starts the practice lab in-process, so a fresh machine
can try it:

  smtpsh send --to bob@lab.smtpsh.test
  smtpsh send --server mail.example.org:587 --starttls --auth plain --user me \
      --from me@example.org --to you@example.org --subject hi --body @note.txt \
      --attach report.pdf
  smtpsh send --server 127.0.0.1:2525 --to a@example.org --quit-after rcpt --json

The message is built from --from, --to, --cc, --subject, --header, --body and
--attach (MIME multipart; base64 for binary files, quoted-printable for
text), or taken as is from --data @FILE. Bcc recipients get the message but
appear in no header. --auth asks for the password without echo on a
terminal, or takes it from $SMTPSH_PASSWORD.

`

// newSendCmd builds `smtpsh send`.
func newSendCmd() *cobra.Command {
	var o sendOptions
	cmd := &cobra.Command{
		Use:   "send [flags]",
		Short: "Send one message from flags, like swaks, with the conversation explained",
		Long:  sendLong + send.ExitHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSend(cmd, &o)
		},
	}
	// The connection flags (--tls, --starttls, --proxy, --timeout, -4,
	// -6, …), --ehlo and --record are the shell's: one flag set.
	addShellFlags(cmd, &o.shell)
	for _, name := range []string{"command", "script", "no-explain"} {
		_ = cmd.Flags().MarkHidden(name)
	}
	f := cmd.Flags()
	f.StringVar(&o.Server, "server", "", "the server, host[:port] (port 25 by default); default: the lab, in-process")
	f.StringVar(&o.From, "from", "", `the sender, in MAIL FROM and the From header; "<>" is the null sender (default: $USER@ the EHLO name)`)
	f.StringArrayVar(&o.To, "to", nil, "a recipient, in RCPT TO and the To header (repeatable, comma lists)")
	f.StringArrayVar(&o.Cc, "cc", nil, "a recipient in the Cc header (repeatable, comma lists)")
	f.StringArrayVar(&o.Bcc, "bcc", nil, "a recipient in RCPT TO only, in no header (repeatable, comma lists)")
	f.StringArrayVar(&o.Headers, "header", nil, `a header field, "Name: value"; replaces a field of that name (repeatable)`)
	f.StringVar(&o.Subject, "subject", "", `the Subject (default "test <date>")`)
	f.StringVar(&o.Body, "body", "", "the body: TEXT, @FILE, or - for stdin (default: one line of text)")
	f.StringArrayVar(&o.Attach, "attach", nil, "attach FILE (repeatable); the type comes from its extension, else its bytes")
	f.StringVar(&o.Data, "data", "", "send a whole message as is: @FILE, - for stdin, or TEXT (no --subject, --body, --attach, --header)")
	f.BoolVar(&o.EightBitMIME, "8bitmime", false, "MAIL ... BODY=8BITMIME (RFC 6152); a UTF-8 body goes as 8bit instead of quoted-printable")
	f.BoolVar(&o.SMTPUTF8, "smtputf8", false, "MAIL ... SMTPUTF8 (RFC 6531): UTF-8 in addresses and header fields")
	f.BoolVar(&o.BDAT, "bdat", false, "send the message with BDAT (CHUNKING, RFC 3030) instead of DATA, when the server offers it")
	f.StringVar(&o.Notify, "notify", "", "DSN: RCPT ... NOTIFY= NEVER, or SUCCESS,FAILURE,DELAY (RFC 3461)")
	f.StringVar(&o.Ret, "ret", "", "DSN: MAIL ... RET= FULL or HDRS (RFC 3461)")
	f.StringVar(&o.EnvID, "envid", "", "DSN: MAIL ... ENVID= this id, xtext-encoded (RFC 3461)")
	f.BoolVar(&o.RequireTLS, "requiretls", false, "MAIL ... REQUIRETLS (RFC 8689)")
	f.BoolVar(&o.Pipeline, "pipeline", false, "send MAIL and the RCPTs in one write when the server offers PIPELINING (RFC 2920)")
	f.StringVar(&o.QuitAfter, "quit-after", "", "stop after this phase and QUIT: "+send.QuitAfterPhases)
	f.StringVar(&o.Auth, "auth", "", "authenticate with MECH (plain, login, cram-md5) as --user (RFC 4954)")
	f.StringVar(&o.User, "user", "", "the user name for --auth")
	f.BoolVar(&o.Explain, "explain", false, "print the one-line explanation after each reply")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "print nothing but errors")
	f.BoolVar(&o.JSON, "json", false, "print a JSON summary instead of the conversation")
	return cmd
}

// runSend checks the flags, builds the message and runs the session.
func runSend(cmd *cobra.Command, o *sendOptions) error {
	so := &o.shell
	if len(so.Commands) > 0 || so.Script != "" {
		return usageErr(errors.New("-c and --script are the shell's: send builds its own lines"))
	}
	if so.StartTLS && so.TLS {
		return usageErr(errors.New("--tls and --starttls do not go together: implicit TLS is already encrypted from the start"))
	}
	if o.Quiet && o.JSON {
		return usageErr(errors.New("-q and --json do not go together"))
	}
	opts, err := sendPlan(cmd, o)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	out := cmd.OutOrStdout()
	shown := out
	if o.Quiet || o.JSON {
		shown = io.Discard
	}
	cfg := shell.Config{
		Timeout:   so.Timeout,
		NoExplain: !o.Explain,
		Terminal:  render.Detect(shown, os.Getenv),
	}
	if o.Server != "" {
		addr, err := targetAddr(o.Server)
		if err != nil {
			return usageErr(fmt.Errorf("--server %w", err))
		}
		d, err := transportDialer(so, addr)
		if err != nil {
			return usageErr(err)
		}
		cfg.Addr, cfg.Dialer = addr, d
	} else {
		l, err := startShellLab()
		if err != nil {
			return fmt.Errorf("starting the lab: %w", err)
		}
		defer l.stop()
		if so.TLS {
			return usageErr(errors.New("--tls needs --server: the in-process lab speaks STARTTLS"))
		}
		cfg.Addr, cfg.Name = l.addr, "lab:"+l.port
		cfg.Dialer = &shell.TransportDialer{Options: dial.Options{
			Timeout:   so.Timeout,
			TLSConfig: dial.TLSOptions{RootCAs: l.roots},
		}}
		fmt.Fprintf(shown, "smtpsh: no --server: sending to the lab (profile %s) at %s\n", l.profile, l.addr)
	}
	if opts.Auth != "" {
		if err := sendPassword(cmd, opts.User); err != nil {
			return err
		}
	}
	res, runErr := send.Run(ctx, cfg, *opts, shown)
	if res == nil {
		return runErr
	}
	if so.Record != "" {
		if err := shell.WriteTranscript(so.Record, res.Transcript); err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("--record: %w", err))
		}
		res.Summary.Transcript = so.Record
	}
	if o.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res.Summary); err != nil {
			return errors.Join(runErr, err)
		}
	}
	return runErr
}

// usageErr is a bad flag: exit status 1.
func usageErr(err error) error { return &shell.ExitError{Code: send.ExitUsage, Err: err} }

// inputErr is a file or address that cannot be used: exit status 2.
func inputErr(err error) error { return &shell.ExitError{Code: send.ExitInput, Err: err} }

// sendPlan turns the flags into the session's options, with the message
// built (or read) when the session goes as far as sending it.
func sendPlan(cmd *cobra.Command, o *sendOptions) (*send.Options, error) {
	so := &o.shell
	ehlo := so.EHLO
	if ehlo == "" {
		ehlo = defaultEHLOName()
	}
	quit := send.PhaseNone
	if o.QuitAfter != "" {
		p, err := send.ParsePhase(o.QuitAfter)
		if err != nil {
			return nil, usageErr(fmt.Errorf("--quit-after %w", err))
		}
		quit = p
	}
	if o.Data != "" && (o.Subject != "" || o.Body != "" || len(o.Attach) > 0 || len(o.Headers) > 0) {
		return nil, usageErr(errors.New("--data sends a whole message as is: it does not go with --subject, --body, --attach or --header"))
	}
	if o.Body == "-" && o.Data == "-" {
		return nil, usageErr(errors.New("--body - and --data - both read stdin"))
	}
	from := o.From
	if from == "" {
		name := "smtpsh"
		if u, err := user.Current(); err == nil && u.Username != "" && !strings.ContainsAny(u.Username, " \\@") {
			name = u.Username
		}
		from = name + "@" + strings.Trim(ehlo, "[]")
	}
	fromHeader, fromBox, err := send.ParseSender(from, o.SMTPUTF8)
	if err != nil {
		return nil, inputErr(fmt.Errorf("mail: %w", err))
	}
	to, err := send.ParseAddresses("--to", o.To, o.SMTPUTF8)
	if err != nil {
		return nil, inputErr(fmt.Errorf("rcpt: %w", err))
	}
	cc, err := send.ParseAddresses("--cc", o.Cc, o.SMTPUTF8)
	if err != nil {
		return nil, inputErr(fmt.Errorf("rcpt: %w", err))
	}
	bcc, err := send.ParseAddresses("--bcc", o.Bcc, o.SMTPUTF8)
	if err != nil {
		return nil, inputErr(fmt.Errorf("rcpt: %w", err))
	}
	var rcpts []string
	for _, l := range [][]send.Recipient{to, cc, bcc} {
		for _, r := range l {
			rcpts = append(rcpts, r.Mailbox)
		}
	}
	if len(rcpts) == 0 && (quit == send.PhaseNone || quit > send.PhaseMail) {
		return nil, usageErr(errors.New("no recipient: --to, --cc or --bcc (repeatable, comma lists)"))
	}
	opts := &send.Options{
		EHLO: ehlo, From: fromBox, Recipients: rcpts,
		StartTLS: so.StartTLS, Auth: o.Auth, User: o.User,
		EightBitMIME: o.EightBitMIME, SMTPUTF8: o.SMTPUTF8, RequireTLS: o.RequireTLS,
		BDAT: o.BDAT, Pipeline: o.Pipeline,
		Notify: o.Notify, Ret: o.Ret, EnvID: o.EnvID,
		QuitAfter: quit,
	}
	if err := opts.Check(); err != nil {
		return nil, usageErr(err)
	}
	if quit != send.PhaseNone && quit < send.PhaseDot && o.Data == "" && o.Body == "" && len(o.Attach) == 0 {
		return opts, nil // the session stops before the message: none to build
	}
	if o.Data != "" {
		msg, err := send.ReadText(o.Data, cmd.InOrStdin())
		if err != nil {
			return nil, inputErr(fmt.Errorf("data: --data: %w", err))
		}
		if len(msg) == 0 {
			return nil, inputErr(errors.New("data: --data: the message is empty"))
		}
		opts.Message = msg
		return opts, nil
	}
	c := send.Content{
		From: fromHeader, Subject: o.Subject, Headers: o.Headers,
		EightBit: o.EightBitMIME, UTF8: o.SMTPUTF8,
		Domain: strings.Trim(ehlo, "[]"), Now: time.Now(),
	}
	if fromHeader == "" {
		c.From = "MAILER-DAEMON@" + c.Domain
	}
	for _, r := range to {
		c.To = append(c.To, r.Header)
	}
	for _, r := range cc {
		c.Cc = append(c.Cc, r.Header)
	}
	if c.Subject == "" {
		c.Subject = "test " + c.Now.Format(time.RFC1123Z)
	}
	c.Body = []byte("This is a test message sent by smtpsh send.\n")
	if o.Body != "" {
		if c.Body, err = send.ReadText(o.Body, cmd.InOrStdin()); err != nil {
			return nil, inputErr(fmt.Errorf("data: --body: %w", err))
		}
	}
	for _, path := range o.Attach {
		a, err := send.ReadAttachment(path)
		if err != nil {
			return nil, inputErr(fmt.Errorf("data: --attach: %w", err))
		}
		c.Attachments = append(c.Attachments, a)
	}
	if opts.Message, err = send.Build(c); err != nil {
		return nil, inputErr(fmt.Errorf("data: %w", err))
	}
	return opts, nil
}

// sendPassword makes the password for --auth available to the shell's
// :auth, which reads $SMTPSH_PASSWORD when no person types at its prompt:
// asked here without echo when stdin is a terminal and the variable is
// unset.
func sendPassword(cmd *cobra.Command, user string) error {
	if p, ok := os.LookupEnv(shell.PasswordEnv); ok && p != "" {
		return nil
	}
	f, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return usageErr(fmt.Errorf("--auth: no password: set %s, or run on a terminal to be asked (a password is never taken from the command line)", shell.PasswordEnv))
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "password for %s: ", render.Escape(user))
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return fmt.Errorf("--auth: reading the password: %w", err)
	}
	// The shell's :auth takes a scripted password from this variable; it
	// is set in this process only, for the session it runs.
	return os.Setenv(shell.PasswordEnv, string(b))
}
