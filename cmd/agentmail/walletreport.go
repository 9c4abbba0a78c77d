package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"agentmail/internal/admin"
	"agentmail/marketplace"
)

// reportLimitMax is the most rows one history or usage page shows.
const reportLimitMax = 1000

// reportFlags are the filters and paging shared by history and usage.
type reportFlags struct {
	counterparty, requestID string
	since, until            string
	limit                   int
	asJSON, asCSV           bool
}

func (f *reportFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.counterparty, "counterparty", "", "only rows with this other agent")
	fl.StringVar(&f.requestID, "request-id", "", "only rows of this marketplace request id")
	fl.StringVar(&f.since, "since", "", "only rows at or after this RFC 3339 time")
	fl.StringVar(&f.until, "until", "", "only rows before this RFC 3339 time")
	fl.IntVar(&f.limit, "limit", 50, "the most rows to show")
	fl.BoolVar(&f.asCSV, "csv", false, "print CSV for spreadsheets and accountants")
	addJSONFlag(cmd, &f.asJSON)
}

// filter checks the flags and turns them into the query's filter.
func (f *reportFlags) filter() (admin.ReportFilter, error) {
	r := admin.ReportFilter{Counterparty: f.counterparty, RequestID: f.requestID,
		Limit: f.limit}
	if f.limit < 1 || f.limit > reportLimitMax {
		return r, usageError{fmt.Errorf("--limit must be from 1 to %d", reportLimitMax)}
	}
	if f.asJSON && f.asCSV {
		return r, usageError{fmt.Errorf("--json and --csv exclude each other")}
	}
	for _, t := range []struct {
		name, value string
		dst         *time.Time
	}{{"since", f.since, &r.Since}, {"until", f.until, &r.Until}} {
		if t.value == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.value)
		if err != nil {
			return r, usageError{fmt.Errorf("--%s %q: want an RFC 3339 time such as "+
				"2026-12-01T00:00:00Z", t.name, t.value)}
		}
		*t.dst = v
	}
	return r, nil
}

func newWalletHistoryCmd(g *globalFlags) *cobra.Command {
	var f reportFlags
	var q admin.HistoryQuery
	cmd := &cobra.Command{
		Use:   "history ADDRESS",
		Short: "Show an agent's journal entries, newest first",
		Long: `Show the journal entries that moved money of ADDRESS, newest first: credits,
debits, transfers, reservations, settlements, voids and expiries, with the
change to its available and reserved balances. Filter by --kind,
--counterparty, --request-id and time; when more entries remain, the last
line names the --before value of the next page.`,
		Example: `  agentmail wallet history buyer
  agentmail wallet history seller --kind settle --since 2026-12-01T00:00:00Z --csv
  agentmail wallet history buyer --limit 20 --before 118`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) (err error) {
			if q.ReportFilter, err = f.filter(); err != nil {
				return err
			}
			return withAdmin(cmd, g, func(api admin.API) error {
				page, err := api.History(a[0], q)
				if err != nil {
					return err
				}
				return printHistory(cmd.OutOrStdout(), page, f)
			})
		},
	}
	cmd.Flags().StringVar(&q.Kind, "kind", "",
		"only entries of this kind: credit, debit, transfer, reserve, settle, void, expire")
	cmd.Flags().Uint64Var(&q.Before, "before", 0, "page: entries below this journal number")
	f.add(cmd)
	return cmd
}

