package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/smtpsh/smtpsh/internal/config"
	"github.com/smtpsh/smtpsh/internal/dial"
	"github.com/smtpsh/smtpsh/internal/lab/selfsigned"
	"github.com/smtpsh/smtpsh/internal/lab/store"
	"github.com/smtpsh/smtpsh/internal/render"
	"github.com/smtpsh/smtpsh/shell"
)

// shellOptions are the flags of the shell, `smtpsh [flags] [host[:port]]`.
type shellOptions struct {
	Commands  []string
	Script    string
	EHLO      string
	Timeout   time.Duration
	NoExplain bool
	Record    string

	// Transport (internal/dial).
	TLS        bool
	StartTLS   bool
	Proxy      string
	Insecure   bool
	CAFile     string
	ServerName string
	IPv4, IPv6 bool
	ClientCert string
	ClientKey  string
	TLSMin     string
	ProxyProto string
	// LMTP speaks LMTP (RFC 2033): LHLO, one reply per recipient after
	// the end of data.
	LMTP bool
	// Pipe is a command to speak SMTP to on its stdin/stdout.
	Pipe string
}

// shellHelp documents the shell's input modes and exit statuses; it is
// appended to the root command's help by addShellFlags.
const shellHelp = `

The shell: smtpsh [flags] [host[:port]] connects to host (port 25 by default)
and sends what you type, explaining every reply. With no host it starts the
practice lab in-process on a loopback port and connects to it. The host may
be a Unix socket, unix:/path/to/socket (LMTP servers listen on them: add
--lmtp), and --pipe 'COMMAND' speaks to a local program instead.

Lines come from the terminal (readline, Tab completion, history), from -c
(repeatable), from --script FILE, or from a stdin that is not a terminal.
In -c and scripts, "expect CODE" checks the last reply ("expect 250",
"expect 2xx"), also inside DATA; blank lines and lines starting with # are
skipped outside DATA. At the end of the input the shell sends QUIT. Type
:help in the shell for its own commands (:explain, :info, :raw, :save, :quit).

Exit status:
  0  every expectation held and the session ended cleanly
  1  bad usage or another error
  3  the connection could not be opened
  4  an expectation failed (the shell then sends QUIT)
  5  protocol error: no reply in time, the server closed unexpectedly, or an unreadable reply
  6  TLS failure: the handshake failed or the certificate did not verify
     (--insecure goes on and still says why)`

// addShellFlags adds the shell's flags to cmd (the root command) and the
// help section about them and the exit statuses.
func addShellFlags(cmd *cobra.Command, o *shellOptions) {
	f := cmd.Flags()
	f.StringArrayVarP(&o.Commands, "command", "c", nil, `send this line, then the next -c; "expect CODE" checks the last reply (repeatable)`)
	f.StringVar(&o.Script, "script", "", "read lines (and expect lines) from FILE instead of the terminal")
	f.StringVar(&o.EHLO, "ehlo", "", "the name EHLO and HELO completion offers (default: this machine's name)")
	f.DurationVar(&o.Timeout, "timeout", shell.DefaultTimeout, "how long to wait to connect and for each reply")
	f.BoolVar(&o.NoExplain, "no-explain", false, "do not print the one-line explanation after each reply")
	f.StringVar(&o.Record, "record", "", "write the session's transcript to FILE (secrets redacted)")
	f.BoolVar(&o.TLS, "tls", false, "implicit TLS (RFC 8314), the default on port 465")
	f.BoolVar(&o.StartTLS, "starttls", false, "upgrade to TLS right after the first EHLO, then send it again (RFC 3207); exit 6 if the server cannot")
	f.StringVar(&o.Proxy, "proxy", "", "reach the server through http://[user:pass@]host:port (HTTP CONNECT) or socks5://… / socks5h://…; "+
		"default $SMTPSH_PROXY, then $ALL_PROXY. Not the HAProxy PROXY protocol that swaks' --proxy means")
	f.BoolVar(&o.Insecure, "insecure", false, "go on when the server's certificate does not verify (what failed is still shown)")
	f.StringVar(&o.CAFile, "ca", "", "trust the CA certificates in FILE (PEM) instead of the system's")
	f.StringVar(&o.ServerName, "servername", "", "the name to verify the certificate against and send as SNI (default: the host)")
	f.StringVar(&o.ClientCert, "client-cert", "", "present this client certificate (PEM) in the TLS handshake")
	f.StringVar(&o.ClientKey, "client-key", "", "the private key (PEM) for --client-cert")
	f.StringVar(&o.TLSMin, "tls-min", "", `lowest TLS version to accept: "1.2" (the default) or "1.3"`)
	f.StringVar(&o.ProxyProto, "proxy-protocol", "", `send an HAProxy PROXY protocol header first: "v1" or "v2" (what swaks' --proxy does)`)
	f.BoolVar(&o.LMTP, "lmtp", false, "speak LMTP (RFC 2033): LHLO instead of EHLO, one reply per accepted recipient after the final dot; targets are often unix:/path sockets")
	f.StringVar(&o.Pipe, "pipe", "", `speak SMTP to COMMAND's standard input and output instead of connecting, e.g. --pipe '/usr/sbin/sendmail -bs'`)
	f.BoolVarP(&o.IPv4, "ipv4", "4", false, "connect over IPv4 only")
	f.BoolVarP(&o.IPv6, "ipv6", "6", false, "connect over IPv6 only")
	if !strings.Contains(cmd.Long, "Exit status:") {
		cmd.Long += shellHelp
	}
}

