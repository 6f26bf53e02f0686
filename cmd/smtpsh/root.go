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
	root := &cobra.Command{
		Use:   "smtpsh",
		Short: "An interactive SMTP learning shell and protocol debugger",
		Long: `smtpsh is telnet for SMTP made smart: it sends what you type, explains every
reply, and shows what the protocol is doing.

Explain a reply code, an enhanced status code, a whole reply line or an EHLO keyword:

  smtpsh explain 550
  smtpsh explain 5.7.1
  smtpsh explain "550 5.7.1 Relay access denied"
  smtpsh explain PIPELINING`,
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
		// The shell (smtpsh HOST) is not built yet: until then the root
		// command prints help and rejects arguments as unknown commands.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetVersionTemplate("smtpsh {{.Version}}\n")
	root.CompletionOptions.HiddenDefaultCmd = false
	for _, c := range subcommands() {
		root.AddCommand(c)
	}
	return root
}
