package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"agentmail/billing"
	"agentmail/internal/admin"
)

func newWalletDebitCmd(g *globalFlags) *cobra.Command {
	cmd := newWalletMoveCmd(g, "debited %s %s from %s (journal entry %d)\n",
		admin.API.Debit)
	cmd.Use = "debit ADDRESS AMOUNT --note TEXT"
	cmd.Short = "Take money out of an agent's wallet"
	cmd.Long = `Take AMOUNT out of the available balance of ADDRESS, as money leaving the
system (a payout or a refund to the agent's owner). Reserved money cannot be
debited. --note is required and is kept in the journal for the audit trail;
--ref makes the debit idempotent.`
	cmd.Example = `  agentmail wallet debit buyer 1.50 --note "payout to owner" --ref payout-7`
	cmd.Flags().Lookup("note").Usage = "why the money leaves (required)"
	return cmd
}

func newWalletTransferCmd(g *globalFlags) *cobra.Command {
	var req admin.TransferRequest
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "transfer FROM TO AMOUNT --note TEXT",
		Short: "Move money from one agent's wallet to another's",
		Long: `Move AMOUNT from the available balance of FROM to that of TO, in one journal
entry. --note is required and is kept in the journal for the audit trail.`,
		Example: `  agentmail wallet transfer buyer seller 0.10 --note "manual correction, ticket 12"`,
		Args:    args(cobra.ExactArgs(3)),
		RunE: func(cmd *cobra.Command, a []string) error {
			amount, err := billing.ParseAmount(a[2])
			if err != nil {
				return usageError{fmt.Errorf("AMOUNT: %w", err)}
			}
			req.From, req.To, req.Amount = a[0], a[1], amount
			return withAdmin(cmd, g, func(api admin.API) error {
				entry, err := api.Transfer(req)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), entry)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "moved %s %s from %s to %s (journal entry %d)\n",
					amount, entry.Currency, a[0], a[1], entry.Seq)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&req.Currency, "currency", "USD", "ISO 4217 currency code")
	cmd.Flags().StringVar(&req.Note, "note", "", "why the money moves (required)")
	addJSONFlag(cmd, &asJSON)
	return cmd
}