// defaultEHLOName is this machine's name, as RFC 5321 §4.1.1.1 wants in
// EHLO, or "localhost" when it has none.
func defaultEHLOName() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// runShell runs the shell against args[0], or against a lab started
// in-process when there is no argument. Its error is a *shell.ExitError
// when a particular exit status applies.
func runShell(cmd *cobra.Command, args []string, o *shellOptions) error {
	if len(o.Commands) > 0 && o.Script != "" {
		return errors.New("-c and --script do not go together: put the lines in the script")
	}
	out := cmd.OutOrStdout()
	args, err := applyConfig(cmd, args, out)
	if err != nil {
		return err
	}
	if o.StartTLS && o.TLS {
		return errors.New("--tls and --starttls do not go together: implicit TLS is already encrypted from the start")
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	// Ctrl-C on a script ends the session and still writes --record; on
	// a terminal readline takes Ctrl-C as a key, which clears the line.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ehlo := o.EHLO
	if ehlo == "" {
		ehlo = defaultEHLOName()
	}
	cfg := shell.Config{
		EHLOName:  ehlo,
		Timeout:   o.Timeout,
		NoExplain: o.NoExplain,
		StartTLS:  o.StartTLS,
		Terminal:  render.Detect(out, os.Getenv),
	}
	if o.Pipe != "" && len(args) == 0 {
		// The program is the server: no lab, no host.
		args = []string{"pipe"}
	}
	if len(args) > 0 {
		addr, err := targetAddr(args[0])
		if o.Pipe != "" {
			addr, err = "pipe:"+o.Pipe, nil
		}
		if err != nil {
			return err
		}
		cfg.Addr = addr
		d, err := shellDialer(o, addr)
		if err != nil {
			return err
		}
		cfg.Dialer = d
		if o.LMTP {
			cfg.LMTP = true
			fmt.Fprintln(out, "smtpsh: LMTP (RFC 2033): greet with LHLO; after the final dot each accepted RCPT gets its own reply, in RCPT order (§4.2)")
		}
	} else {
		l, err := startShellLab("default")
		if err != nil {
			return fmt.Errorf("starting the lab: %w", err)
		}
		defer l.stop()
		cfg.Addr = l.addr
		// The shell trusts the certificate the lab just made, so STARTTLS
		// verifies without --insecure, as it would with a real CA.
		cfg.Dialer = &shell.TransportDialer{Options: dial.Options{
			Timeout:   o.Timeout,
			TLSConfig: dial.TLSOptions{RootCAs: l.roots},
		}}
		cfg.Name = "lab:" + l.port
		fmt.Fprintf(out, "smtpsh: no host given: practising on the lab (profile %s) at %s; smtpsh HOST connects elsewhere\n", l.profile, l.addr)
	}

	in, err := shellInput(cmd, o)
	if err != nil {
		return err
	}
	defer in.Close()
	s, err := shell.New(cfg)
	if err != nil {
		return err
	}
	runErr := s.Run(ctx, in)
	if o.Record != "" {
		if err := shell.WriteTranscript(o.Record, s.Transcript()); err != nil {
			return errors.Join(runErr, fmt.Errorf("--record: %w", err))
		}
	}
	return runErr
}

// shellInput picks where lines come from: -c, --script, a stdin that is
// not a terminal, or readline on the terminal.
func shellInput(cmd *cobra.Command, o *shellOptions) (shell.LineReader, error) {
	out := cmd.OutOrStdout()
	switch {
	case len(o.Commands) > 0:
		return shell.Lines(out, o.Commands...), nil
	case o.Script != "":
		f, err := os.Open(o.Script)
		if err != nil {
			return nil, fmt.Errorf("--script: %w", err)
		}
		return closeWith(shell.NewScanner(f, o.Script, out), f), nil
	}
	stdin := cmd.InOrStdin()
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		// readline reads os.Stdin itself, through a reader its Close can
		// cancel.
		rl, err := shell.NewReadline(shell.ReadlineConfig{Stdout: out, Stderr: cmd.ErrOrStderr()})
		if err != nil {
			return nil, err
		}
		return rl, nil
	}
	return shell.NewScanner(stdin, "stdin", out), nil
}

