package main

import "github.com/spf13/cobra"

// subcommands lists smtpsh's commands; `completion` and `help` come from cobra.
func subcommands() []*cobra.Command {
	return []*cobra.Command{newExplainCmd(), newLabCmd(), newReplayCmd(), newCaptureCmd(), newLearnCmd(), newSendCmd(), newAuditCmd()}
}
