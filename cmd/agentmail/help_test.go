package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command explains itself: Short, Long and Example are set, and its
// --help exits 0 and names each of its subcommands.
func TestHelpOfEveryCommand(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" {
			return
		}
		path := strings.Fields(c.CommandPath())[1:]
		t.Run(strings.Join(append([]string{"agentmail"}, path...), "_"), func(t *testing.T) {
			t.Parallel()
			if c.Short == "" || c.Long == "" || c.Example == "" {
				t.Errorf("%q lacks Short, Long or Example", c.CommandPath())
			}
			out := ok(t, "", append(path, "--help")...)
			for _, want := range []string{"Usage:", "Examples:", c.Long[:20]} {
				if !strings.Contains(out, want) {
					t.Errorf("--help of %q lacks %q:\n%s", c.CommandPath(), want, out)
				}
			}
			for _, sub := range c.Commands() {
				if !strings.Contains(out, sub.Name()) {
					t.Errorf("--help of %q does not mention %q", c.CommandPath(), sub.Name())
				}
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown command", []string{"serv"}, exitUsage, `unknown command "serv"`},
		{"unknown subcommand", []string{"wallet", "withdraw"}, exitUsage, "unknown command"},
		{"missing argument", []string{"agent", "add"}, exitUsage, "accepts 1 arg"},
		{"unknown flag", []string{"agent", "list", "--nope"}, exitUsage, "unknown flag"},
		{"bad amount", []string{"wallet", "credit", "a", "1.1234567"}, exitUsage, "AMOUNT"},
		{"bad limit", []string{"wallet", "history", "a", "--limit", "0"}, exitUsage, "--limit"},
		{"pricing without fields", []string{"pricing", "set", "a"}, exitUsage, "--file"},
		{"no such agent", []string{"wallet", "balance", "ghost"}, exitError, "no such agent"},
		{"group alone shows help", []string{"agent"}, exitOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := agentmail(t, "", append([]string{"--data", dir}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tc.code,
					tc.want)
			}
		})
	}
}