// closeWith makes a LineReader's Close also close c.
func closeWith(r shell.LineReader, c io.Closer) shell.LineReader {
	return &closingReader{LineReader: r, c: c}
}

type closingReader struct {
	shell.LineReader
	c io.Closer
}

func (r *closingReader) Close() error {
	return errors.Join(r.LineReader.Close(), r.c.Close())
}

// transportDialer turns the transport flags into the shell's dialer.
func transportDialer(o *shellOptions, addr string) (*shell.TransportDialer, error) {
	if o.IPv4 && o.IPv6 {
		return nil, errors.New("-4 and -6 do not go together")
	}
	switch o.TLSMin {
	case "", "1.2", "1.3":
	default:
		return nil, fmt.Errorf("--tls-min %q: want 1.2 or 1.3", o.TLSMin)
	}
	switch o.ProxyProto {
	case "", "v1", "v2":
	default:
		return nil, fmt.Errorf("--proxy-protocol %q: want v1 or v2", o.ProxyProto)
	}
	if (o.ClientCert == "") != (o.ClientKey == "") {
		return nil, errors.New("--client-cert and --client-key go together")
	}
	network := "tcp"
	switch {
	case o.IPv4:
		network = "tcp4"
	case o.IPv6:
		network = "tcp6"
	}
	proxy := o.Proxy
	if proxy == "" {
		proxy = dial.ProxyFromEnv(os.Getenv)
	}
	_, port, _ := net.SplitHostPort(addr)
	return &shell.TransportDialer{Options: dial.Options{
		Network: network,
		Timeout: o.Timeout,
		Proxy:   proxy,
		TLS:     o.TLS || port == "465",
		TLSConfig: dial.TLSOptions{
			Insecure:   o.Insecure,
			CAFile:     o.CAFile,
			ServerName: o.ServerName,
			ClientCert: o.ClientCert,
			ClientKey:  o.ClientKey,
			MinVersion: o.TLSMin,
		},
		ProxyProtocol: o.ProxyProto,
	}}, nil
}

// applyConfig applies the configuration file's [defaults] to the flags the
// command line did not set and, for an "@NAME" argument, the target's
// flags, returning the arguments with @NAME replaced by its server. The
// target's password_env and token_env fill $SMTPSH_PASSWORD and
// $SMTPSH_OAUTH_TOKEN for :auth when those are unset.
func applyConfig(cmd *cobra.Command, args []string, out io.Writer) ([]string, error) {
	c, err := config.Load(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if err := config.ApplyFlags(cmd.Flags(), "defaults", defaultsFor(cmd.Flags(), c.Defaults)); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Path, err)
	}
	if len(args) == 0 || !strings.HasPrefix(args[0], "@") {
		return args, nil
	}
	t, err := c.Target(args[0])
	if err != nil {
		return nil, err
	}
	if err := config.ApplyFlags(cmd.Flags(), "targets."+t.Name, t.Flags); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Path, err)
	}
	for env, token := range map[string]bool{shell.PasswordEnv: false, shell.TokenEnv: true} {
		if os.Getenv(env) == "" {
			if v := t.Secret(os.Getenv, token); v != "" {
				os.Setenv(env, v)
			}
		}
	}
	fmt.Fprintf(out, "smtpsh: target @%s is %s (from %s)\n", t.Name, t.Server, c.Path)
	if t.User != "" && t.Auth != "" {
		fmt.Fprintf(out, "smtpsh: after EHLO, authenticate with :auth %s %s\n", t.Auth, t.User)
	}
	return append([]string{t.Server}, args[1:]...), nil
}

