package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"agentmail/internal/admin"
	"agentmail/internal/ops"
	"agentmail/internal/store"
)

// errServerRunning refuses an operation that needs the file to itself.
var errServerRunning = errors.New("the server is running on this data directory; stop it first")

func newCheckCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check [FILE]",
		Short: "Check a stopped data directory or a backup: bbolt structure and ledger",
		Long: `Check a database file and exit non-zero on any problem. Without FILE it
checks the data directory's database, which needs the server stopped; a
running server's data is checked by backing it up and checking the backup.

The checks: bbolt's own consistency check (every page reachable or free,
no page used twice, keys in order), the data format version (one this
agentmail reads), and the ledger's invariants (every entry nets to zero,
balances are the fold of the journal, open reservations sum to reserved
money, no wallet below zero). The file is opened read-only.`,
		Example: `  agentmail check
  agentmail check /var/backups/agentmail-2026-12-03.db --json`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			path := store.Path(cfg.DataDir)
			if len(a) == 1 {
				path = a[0]
			} else if serverRunning(cfg.DataDir) {
				return fmt.Errorf("check: %w (or check a backup: agentmail backup FILE && "+
					"agentmail check FILE)", errServerRunning)
			}
			rep, err := ops.Check(path)
			if err != nil {
				return fmt.Errorf("check: %w", err)
			}
			if asJSON {
				if rep.Problems == nil {
					rep.Problems = []string{}
				}
				err = printJSON(cmd.OutOrStdout(), rep)
			} else {
				printReport(cmd.OutOrStdout(), rep)
			}
			if err == nil && !rep.OK() {
				err = fmt.Errorf("check: %d problems in %s", len(rep.Problems), path)
			}
			return err
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

// printReport writes a check report for a person.
func printReport(w io.Writer, rep ops.Report) {
	for _, p := range rep.Problems {
		fmt.Fprintln(w, "problem:", p)
	}
	if rep.OK() {
		fmt.Fprintf(w, "ok: %s (%s, data format %d): bbolt structure and ledger invariants hold\n",
			rep.Path, mib(rep.Bytes), rep.FormatVersion)
	}
}

// serverRunning reports whether a server answers on the data directory's
// admin socket.
func serverRunning(dataDir string) bool {
	_, err := admin.Dial(dataDir)
	return err == nil
}
