package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"agentmail/internal/admin"
	"agentmail/mailstore"
)

func newAgentCmd(g *globalFlags) *cobra.Command {
	cmd := groupCmd("agent", "Add, list, re-password and remove agents",
		`An agent is a mailbox ADDRESS with a password; the same credentials work
for SMTP AUTH, IMAP LOGIN and HTTP Basic auth. ADDRESS may be an agent id
(the local part on the primary domain) or a full address.`)
	cmd.Example = `  agentmail agent add seller
  echo 's3cret-password' | agentmail agent add buyer@agents.example.com --password-stdin
  agentmail agent list --json`
	cmd.AddCommand(newAgentAddCmd(g), newAgentListCmd(g), newAgentPasswdCmd(g),
		newAgentRemoveCmd(g))
	return cmd
}

// newAgentReply is what agent add prints with --json. Password is set only
// when the command generated it.
type newAgentReply struct {
	admin.AgentInfo
	Password string `json:"password,omitempty"`
}

func newAgentAddCmd(g *globalFlags) *cobra.Command {
	var fromStdin, asJSON bool
	cmd := &cobra.Command{
		Use:   "add ADDRESS",
		Short: "Create an agent",
		Long: `Create an agent with an empty INBOX. The password is read from the first
line of standard input with --password-stdin; otherwise one is generated
and printed once: store it, it cannot be shown again.`,
		Example: `  agentmail agent add seller
  printf '%s\n' "$PASSWORD" | agentmail agent add buyer --password-stdin`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			password, generated, err := choosePassword(cmd.InOrStdin(), fromStdin)
			if err != nil {
				return err
			}
			return withAdmin(cmd, g, func(api admin.API) error {
				info, err := api.AddAgent(a[0], password)
				if err != nil {
					return err
				}
				reply := newAgentReply{AgentInfo: info}
				if generated {
					reply.Password = password
				}
				return printNewAgent(cmd.OutOrStdout(), reply, asJSON)
			})
		},
	}
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false,
		"read the password from the first line of standard input")
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func printNewAgent(w io.Writer, r newAgentReply, asJSON bool) error {
	if asJSON {
		return printJSON(w, r)
	}
	fmt.Fprintf(w, "added agent %s (%s)\n", r.ID, r.Address)
	if r.Password != "" {
		fmt.Fprintf(w, "password: %s\n(shown once; store it now)\n", r.Password)
	}
	return nil
}

// choosePassword reads the password from stdin, or generates one.
func choosePassword(stdin io.Reader, fromStdin bool) (password string, generated bool,
	err error) {
	if !fromStdin {
		return mailstore.GeneratePassword(), true, nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("read password: %w", err)
	}
	password = strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", false, errors.New("read password: standard input is empty")
	}
	return password, false, nil
}

func newAgentListCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every agent",
		Long:  `List every agent with its id, address and creation time.`,
		Example: `  agentmail agent list
  agentmail agent list --json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, g, func(api admin.API) error {
				agents, err := api.ListAgents()
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), agents)
				}
				t := newTable(cmd.OutOrStdout(), "ID", "ADDRESS", "CREATED")
				for _, a := range agents {
					t.row(a.ID, a.Address, a.Created.UTC().Format(time.RFC3339))
				}
				return t.flush()
			})
		},
	}
	addJSONFlag(cmd, &asJSON)
	return cmd
}

func newAgentPasswdCmd(g *globalFlags) *cobra.Command {
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "passwd ADDRESS",
		Short: "Replace an agent's password",
		Long: `Replace an agent's password. The new password is read from the first line of
standard input with --password-stdin; otherwise one is generated and printed
once.`,
		Example: `  agentmail agent passwd seller
  printf '%s\n' "$PASSWORD" | agentmail agent passwd seller --password-stdin`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			password, generated, err := choosePassword(cmd.InOrStdin(), fromStdin)
			if err != nil {
				return err
			}
			return withAdmin(cmd, g, func(api admin.API) error {
				if err := api.SetPassword(a[0], password); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "password of %s changed\n", a[0])
				if generated {
					fmt.Fprintf(cmd.OutOrStdout(), "password: %s\n(shown once; store it now)\n",
						password)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false,
		"read the password from the first line of standard input")
	return cmd
}

func newAgentRemoveCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ADDRESS",
		Short: "Delete an agent and its mail",
		Long: `Delete an agent, its mailboxes and its mail. An agent whose wallet still
holds money, available or reserved, is refused: its wallet would be orphaned.`,
		Example: `  agentmail agent remove old-agent`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return withAdmin(cmd, g, func(api admin.API) error {
				if err := api.RemoveAgent(a[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed agent %s\n", a[0])
				return nil
			})
		},
	}
}
