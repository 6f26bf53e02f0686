// Command smtpsh is an interactive SMTP learning shell and protocol debugger.
//
// The commands live in this package as cobra commands that do flags and wiring
// only; the protocol, knowledge and rendering live in the packages they call.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/smtpsh/smtpsh/shell"
)

func main() {
	os.Exit(execute(newRootCmd(), os.Args[1:]))
}

// execute runs the command tree with args and returns the exit status: the
// shell's documented code for a *shell.ExitError, 1 for any other error.
func execute(root *cobra.Command, args []string) int {
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "smtpsh:", err)
		var ee *shell.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		return 1
	}
	return 0
}
