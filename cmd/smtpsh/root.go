package main

import (
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// it comes from the module's build information.
var version = ""

// buildVersion reports the version this binary was built as.
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// newRootCmd builds the smtpsh command tree. It holds no state beyond the
// returned value, so tests build a fresh tree for every case.
func newRootCmd() *cobra.Command {
	var o shellOptions
	root := &cobra.Command{
		Use:   "smtpsh [flags] [host[:port]]",
		Short: "An interactive SMTP learning shell and protocol debugger",
		Long: `smtpsh is telnet for SMTP made smart: it sends what you type, explains every
reply in the context of the command that caused it, and shows what the
protocol is doing.

With no host it starts the practice server (smtpsh lab) in-process on a free
loopback port and connects to it, so a fresh machine needs no mail server.

  smtpsh                              the shell on the built-in lab
  smtpsh mail.example.org             port 25
  smtpsh 127.0.0.1:2525 -c "EHLO me" -c QUIT
  smtpsh lab --profile open-relay     the practice server on its own
  smtpsh explain "550 5.7.1 Relay access denied"`,
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.MaximumNArgs(1),
		RunE:          func(cmd *cobra.Command, args []string) error { return runShell(cmd, args, &o) },
	}
	addShellFlags(root, &o)
	root.SetVersionTemplate("smtpsh {{.Version}}\n")
	root.CompletionOptions.HiddenDefaultCmd = false
	for _, c := range subcommands() {
		root.AddCommand(c)
	}
	return root
}
