package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"agentmail/internal/admin"
	"agentmail/internal/ops"
)

func newBackupCmd(g *globalFlags) *cobra.Command {
	var skipCheck bool
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent snapshot of the data directory's database to FILE",
		Long: `Write a consistent snapshot of the database to FILE: every message and
every ledger entry as of one moment.

With the server running, the server takes the snapshot itself (one bbolt
read transaction, while mail keeps flowing) and streams it through the admin
socket. With the server stopped, the data directory is read directly.

Large message bodies live in blob files beside the database; the ones the
snapshot refers to are put in the directory FILE.blobs (hard links when on
the same file system), which restore and check read with FILE.

FILE is written beside itself and renamed into place once complete, so it
is never half a backup; then it is checked as 'agentmail check FILE' would.
A progress bar is drawn on stderr when stderr is a terminal.`,
		Example: `  agentmail backup /var/backups/agentmail-$(date +%F).db
  agentmail restore /var/backups/agentmail-2026-12-03.db --data /var/lib/agentmail`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			bar := newProgress(cmd.ErrOrStderr(), "backup")
			from := "running server"
			// The backup's error is the outer err: an if-scoped one would be
			// lost, and a failed backup reported as written.
			if client, dialErr := admin.Dial(cfg.DataDir); dialErr == nil {
				err = ops.WriteBackup(a[0], func(w io.Writer, blobDir string) error {
					_, err := client.BackupBlobs(bar.wrap(w), bar.setTotal, blobDir)
					return err
				})
			} else {
				from = "stopped data directory"
				_, err = ops.BackupStopped(cfg.DataDir, a[0], bar.wrap, bar.setTotal)
			}
			bar.finish()
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			if skipCheck {
				fmt.Fprintf(cmd.OutOrStdout(), "backup %s written from the %s (not checked)\n",
					a[0], from)
				return nil
			}
			rep, err := ops.Check(a[0])
			if err != nil {
				return fmt.Errorf("check the backup: %w", err)
			}
			printReport(cmd.OutOrStdout(), rep)
			if !rep.OK() {
				return fmt.Errorf("backup %s was written but fails its check", a[0])
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup %s written from the %s\n", a[0], from)
			return nil
		},
	}
	cmd.Flags().BoolVar(&skipCheck, "skip-check", false,
		"do not check the written backup (faster for very large stores)")
	return cmd
}
