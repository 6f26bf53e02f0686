package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smtpsh/smtpsh/internal/explain"
	"github.com/smtpsh/smtpsh/internal/render"
)

// newExplainCmd builds `smtpsh explain QUERY...`.
func newExplainCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "explain QUERY...",
		Short: "Explain a reply code, an enhanced status code, a reply line or an EHLO keyword",
		Long: `Explain what SMTP replies and extensions mean, with the RFC that defines them.

Each argument is one query: ` + explain.Accepted + `.

A reply line is best quoted. When the first argument is a reply code and a
later argument means nothing on its own (like "Relay" below), the arguments
are taken as one unquoted reply line and joined with spaces.`,
		Example: `  smtpsh explain 550
  smtpsh explain 5.7.1 X.1.1
  smtpsh explain "550 5.7.1 Relay access denied"
  smtpsh explain 550 5.7.1 Relay access denied
  smtpsh explain PIPELINING "AUTH PLAIN LOGIN"`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("explain what? give " + explain.Accepted)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			kb, err := explain.New()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			r, err := render.NewRenderer(render.Detect(out, os.Getenv))
			if err != nil {
				return err
			}
			var errs []error
			for i, q := range explainQueries(kb, args) {
				a, err := kb.Query(q)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if i > 0 {
					fmt.Fprintln(out)
				}
				if err := r.Answer(out, a); err != nil {
					return err
				}
			}
			return errors.Join(errs...)
		},
	}
}

// explainQueries splits the arguments into queries: one per argument, unless
// the first is a reply code and some later argument is no query on its own,
// when they are one unquoted reply line ("550 5.7.1 Relay access denied").
func explainQueries(kb *explain.KB, args []string) []string {
	if len(args) < 2 || len(args[0]) != 3 || strings.Trim(args[0], "0123456789") != "" {
		return args
	}
	for _, a := range args[1:] {
		if _, err := kb.Query(a); err != nil {
			return []string{strings.Join(args, " ")}
		}
	}
	return args
}
