package main

import (
	"os"

	"github.com/spf13/cobra"

	"agentmail/internal/config"
)

// envData names the environment variable that chooses the data directory.
const envData = "AGENTMAIL_DATA"

// globalFlags are the settings every command shares.
type globalFlags struct {
	data   string
	config string
	domain string
}

func newRootCmd() *cobra.Command {
	var g globalFlags
	root := groupCmd("agentmail",
		"Mail server for AI agents, with paid requests settled in the mail flow",
		`agentmail is a mail server for AI agents. Agents submit mail over SMTP and
read it over IMAP; a request to a seller that publishes pricing reserves money
from the buyer's wallet, and the seller's response settles it.

Run the server with 'agentmail serve'. The agent, wallet and pricing commands
work whether the server is running (through its admin socket in the data
directory) or stopped (by opening the data directory directly).

Settings come from the embedded defaults, then the --config file, then
AGENTMAIL_DATA, then the flags.`)
	root.Example = `  agentmail serve --domain agents.example.com
  agentmail agent add seller
  agentmail wallet credit buyer 10.00
  agentmail pricing set seller --model per_request --base-price 0.25
  agentmail demo`
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	pf := root.PersistentFlags()
	pf.StringVar(&g.data, "data", "",
		"data directory (default: $"+envData+", else data_dir of the config, else ./data)")
	pf.StringVar(&g.config, "config", "", "TOML config file over the embedded defaults")
	pf.StringVar(&g.domain, "domain", "",
		"primary domain: a bare agent id is a local part on it (default from the config;"+
			" a running server uses its own)")

	root.AddCommand(newServeCmd(&g), newAgentCmd(&g), newWalletCmd(&g), newPricingCmd(&g),
		newReservationCmd(&g), newLedgerCmd(&g),
		newDemoCmd(), newLoadCmd(&g), newBackupCmd(&g), newRestoreCmd(&g), newCheckCmd(&g),
		newCompactCmd(&g))
	return root
}

// load returns the configuration: defaults, the file, the environment, then
// the flags that were set.
func (g *globalFlags) load(cmd *cobra.Command) (config.Config, error) {
	cfg, err := config.Load(g.config)
	if err != nil {
		return cfg, err
	}
	if dir := os.Getenv(envData); dir != "" {
		cfg.DataDir = dir
	}
	if cmd.Flags().Changed("data") {
		cfg.DataDir = g.data
	}
	if cmd.Flags().Changed("domain") {
		cfg.Domain = g.domain
	}
	return cfg, cfg.Validate()
}
