package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/smtpsh/smtpsh/internal/lab"
	"github.com/smtpsh/smtpsh/internal/lab/selfsigned"
	"github.com/smtpsh/smtpsh/internal/lab/store"
)

// labOptions are the flags of `smtpsh lab`.
type labOptions struct {
	Listen    string
	TLSListen string
	Profile   string
	Maildir   string
	LogDir    string
	CertFile  string
	KeyFile   string
	Print     string
}

// Lab defaults: loopback only (DESIGN.md, Safety).
const (
	defaultLabListen    = "127.0.0.1:2525"
	defaultLabTLSListen = "127.0.0.1:4465"
)

func newLabCmd() *cobra.Command {
	var o labOptions
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run the practice SMTP server on loopback",
		Long: `Run smtpsh's practice SMTP server: a safe target for learning SMTP,
user enumeration and open-relay tests. It listens on loopback, and nothing it
"relays" ever leaves the machine.

Profiles give it a personality or a classic misconfiguration; list them with
--profile list; print one with --print-profile NAME > mine.toml, edit it and
load it with --profile ./mine.toml.`,
		Example: `  smtpsh lab
  smtpsh lab --profile open-relay
  smtpsh lab --profile list
  smtpsh lab --print-profile hardened > mine.toml && smtpsh lab --profile ./mine.toml
  smtpsh lab --listen [::1]:2525 --tls-listen "" --maildir ./mail --log ./sessions`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Profile == "list" {
				return listProfiles(cmd.OutOrStdout())
			}
			if o.Print != "" {
				src, err := lab.ProfileSource(o.Print)
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(src)
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runLab(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", defaultLabListen, "address for plain SMTP (STARTTLS offered per profile)")
	f.StringVar(&o.TLSListen, "tls-listen", defaultLabTLSListen, `address for implicit TLS (RFC 8314); "" for none`)
	f.StringVar(&o.Profile, "profile", "default", `a built-in profile, a profile file, or "list"`)
	f.StringVar(&o.Maildir, "maildir", "", "also write accepted mail as Maildir under this directory")
	f.StringVar(&o.LogDir, "log", "", "write each session as a transcript (secrets redacted) in this directory")
	f.StringVar(&o.CertFile, "cert", "", "TLS certificate (PEM) instead of a self-signed one made at start")
	f.StringVar(&o.KeyFile, "key", "", "TLS private key (PEM) for --cert")
	f.StringVar(&o.Print, "print-profile", "", "print a built-in profile's file, to copy and edit, and exit")
	return cmd
}

// listProfiles prints the built-in profiles and what each one is.
func listProfiles(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, name := range lab.ProfileNames() {
		p, err := lab.LoadProfile(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, p.Description)
	}
	return tw.Flush()
}

// labServer is a lab server built from the flags, not yet listening.
type labServer struct {
	srv      *lab.Server
	store    *store.Store
	profile  *lab.Profile
	cert     tls.Certificate
	certNote string // where the certificate came from, with its fingerprint
}

// newLabServer loads the profile, the certificate and the store the flags
// name and builds the server; `smtpsh lab` and the shell's in-process lab
// both start here. Close the store when done.
func newLabServer(o labOptions) (*labServer, error) {
	p, err := lab.LoadProfile(o.Profile)
	if err != nil {
		return nil, err
	}
	cert, certNote, err := labCertificate(o, p.Hostname)
	if err != nil {
		return nil, err
	}
	if o.LogDir != "" {
		if err := os.MkdirAll(o.LogDir, 0o750); err != nil {
			return nil, fmt.Errorf("--log: %w", err)
		}
	}
	st, err := store.New(o.Maildir)
	if err != nil {
		return nil, err
	}
	srv, err := lab.New(lab.Config{
		Profile: p,
		Store:   st,
		TLS:     &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		LogDir:  o.LogDir,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &labServer{srv: srv, store: st, profile: p, cert: cert, certNote: certNote}, nil
}

// runLab starts the lab and serves until ctx ends.
func runLab(ctx context.Context, out, errOut io.Writer, o labOptions) error {
	ls, err := newLabServer(o)
	if err != nil {
		return err
	}
	defer ls.store.Close()
	srv, st, p, certNote := ls.srv, ls.store, ls.profile, ls.certNote

	ln, err := labListen(o.Listen, "--listen")
	if err != nil {
		return err
	}
	listeners := []net.Listener{ln}
	var tlsLn net.Listener
	if o.TLSListen != "" {
		if tlsLn, err = labListen(o.TLSListen, "--tls-listen"); err != nil {
			ln.Close()
			return err
		}
		listeners = append(listeners, tlsLn)
	}
	for _, l := range listeners {
		if !isLoopback(l.Addr()) {
			fmt.Fprintf(errOut, "smtpsh lab: warning: %s is not a loopback address: other machines can reach this deliberately weak server\n", l.Addr())
		}
	}

	fmt.Fprintf(out, "smtpsh lab: profile %s: %s\n", p.Name, p.Description)
	fmt.Fprintf(out, "  smtp:      %s\n", ln.Addr())
	if tlsLn != nil {
		fmt.Fprintf(out, "  smtps:     %s (implicit TLS)\n", tlsLn.Addr())
	}
	fmt.Fprintf(out, "  tls:       %s\n", certNote)
	printDirectory(out, p.Directory())
	if o.Maildir != "" {
		fmt.Fprintf(out, "  maildir:   %s\n", o.Maildir)
	}
	if o.LogDir != "" {
		fmt.Fprintf(out, "  sessions:  %s\n", o.LogDir)
	}
	host, port := "127.0.0.1", ""
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil {
		port = fmt.Sprint(ap.Port())
		if !ap.Addr().IsUnspecified() {
			host = ap.Addr().Unmap().String()
		}
	}
	fmt.Fprintf(out, "  try:       swaks --server %s --port %s --to alice@%s   (or: telnet %s %s)\n", host, port, p.Domain, host, port)
	fmt.Fprintln(out, "  Ctrl-C stops the lab.")

	errc := make(chan error, len(listeners))
	go func() { errc <- srv.Serve(ln) }()
	if tlsLn != nil {
		go func() { errc <- srv.ServeTLS(tlsLn) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Fprintf(out, "smtpsh lab: stopping (%d session(s) open); %d message(s) accepted\n", srv.ActiveSessions(), st.Count())
	return srv.Shutdown(shutdownCtx)
}

// labCertificate loads --cert/--key or makes a self-signed certificate, and
// says which, with its SHA-256 fingerprint.
func labCertificate(o labOptions, hostname string) (tls.Certificate, string, error) {
	if (o.CertFile == "") != (o.KeyFile == "") {
		return tls.Certificate{}, "", errors.New("--cert and --key go together")
	}
	if o.CertFile != "" {
		c, err := selfsigned.Load(o.CertFile, o.KeyFile)
		if err != nil {
			return c, "", err
		}
		return c, fmt.Sprintf("%s (sha256 %s)", o.CertFile, selfsigned.Fingerprint(c)), nil
	}
	c, err := selfsigned.Certificate(hostname)
	if err != nil {
		return c, "", err
	}
	return c, fmt.Sprintf("self-signed for %s, localhost, 127.0.0.1, ::1 (sha256 %s); clients need --insecure or this fingerprint", hostname, selfsigned.Fingerprint(c)), nil
}

// labListen listens on addr; a busy port gets an error that names it and
// the flag that changes it.
func labListen(addr, flag string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%s is already in use (another lab or mail server?): choose another address with %s, e.g. %s 127.0.0.1:0 for any free port", addr, flag, flag)
		}
		return nil, fmt.Errorf("%s %s: %w", flag, addr, err)
	}
	return ln, nil
}

// isLoopback reports whether a listener's address is on loopback.
func isLoopback(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	return err == nil && ap.Addr().IsLoopback()
}

// printDirectory prints the lab's users, aliases and lists, aligned with
// the other lines printed at start.
func printDirectory(w io.Writer, d lab.Directory) {
	var users, aliases, lists []string
	for _, u := range d.Users {
		users = append(users, fmt.Sprintf("%s@%s (password %s)", u.Name, d.Domain, u.Password))
	}
	for _, a := range d.Aliases {
		aliases = append(aliases, a.Name+" → "+a.Target)
	}
	for _, l := range d.Lists {
		lists = append(lists, l.Name+" → "+strings.Join(l.Members, ", "))
	}
	for _, row := range []struct {
		label string
		items []string
	}{{"users", users}, {"aliases", aliases}, {"lists", lists}} {
		if len(row.items) > 0 {
			fmt.Fprintf(w, "  %-10s %s\n", row.label+":", strings.Join(row.items, "; "))
		}
	}
}
