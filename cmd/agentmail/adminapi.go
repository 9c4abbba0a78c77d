package main

import (
	"github.com/spf13/cobra"

	"agentmail/internal/admin"
	"agentmail/internal/server"
)

// withAdmin runs fn against the admin operations of the data directory:
// through the running server's socket when one answers there, else on the
// directory opened in-process, closed again when fn returns. bbolt lets only
// one process open the database, hence the two ways.
func withAdmin(cmd *cobra.Command, g *globalFlags, fn func(admin.API) error) error {
	cfg, err := g.load(cmd)
	if err != nil {
		return err
	}
	if client, err := admin.Dial(cfg.DataDir); err == nil {
		return fn(client)
	}

	stores, err := server.OpenStores(cfg, nil)
	if err != nil {
		return err
	}
	fnErr := fn(stores.Admin(cfg.Domain))
	if err := stores.DB.Close(); err != nil && fnErr == nil {
		return err
	}
	return fnErr
}