func printHistory(w io.Writer, page admin.HistoryPage, f reportFlags) error {
	switch {
	case f.asJSON:
		return printJSON(w, page)
	case f.asCSV:
		c := csv.NewWriter(w)
		_ = c.Write([]string{"seq", "time", "kind", "currency", "available_change",
			"reserved_change", "counterparty", "hold_id", "note"})
		for _, r := range page.Rows {
			_ = c.Write([]string{strconv.FormatUint(r.Seq, 10), r.Time.UTC().Format(time.RFC3339),
				r.Kind, r.Currency, r.AvailableChange.String(), r.ReservedChange.String(),
				r.Counterparty, r.HoldID, r.Note})
		}
		c.Flush()
		return c.Error()
	}
	t := newTable(w, "SEQ", "TIME", "KIND", "AVAILABLE", "RESERVED", "CURRENCY",
		"COUNTERPARTY", "NOTE")
	for _, r := range page.Rows {
		t.row(strconv.FormatUint(r.Seq, 10), r.Time.UTC().Format(time.RFC3339), r.Kind,
			signed(r.AvailableChange), signed(r.ReservedChange), r.Currency,
			r.Counterparty, r.Note)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if page.Next != 0 {
		fmt.Fprintf(w, "more entries: --before %d\n", page.Next)
	}
	return nil
}

func newWalletUsageCmd(g *globalFlags) *cobra.Command {
	var f reportFlags
	var q admin.UsageQuery
	cmd := &cobra.Command{
		Use:   "usage ADDRESS",
		Short: "Show the paid requests an agent bought or sold, newest first",
		Long: `Show the marketplace requests ADDRESS took part in, as buyer or seller, newest
first: what was reserved, charged, paid as platform fee and released, with the
seller's usage report. Filter by --status, --counterparty, --request-id and
creation time; when more rows remain, the last line names the --cursor of the
next page. The same rows answer GET /agents/{agent_id}/billing/usage.`,
		Example: `  agentmail wallet usage buyer
  agentmail wallet usage seller --status settled --since 2026-12-01T00:00:00Z --csv`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) (err error) {
			if q.ReportFilter, err = f.filter(); err != nil {
				return err
			}
			return withAdmin(cmd, g, func(api admin.API) error {
				page, err := api.Usage(a[0], q)
				if err != nil {
					return err
				}
				return printUsage(cmd.OutOrStdout(), page, f)
			})
		},
	}
	cmd.Flags().StringVar(&q.Status, "status", "",
		"only requests in this state: open, settled, declined, expired, voided")
	cmd.Flags().StringVar(&q.Cursor, "cursor", "", "page: the cursor a previous page printed")
	f.add(cmd)
	return cmd
}

func printUsage(w io.Writer, page admin.UsagePage, f reportFlags) error {
	switch {
	case f.asJSON:
		return printJSON(w, page)
	case f.asCSV:
		c := csv.NewWriter(w)
		_ = c.Write([]string{"marketplace_request_id", "role", "counterparty", "status",
			"currency", "reserved", "charged", "fee", "released", "capped", "usage",
			"created_at", "resolved_at"})
		for _, r := range page.Rows {
			_ = c.Write([]string{r.RequestID, r.Role, r.Counterparty, r.Status, r.Currency,
				r.Reserved.String(), r.Charged.String(), r.Fee.String(), r.Released.String(),
				strconv.FormatBool(r.Capped), usageJSON(r), r.Created.UTC().Format(time.RFC3339),
				resolvedAt(r)})
		}
		c.Flush()
		return c.Error()
	}
	t := newTable(w, "REQUEST", "ROLE", "COUNTERPARTY", "STATUS", "RESERVED", "CHARGED",
		"FEE", "RELEASED", "CURRENCY", "CREATED", "USAGE")
	for _, r := range page.Rows {
		t.row(r.RequestID, r.Role, r.Counterparty, r.Status, r.Reserved.String(),
			r.Charged.String(), r.Fee.String(), r.Released.String(), r.Currency,
			r.Created.UTC().Format(time.RFC3339), usageJSON(r))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if page.Next != "" {
		fmt.Fprintf(w, "more rows: --cursor %s\n", page.Next)
	}
	return nil
}

// usageJSON is the seller's usage report as compact JSON, "" before one.
func usageJSON(r marketplace.UsageRow) string {
	if r.Usage == nil {
		return ""
	}
	data, err := json.Marshal(r.Usage)
	if err != nil {
		return ""
	}
	return string(data)
}

func resolvedAt(r marketplace.UsageRow) string {
	if r.Resolved == nil {
		return ""
	}
	return r.Resolved.UTC().Format(time.RFC3339)
}
