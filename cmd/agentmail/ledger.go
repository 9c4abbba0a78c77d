package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"agentmail/internal/admin"
)

func newLedgerCmd(g *globalFlags) *cobra.Command {
	cmd := groupCmd("ledger", "Check the wallet ledger",
		`The ledger is a double-entry journal; balances are a cache of it.`)
	cmd.Example = `  agentmail ledger verify`
	cmd.AddCommand(newLedgerVerifyCmd(g))
	return cmd
}

func newLedgerVerifyCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Rebuild every balance from the journal and check the invariants",
		Long: `Rebuild every balance from the journal and check the ledger's invariants:
every entry nets to zero; each cached balance equals the fold of the journal;
the accounts of each currency sum to zero (conservation); no wallet, hold or
platform account is below zero; the open reservations of each agent sum to
its reserved balance; every reservation is resolved at most once, and a
resolved one has charged + released = reserved. Each breach is printed with
the journal entries involved, and the command exits 1 if there is any. The
server runs the same check at start-up and every billing.verify_interval.`,
		Example: `  agentmail ledger verify
  agentmail ledger verify --json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, g, func(api admin.API) error {
				report, err := api.Verify()
				if err != nil {
					return err
				}
				if asJSON {
					err = printJSON(cmd.OutOrStdout(), report)
				} else {
					err = printVerify(cmd.OutOrStdout(), report)
				}
				if err == nil && len(report.Breaches) > 0 {
					err = fmt.Errorf("ledger verify: %d breaches", len(report.Breaches))
				}
				return err
			})
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func printVerify(w io.Writer, r admin.VerifyReport) error {
	t := newTable(w, "CURRENCY", "AVAILABLE", "RESERVED", "PLATFORM", "WORLD")
	for _, x := range r.Totals {
		t.row(x.Currency, x.Available.String(), x.Reserved.String(), x.Platform.String(),
			x.World.String())
	}
	if err := t.flush(); err != nil {
		return err
	}
	for _, b := range r.Breaches {
		fmt.Fprintf(w, "BREACH %s\n", b)
	}
	if len(r.Breaches) == 0 {
		fmt.Fprintln(w, "ledger verified: every invariant holds")
	}
	return nil
}
