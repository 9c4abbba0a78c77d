package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"agentmail/internal/store"
)

func newCompactCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "compact",
		Short: "Give the space of deleted mail back to the file system (server stopped)",
		Long: `Rewrite the database into a new file holding only live data, check the
copy and rename it over the old file. bbolt reuses freed pages but never
shrinks its file, so after deleting much mail the file stays large until it
is compacted. The server must be stopped; compact refuses otherwise. It
needs free space for the copy, about the size of the live data.`,
		Example: `  agentmail compact --data /var/lib/agentmail`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			if serverRunning(cfg.DataDir) {
				return fmt.Errorf("compact: %w", errServerRunning)
			}
			res, err := store.Compact(cfg.DataDir)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "compacted %s: %s -> %s\n", store.Path(cfg.DataDir),
				mib(res.BytesBefore), mib(res.BytesAfter))
			return nil
		},
	}
}
