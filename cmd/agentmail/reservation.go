package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"agentmail/internal/admin"
	"agentmail/marketplace"
)

func newReservationCmd(g *globalFlags) *cobra.Command {
	cmd := groupCmd("reservation", "List and void the reservations of paid requests",
		`A paid request reserves money from its buyer until the seller's response
settles it, the reservation expires, or an operator voids it. A reservation
is named BUYER/REQUEST_ID, for example buyer@localhost/req-001.`)
	cmd.Example = `  agentmail reservation list --open
  agentmail reservation void buyer@localhost/req-001 --note "seller is down, ticket 9"`
	cmd.AddCommand(newReservationListCmd(g), newReservationVoidCmd(g))
	return cmd
}

func newReservationListCmd(g *globalFlags) *cobra.Command {
	var q admin.ReservationQuery
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List reservations, oldest first",
		Long: `List the reservations of paid requests, oldest first, with their state:
open, settled, declined, expired or voided. --open shows only those still
holding money; --agent only those where the agent is buyer or seller.`,
		Example: `  agentmail reservation list --open --agent buyer`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, g, func(api admin.API) error {
				list, err := api.Reservations(q)
				if err != nil {
					return err
				}
				return printReservations(cmd.OutOrStdout(), list, asJSON)
			})
		},
	}
	cmd.Flags().BoolVar(&q.OpenOnly, "open", false, "only reservations still open")
	cmd.Flags().StringVar(&q.Agent, "agent", "", "only reservations of this buyer or seller")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func printReservations(w io.Writer, list []marketplace.Request, asJSON bool) error {
	if asJSON {
		if list == nil {
			list = []marketplace.Request{}
		}
		return printJSON(w, list)
	}
	t := newTable(w, "RESERVATION", "SELLER", "STATUS", "RESERVED", "CHARGED", "CURRENCY",
		"EXPIRES")
	for _, r := range list {
		t.row(r.ReservationID(), r.Seller, r.Status, r.Reserved.String(), r.Charged.String(),
			r.Currency, r.Expires.UTC().Format(time.RFC3339))
	}
	return t.flush()
}

func newReservationVoidCmd(g *globalFlags) *cobra.Command {
	var note string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "void RESERVATION --note TEXT",
		Short: "Return an open reservation's money to its buyer",
		Long: `Void an open reservation: all its money returns to the buyer in one journal
entry that carries --note (required), and the seller's response for it is
refused from then on.`,
		Example: `  agentmail reservation void buyer@localhost/req-001 --note "duplicate order"`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return withAdmin(cmd, g, func(api admin.API) error {
				r, err := api.Void(a[0], note)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), r)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "voided %s: %s %s returned to %s\n",
					r.ReservationID(), r.Released, r.Currency, r.Buyer)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "why the reservation is voided (required)")
	addJSONFlag(cmd, &asJSON)
	return cmd
}
