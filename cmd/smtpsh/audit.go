package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/smtpsh/smtpsh/internal/audit"
	"github.com/smtpsh/smtpsh/internal/dial"
	"github.com/smtpsh/smtpsh/internal/render"
)

// auditOptions are the flags of `smtpsh audit`; the connection flags are
// the shell's (shellOptions, transportDialer).
type auditOptions struct {
	shell      shellOptions
	Checks     string
	UsersFile  string
	Domain     string
	Method     string
	Rate       float64
	Send       bool
	IOwn       bool
	Yes        bool
	Format     string
	JSON       bool
	LabProfile string
	Quiet      bool
}

// auditTransportFlags are the shell's flags that `smtpsh audit` shares.
var auditTransportFlags = []string{"timeout", "tls", "starttls", "proxy", "insecure", "ca", "servername",
	"client-cert", "client-key", "tls-min", "proxy-protocol", "ipv4", "ipv6", "ehlo"}

// defaultAuditUsers are tried when --users is not given: the names every
// enumeration wordlist starts with, and the lab's directory.
var defaultAuditUsers = []string{"root", "admin", "postmaster", "alice", "bob", "team", "test", "info"}

func newAuditCmd() *cobra.Command {
	o := &auditOptions{}
	cmd := &cobra.Command{
		Use:   "audit [host[:port]]",
		Short: "Fingerprint a server, enumerate users, test for an open relay and SMTP smuggling",
		Long: `smtpsh audit probes an SMTP server as a footprinting course does, and says why it
concludes what it concludes: every verdict comes with the reply that decided it.

  fingerprint  banner, EHLO, HELP and the wording of errors to harmless probes,
               matched against Postfix, Exim, Sendmail, Exchange, OpenSMTPD, qmail,
               Haraka and the smtpsh lab
  enum         VRFY, EXPN or RCPT (--method; auto tries them in order and says why it
               moved on); a random name first: if it "exists", the method proves
               nothing; 252 is "unknown" (RFC 5321 §3.5.3)
  relay        nmap smtp-open-relay's 16 patterns, RSET between them, never past RCPT
               unless --send (which only the smtpsh lab on loopback accepts)
  smuggle      the end-of-data look-alikes of CVE-2023-51764/51765/51766, one message
               each; only against the lab unless --i-own-this-server

With no host it audits the practice lab, started in-process (--lab-profile).
A target that is not this machine needs --yes or a confirmation.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runAudit(cmd, args, o) },
	}
	// The connection flags are the shell's own definitions.
	tmp := &cobra.Command{}
	addShellFlags(tmp, &o.shell)
	for _, name := range auditTransportFlags {
		cmd.Flags().AddFlag(tmp.Flags().Lookup(name))
	}
	f := cmd.Flags()
	f.StringVar(&o.Checks, "checks", "fingerprint,enum,relay,smuggle", "which checks to run, comma-separated")
	f.StringVar(&o.UsersFile, "users", "", "user names to look for, one a line (default: a short built-in list)")
	f.StringVar(&o.Domain, "domain", "", "the domain for user@domain forms (default: the name the server gives itself)")
	f.StringVar(&o.Method, "method", "auto", "enumeration method: vrfy, expn, rcpt or auto")
	f.Float64Var(&o.Rate, "rate", 0, "at most N commands a second (0: no limit)")
	f.BoolVar(&o.Send, "send", false, "relay test: send a test message for each accepted pattern (the smtpsh lab only)")
	f.BoolVar(&o.IOwn, "i-own-this-server", false, "allow the smuggling probe (it delivers messages) against a server that is not the lab")
	f.BoolVarP(&o.Yes, "yes", "y", false, "do not ask before auditing a server that is not on this machine")
	f.StringVar(&o.Format, "format", "text", "report format: text or md")
	f.BoolVar(&o.JSON, "json", false, "write the report as JSON")
	f.StringVar(&o.LabProfile, "lab-profile", "default", "with no host: the lab profile to audit")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "do not print the probes as they go, only the report")
	return cmd
}

func runAudit(cmd *cobra.Command, args []string, o *auditOptions) error {
	out := cmd.OutOrStdout()
	switch o.Format {
	case "text", "md", "markdown":
	default:
		return fmt.Errorf("--format %q: want text or md", o.Format)
	}
	checks, err := audit.ParseChecks(o.Checks)
	if err != nil {
		return fmt.Errorf("--checks: %w", err)
	}
	method, err := audit.ParseMethod(o.Method)
	if err != nil {
		return fmt.Errorf("--method: %w", err)
	}
	users := defaultAuditUsers
	if o.UsersFile != "" {
		if users, err = readUsers(o.UsersFile); err != nil {
			return err
		}
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := audit.Config{Rate: o.Rate, Timeout: o.shell.Timeout, StartTLS: o.shell.StartTLS, EHLOName: o.shell.EHLO}
	if o.shell.StartTLS && o.shell.TLS {
		return errors.New("--tls and --starttls do not go together")
	}
	if len(args) > 0 {
		addr, err := targetAddr(args[0])
		if err != nil {
			return err
		}
		d, err := transportDialer(&o.shell, addr)
		if err != nil {
			return err
		}
		cfg.Addr, cfg.Dial = addr, d.Options
	} else {
		l, err := startShellLab(o.LabProfile)
		if err != nil {
			return fmt.Errorf("starting the lab: %w", err)
		}
		defer l.stop()
		cfg.Addr = l.addr
		cfg.Dial = dial.Options{Timeout: o.shell.Timeout, TLSConfig: dial.TLSOptions{RootCAs: l.roots}}
		fmt.Fprintf(cmd.ErrOrStderr(), "smtpsh audit: no host given: auditing the lab (profile %s) at %s\n", l.profile, l.addr)
	}

	scope := audit.ScopeOf(ctx, cfg.Addr, cfg.Dial.Proxy, nil)
	fmt.Fprintln(cmd.ErrOrStderr(), "smtpsh audit: "+render.Escape(scope.Summary))
	if scope.NeedsConfirmation && !o.Yes {
		if err := confirm(cmd.InOrStdin(), cmd.ErrOrStderr()); err != nil {
			return err
		}
	}
	if !o.Quiet && !o.JSON {
		cfg.Out = out
		cfg.Terminal = render.Detect(out, os.Getenv)
	}
	a, err := audit.New(cfg)
	if err != nil {
		return err
	}
	rep, err := a.Run(ctx, audit.RunOptions{
		Checks:  checks,
		Enum:    audit.EnumOptions{Users: users, Method: method, Domain: o.Domain},
		Relay:   audit.RelayOptions{Send: o.Send},
		Smuggle: audit.SmuggleOptions{IOwnThisServer: o.IOwn},
	})
	if rep == nil {
		return err
	}
	var werr error
	switch {
	case o.JSON:
		werr = rep.WriteJSON(out)
	case o.Format == "text":
		werr = rep.WriteText(out)
	default:
		werr = rep.WriteMarkdown(out)
	}
	return errors.Join(err, werr)
}

// maxUsersFile bounds --users.
const maxUsersFile = 4 << 20

func readUsers(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("--users: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxUsersFile+1))
	if err != nil {
		return nil, fmt.Errorf("--users: %w", err)
	}
	if len(b) > maxUsersFile {
		return nil, fmt.Errorf("--users %s: larger than %d bytes", name, maxUsersFile)
	}
	users, err := audit.ParseUsers(string(b))
	if err != nil {
		return nil, fmt.Errorf("--users %s: %w", name, err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("--users %s: no user names in it", name)
	}
	return users, nil
}

// confirm asks once whether to go on; anything but y/yes refuses.
func confirm(in io.Reader, errOut io.Writer) error {
	fmt.Fprint(errOut, "Audit a server that is not on this machine? Only audit servers you are allowed to test. [y/N] ")
	line, _ := bufio.NewReader(io.LimitReader(in, 256)).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errors.New("not confirmed: nothing was sent (--yes skips the question)")
}
