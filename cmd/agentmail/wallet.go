package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"agentmail/billing"
	"agentmail/internal/admin"
)

func newWalletCmd(g *globalFlags) *cobra.Command {
	cmd := groupCmd("wallet", "Credit, debit and transfer money; show balances, history and usage",
		`Every agent has one wallet per currency: money available to spend and money
reserved by open paid requests. Amounts are exact decimals with at most six
fractional digits. ADDRESS may be an agent id or a full address.`)
	cmd.Example = `  agentmail wallet credit buyer 10.00 --note "first top-up" --ref topup-1
  agentmail wallet balance buyer --json
  agentmail wallet history buyer --limit 20
  agentmail wallet debit buyer 1.50 --note "refund to card"
  agentmail wallet transfer buyer seller 0.10 --note "goodwill"
  agentmail wallet usage seller --status settled --csv`
	cmd.AddCommand(newWalletCreditCmd(g), newWalletDebitCmd(g), newWalletTransferCmd(g),
		newWalletBalanceCmd(g), newWalletHistoryCmd(g), newWalletUsageCmd(g))
	return cmd
}

func newWalletCreditCmd(g *globalFlags) *cobra.Command {
	cmd := newWalletMoveCmd(g, "credited %s %s to %s (journal entry %d)\n",
		admin.API.Credit)
	cmd.Use = "credit ADDRESS AMOUNT"
	cmd.Short = "Add money to an agent's wallet"
	cmd.Long = `Add AMOUNT to the available balance of ADDRESS, as money entering from
outside the system. AMOUNT is an exact decimal such as 10, 0.25 or 1e-6.
With --ref the credit is idempotent: repeating it with the same reference
and content changes nothing, and with different content it is refused.`
	cmd.Example = `  agentmail wallet credit buyer 10.00
  agentmail wallet credit buyer 5 --currency EUR --ref invoice-42`
	cmd.Flags().Lookup("note").Usage = "note kept in the journal"
	return cmd
}

// newWalletMoveCmd is the shared shape of credit and debit: ADDRESS AMOUNT,
// --currency, --note and --ref, one journal entry printed as done says.
func newWalletMoveCmd(g *globalFlags, done string,
	move func(admin.API, admin.CreditRequest) (billing.Entry, error)) *cobra.Command {
	var req admin.CreditRequest
	var asJSON bool
	cmd := &cobra.Command{
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			amount, err := billing.ParseAmount(a[1])
			if err != nil {
				return usageError{fmt.Errorf("AMOUNT: %w", err)}
			}
			req.Address, req.Amount = a[0], amount
			return withAdmin(cmd, g, func(api admin.API) error {
				entry, err := move(api, req)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), entry)
				}
				fmt.Fprintf(cmd.OutOrStdout(), done, amount, entry.Currency, a[0], entry.Seq)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&req.Currency, "currency", "USD", "ISO 4217 currency code")
	cmd.Flags().StringVar(&req.Note, "note", "", "")
	cmd.Flags().StringVar(&req.Ref, "ref", "", "idempotency reference")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func newWalletBalanceCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "balance ADDRESS",
		Short: "Show an agent's balances",
		Long:  `Show the available and reserved balance of ADDRESS in every currency it holds.`,
		Example: `  agentmail wallet balance buyer
  agentmail wallet balance buyer@agents.example.com --json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return withAdmin(cmd, g, func(api admin.API) error {
				info, err := api.Balance(a[0])
				if err != nil {
					return err
				}
				return printBalance(cmd.OutOrStdout(), info, asJSON)
			})
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func printBalance(w io.Writer, info admin.BalanceInfo, asJSON bool) error {
	if asJSON {
		if info.Balances == nil {
			info.Balances = []billing.Balance{}
		}
		return printJSON(w, info)
	}
	if len(info.Balances) == 0 {
		fmt.Fprintf(w, "%s holds no money\n", info.ID)
		return nil
	}
	t := newTable(w, "CURRENCY", "AVAILABLE", "RESERVED")
	for _, b := range info.Balances {
		t.row(b.Currency, b.Available.String(), b.Reserved.String())
	}
	return t.flush()
}

// signed writes a balance change with an explicit sign, or "-" for none.
func signed(d billing.Delta) string {
	switch {
	case d == 0:
		return "-"
	case d > 0:
		return "+" + d.String()
	}
	return d.String()
}
