// Command smtpsh is an interactive SMTP learning shell and protocol debugger.
//
// The commands live in this package as cobra commands that do flags and wiring
// only; the protocol, knowledge and rendering live in the packages they call.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "smtpsh:", err)
		os.Exit(1)
	}
}
