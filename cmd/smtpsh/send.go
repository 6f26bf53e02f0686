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

	"github.com/smtpsh/smtpsh/internal/config"
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
	XCLIENT                      string
	Target                       string
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
  smtpsh send --lmtp --server unix:/run/dovecot/lmtp --to u1@example.org,u2@example.org
  smtpsh send --pipe '/usr/sbin/sendmail -bs' --to bob@localhost
  smtpsh send --target work --to you@example.org

--server also takes unix:/path/to/socket; --pipe 'COMMAND' speaks to a
local program's standard input and output instead. --lmtp speaks LMTP (RFC
2033): LHLO, and after the message one reply per accepted recipient, each in
the JSON summary's "recipients"; the exit status is 0 when every recipient
got the message, 12 when none did, 14 when some did.

--target NAME takes the server, --user, --auth and other flags from
[targets.NAME] in $XDG_CONFIG_HOME/smtpsh/config.toml (flags on the command
line win); [defaults] applies to every run.

--xclient 'NAME=value ...' sends Postfix's XCLIENT after EHLO (and
STARTTLS), then EHLO again: the server treats the rest of the session as
coming from that client (Postfix allows it only from
smtpd_authorized_xclient_hosts).

The message is built from --from, --to, --cc, --subject, --header, --body and
--attach (MIME multipart; base64 for binary files, quoted-printable for
text), or taken as is from --data @FILE. Bcc recipients get the message but
appear in no header. --auth asks for the password without echo on a
terminal, or takes it from $SMTPSH_PASSWORD; --auth xoauth2 and oauthbearer
take a token from $SMTPSH_OAUTH_TOKEN, and --auth any picks the strongest
mechanism the server advertises (a token one when $SMTPSH_OAUTH_TOKEN is
set; PLAIN and LOGIN only over TLS).

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
	f.StringVar(&o.Server, "server", "", "the server, host[:port] (port 25 by default) or unix:/path/to/socket; default: the lab, in-process (--pipe: a program instead)")
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
	f.StringVar(&o.Auth, "auth", "", "authenticate with MECH as --user (RFC 4954): plain, login, cram-md5, scram-sha-1, scram-sha-256, xoauth2, oauthbearer, or any (the strongest advertised)")
	f.StringVar(&o.User, "user", "", "the user name for --auth")
	f.StringVar(&o.XCLIENT, "xclient", "", `send Postfix XCLIENT with these attributes after EHLO, then EHLO again: 'NAME=value ...' (ADDR NAME PORT PROTO HELO LOGIN DESTADDR DESTPORT)`)
	f.StringVar(&o.Target, "target", "", "take the server and flags from [targets.NAME] of the configuration file; flags given here win")
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
	target, err := sendConfig(cmd, o)
	if err != nil {
		return err
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
		LMTP:      so.LMTP,
	}
	if target != nil {
		fmt.Fprintf(shown, "smtpsh: target %s is %s\n", render.Escape(target.Name), render.Escape(o.Server))
	}
	if o.Server != "" || so.Pipe != "" {
		addr := "pipe:" + so.Pipe
		if so.Pipe == "" {
			if addr, err = targetAddr(o.Server); err != nil {
				return usageErr(fmt.Errorf("--server %w", err))
			}
		} else if o.Server != "" {
			return usageErr(errors.New("--pipe and --server do not go together: the program is the server"))
		}
		// shellDialer reaches unix:/path sockets and piped programs
		// too (internal/dial), with TLS and STARTTLS over them.
		d, err := shellDialer(so, addr)
		if err != nil {
			return usageErr(err)
		}
		cfg.Addr, cfg.Dialer = addr, d
		if so.LMTP {
			fmt.Fprintln(shown, "smtpsh: LMTP (RFC 2033): LHLO, then one reply per accepted recipient after the message (§4.2)")
		}
	} else {
		if so.LMTP {
			return usageErr(errors.New("--lmtp needs --server (often unix:/path) or --pipe: the lab speaks SMTP, not LMTP"))
		}
		l, err := startShellLab("default")
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
		if err := sendSecret(cmd, opts.Auth, opts.User); err != nil {
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
		EHLO: ehlo, LMTP: so.LMTP, XCLIENT: o.XCLIENT,
		From: fromBox, Recipients: rcpts,
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

// sendConfig applies the configuration file (internal/config): its
// [defaults] to every flag the command line did not set, then, with
// --target NAME, the target's server, user, auth and other flags the same
// way, so that the command line wins over the target and the target over
// the defaults. The target's password_env and token_env fill
// $SMTPSH_PASSWORD and $SMTPSH_OAUTH_TOKEN, in this process only, when
// they are unset. It returns the target, nil without --target.
func sendConfig(cmd *cobra.Command, o *sendOptions) (*config.Target, error) {
	c, err := config.Load(os.Getenv)
	if err != nil {
		return nil, usageErr(fmt.Errorf("configuration: %w", err))
	}
	fs := cmd.Flags()
	if err := config.ApplyFlags(fs, "defaults", defaultsFor(fs, c.Defaults)); err != nil {
		return nil, usageErr(fmt.Errorf("%s: %w", c.Path, err))
	}
	if o.Target == "" {
		return nil, nil
	}
	t, err := c.Target(o.Target)
	if err != nil {
		return nil, usageErr(fmt.Errorf("--target: %w", err))
	}
	values := map[string]any{}
	for k, v := range t.Flags {
		values[k] = v
	}
	for k, v := range map[string]string{"server": t.Server, "user": t.User, "auth": t.Auth} {
		if v != "" {
			values[k] = v
		}
	}
	if err := config.ApplyFlags(fs, "targets."+t.Name, values); err != nil {
		return nil, usageErr(fmt.Errorf("%s: %w", c.Path, err))
	}
	for env, token := range map[string]bool{shell.PasswordEnv: false, shell.TokenEnv: true} {
		if os.Getenv(env) == "" {
			if v := t.Secret(os.Getenv, token); v != "" {
				if err := os.Setenv(env, v); err != nil {
					return nil, fmt.Errorf("--target: %w", err)
				}
			}
		}
	}
	return t, nil
}

// sendSecret makes the password (or, for xoauth2 and oauthbearer, the
// bearer token) for --auth available to the shell's :auth, which reads
// $SMTPSH_PASSWORD or $SMTPSH_OAUTH_TOKEN when no person types at its
// prompt: asked here without echo when stdin is a terminal and the
// variable is unset. --auth any takes the token when one is set (as :auth
// any does), else a password.
func sendSecret(cmd *cobra.Command, mech, user string) error {
	env, what := shell.PasswordEnv, "password"
	switch strings.ToLower(mech) {
	case "xoauth2", "oauthbearer":
		env, what = shell.TokenEnv, "token"
	case "any":
		if os.Getenv(shell.TokenEnv) != "" {
			return nil
		}
	}
	if p, ok := os.LookupEnv(env); ok && p != "" {
		return nil
	}
	f, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return usageErr(fmt.Errorf("--auth %s: no %s: set %s, or run on a terminal to be asked (a %s is never taken from the command line)", mech, what, env, what))
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s for %s: ", what, render.Escape(user))
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return fmt.Errorf("--auth: reading the %s: %w", what, err)
	}
	// The shell's :auth takes a scripted secret from this variable; it
	// is set in this process only, for the session it runs.
	return os.Setenv(env, string(b))
}