// shellDialer is transportDialer's dialer, or one that also reaches Unix
// sockets and piped programs (internal/dial's Dialer) for --pipe and
// unix:/path targets.
func shellDialer(o *shellOptions, addr string) (shell.Dialer, error) {
	td, err := transportDialer(o, addr)
	if err != nil {
		return nil, err
	}
	if o.Pipe == "" && !dial.IsUnix(addr) {
		return td, nil
	}
	if o.Proxy != "" || o.ProxyProto != "" {
		return nil, errors.New("--proxy and --proxy-protocol do not apply to --pipe or a unix: socket")
	}
	td.Options.Proxy = "" // $SMTPSH_PROXY and $ALL_PROXY are for the network
	return &dial.Dialer{Options: td.Options, Pipe: o.Pipe}, nil
}

// targetAddr turns "host", "host:port", "[v6]:port" or a bare IPv6 address
// into "host:port", port 25 by default (RFC 5321 §4.5.4.2), and keeps
// "unix:/path" (a Unix socket) as it is.
func targetAddr(arg string) (string, error) {
	if arg == "" {
		return "", errors.New("empty host")
	}
	if dial.IsUnix(arg) {
		if !strings.HasPrefix(arg, dial.UnixPrefix+"/") && !strings.HasPrefix(arg, dial.UnixPrefix+".") {
			return "", fmt.Errorf("%q: want unix:/absolute/path or unix:./relative/path", arg)
		}
		return arg, nil
	}
	if host, port, err := net.SplitHostPort(arg); err == nil {
		if n, err := strconv.ParseUint(port, 10, 16); host == "" || err != nil || n == 0 || strings.ContainsAny(host, "/ ") {
			return "", fmt.Errorf("%q: want host or host:port, port 1-65535", arg)
		}
		return arg, nil
	}
	if a, err := netip.ParseAddr(strings.Trim(arg, "[]")); err == nil {
		return net.JoinHostPort(a.String(), "25"), nil
	}
	if strings.ContainsAny(arg, ":[]/ ") {
		return "", fmt.Errorf("%q: want host or host:port", arg)
	}
	return net.JoinHostPort(arg, "25"), nil
}

// shellLab is a lab started in-process for the shell.
type shellLab struct {
	addr, port, profile string
	roots               *x509.CertPool // trusts the lab's certificate, for STARTTLS
	cert                []byte         // the lab's certificate (DER)
	store               *store.Store   // what the lab accepted
	stop                func()
}

// startShellLab starts the lab with profile ("default" for the shell and
// send, --lab-profile for audit) on a free loopback port, with a
// self-signed certificate and an in-memory store, as `smtpsh lab` would
// with --listen 127.0.0.1:0 --tls-listen "".
func startShellLab(profile string) (*shellLab, error) {
	ls, err := newLabServer(labOptions{Profile: profile})
	if err != nil {
		return nil, err
	}
	srv, st, p := ls.srv, ls.store, ls.profile
	roots := selfsigned.Pool(ls.cert)
	ln, err := labListen("127.0.0.1:0", "--listen")
	if err != nil {
		st.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return &shellLab{
		addr: ln.Addr().String(), port: port, profile: p.Name, roots: roots, cert: ls.cert.Certificate[0], store: st,
		stop: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			<-done
			st.Close()
		},
	}, nil
}

// defaultsFor returns the configuration file's [defaults] that apply to
// the command whose flags are fs: [defaults] is shared by every command,
// so a key that is a flag of another command (send's subject, say) is left
// to that command, while a key that is a flag of none stays and is
// reported as a mistake.
func defaultsFor(fs *pflag.FlagSet, defaults map[string]any) map[string]any {
	out := make(map[string]any, len(defaults))
	var others []*pflag.FlagSet
	for k, v := range defaults {
		name := strings.ReplaceAll(k, "_", "-")
		if fs.Lookup(name) == nil {
			if others == nil {
				root := newRootCmd()
				others = append(others, root.Flags())
				for _, c := range root.Commands() {
					others = append(others, c.Flags())
				}
			}
			if flagOfAny(others, name) {
				continue
			}
		}
		out[k] = v
	}
	return out
}

func flagOfAny(sets []*pflag.FlagSet, name string) bool {
	for _, fs := range sets {
		if fs.Lookup(name) != nil {
			return true
		}
	}
	return false
}
