package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"agentmail/internal/ops"
)

func newRestoreCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "restore FILE",
		Short: "Restore a backup into an empty data directory",
		Long: `Check the backup FILE (as 'agentmail check FILE') and copy it into the data
directory, which must be empty or not exist yet: restore never overwrites a
store. A backup of an older data format is upgraded when the server starts.`,
		Example: `  agentmail restore /var/backups/agentmail-2026-12-03.db --data /var/lib/agentmail`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			rep, err := ops.Restore(a[0], cfg.DataDir)
			if len(rep.Problems) > 0 {
				printReport(cmd.OutOrStdout(), rep)
			}
			if err != nil {
				return fmt.Errorf("restore: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %s (%s, data format %d) into %s\n",
				a[0], mib(rep.Bytes), rep.FormatVersion, cfg.DataDir)
			return nil
		},
	}
}
