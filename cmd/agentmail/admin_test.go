package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The admin commands with no server running open the data directory
// themselves.
func TestAdminCommandsServerStopped(t *testing.T) {
	t.Parallel()
	exerciseAdmin(t, t.TempDir())
}

// AGENTMAIL_DATA chooses the data directory when --data is not given.
func TestDataDirFromEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := []string{envData + "=" + dir}
	if r := agentmailEnv(t, env, "", "agent", "add", "envagent"); r.code != exitOK {
		t.Fatalf("agent add: exit %d: %s", r.code, r.stderr)
	}
	out := ok(t, "", "--data", dir, "agent", "list")
	if !strings.Contains(out, "envagent@localhost") {
		t.Errorf("agent list of %s:\n%s", dir, out)
	}
}

// exerciseAdmin runs every admin command against the data directory dir,
// whether a server holds it or not.
func exerciseAdmin(t *testing.T, dir string) {
	t.Helper()
	am := func(stdin string, args ...string) string {
		t.Helper()
		return ok(t, stdin, append([]string{"--data", dir}, args...)...)
	}

	out := am("buyer-password-1\n", "agent", "add", "buyer", "--password-stdin")
	if strings.Contains(out, "password:") {
		t.Errorf("agent add printed a password it was given:\n%s", out)
	}
	if out = am("", "agent", "add", "seller@localhost"); !strings.Contains(out, "password: ") {
		t.Errorf("agent add did not print the generated password:\n%s", out)
	}
	var agents []struct {
		ID      string `json:"agent_id"`
		Address string `json:"address"`
	}
	decode(t, am("", "agent", "list", "--json"), &agents)
	if len(agents) != 2 || agents[0].ID != "buyer" || agents[1].Address != "seller@localhost" {
		t.Errorf("agent list --json: %+v", agents)
	}
	am("new-password-2\n", "agent", "passwd", "buyer", "--password-stdin")

	checkWallet(t, am)
	checkLedgerCommands(t, dir, am)
	checkFailedBackup(t, dir)
	checkPricing(t, dir, am)

	am("", "agent", "remove", "seller")
	r := agentmail(t, "", "--data", dir, "agent", "remove", "buyer")
	if r.code != exitError || !strings.Contains(r.stderr, "wallet holds") {
		t.Errorf("removing a funded agent: exit %d, %s", r.code, r.stderr)
	}
}

func checkWallet(t *testing.T, am func(string, ...string) string) {
	t.Helper()
	am("", "wallet", "credit", "buyer", "10.00", "--note", "top-up", "--ref", "t1")
	am("", "wallet", "credit", "buyer", "10.00", "--note", "top-up", "--ref", "t1") // same ref

	var balance struct {
		ID       string `json:"agent_id"`
		Balances []struct {
			Currency  string      `json:"currency"`
			Available json.Number `json:"available"`
			Reserved  json.Number `json:"reserved"`
		} `json:"balances"`
	}
	decode(t, am("", "wallet", "balance", "buyer", "--json"), &balance)
	if len(balance.Balances) != 1 || balance.Balances[0].Available != "10" ||
		balance.Balances[0].Currency != "USD" {
		t.Errorf("wallet balance --json: %+v", balance)
	}
	if out := am("", "wallet", "balance", "buyer"); !strings.Contains(out, "10.000000") {
		t.Errorf("wallet balance:\n%s", out)
	}

	var page struct{ Rows []map[string]any }
	decode(t, am("", "wallet", "history", "buyer", "--json", "--limit", "5"), &page)
	history := page.Rows
	if len(history) != 1 || history[0]["kind"] != "credit" || history[0]["note"] != "top-up" {
		t.Errorf("wallet history --json: %v", history)
	}
}

func checkPricing(t *testing.T, dir string, am func(string, ...string) string) {
	t.Helper()
	show := func() map[string]any {
		t.Helper()
		var p map[string]any
		decode(t, am("", "pricing", "show", "seller", "--json"), &p)
		return p
	}

	am("", "pricing", "set", "seller", "--model", "per_request", "--base-price", "0.25",
		"--free-quota", "2", "--unit-price", "page=0.01", "--summary", "Answers")
	p := show()
	if p["base_price"] != json.Number("0.25") || p["free_quota"] != json.Number("2") ||
		p["listing_summary"] != "Answers" {
		t.Errorf("pricing after set by flags: %v", p)
	}

	file := filepath.Join(t.TempDir(), "pricing.json")
	body := `{"pricing_model": "token_based", "token_price_input": 3,
		"token_price_output": "15", "max_charge": 0.5}`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	am("", "pricing", "set", "seller", "--file", file)
	if p := show(); p["pricing_model"] != "token_based" || p["max_charge"] != json.Number("0.5") {
		t.Errorf("pricing after set by file: %v", p)
	}
	am(`{"base_price": 1, "enabled": false}`, "pricing", "set", "seller", "--file", "-")
	if p := show(); p["enabled"] != false || p["base_price"] != json.Number("1") {
		t.Errorf("pricing after set from stdin: %v", p)
	}
	if out := am("", "pricing", "show", "seller"); !strings.Contains(out, "1.000000") {
		t.Errorf("pricing show:\n%s", out)
	}
	checkBadPricing(t, dir)
}

// Bad pricing is refused with a message naming the field, and changes
// nothing.
func checkBadPricing(t *testing.T, dir string) {
	t.Helper()
	for _, tc := range []struct {
		stdin string
		args  []string
		field string
	}{
		{"", []string{"--base-price", "0.1234567"}, "base_price"},
		{"", []string{"--model", "outcome_based", "--outcome-price", "1"}, "max_charge"},
		{"", []string{"--unit-price", "page"}, "--unit-price"},
		{`{"pricing_model": "per_request", "minimum_charge": 0.0000001}`, []string{"--file", "-"},
			"minimum_charge"},
		{`{"base_price": 1, "colour": "red"}`, []string{"--file", "-"}, "colour"},
	} {
		args := append([]string{"--data", dir, "pricing", "set", "seller"}, tc.args...)
		r := agentmail(t, tc.stdin, args...)
		if r.code == exitOK || !strings.Contains(r.stderr, tc.field) {
			t.Errorf("pricing set %v: exit %d, stderr %q; want failure naming %s", tc.args,
				r.code, r.stderr, tc.field)
		}
	}
	if out := ok(t, "", "--data", dir, "pricing", "show", "seller"); !strings.Contains(out,
		"1.000000") {
		t.Errorf("refused pricing changed the stored one:\n%s", out)
	}
}

// --config sets the data directory and the primary domain; a bad file is
// an error naming the key.
func TestConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "agentmail.toml")
	body := "data_dir = " + strconv.Quote(filepath.Join(dir, "data")) +
		"\ndomain = \"agents.example.com\"\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out := ok(t, "", "--config", file, "agent", "add", "seller", "--json")
	if !strings.Contains(out, `"address": "seller@agents.example.com"`) {
		t.Errorf("agent add with the config's domain:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Errorf("config's data_dir not used: %v", err)
	}

	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("domian = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := agentmail(t, "", "--config", bad, "agent", "list")
	if r.code != exitError || !strings.Contains(r.stderr, "domian") {
		t.Errorf("bad config: exit %d, %s", r.code, r.stderr)
	}
}

// checkLedgerCommands runs debit, transfer, the reports, reservations and
// verify; buyer holds 10.00 when it starts and again when it returns.
func checkLedgerCommands(t *testing.T, dir string, am func(string, ...string) string) {
	t.Helper()
	if r := agentmail(t, "", "--data", dir, "wallet", "debit", "buyer", "1"); r.code != exitError ||
		!strings.Contains(r.stderr, "note") {
		t.Errorf("debit without --note: exit %d, %s", r.code, r.stderr)
	}
	am("", "wallet", "debit", "buyer", "1.5", "--note", "payout")
	am("", "wallet", "transfer", "buyer", "seller", "0.25", "--note", "goodwill")
	am("", "wallet", "transfer", "seller", "buyer", "0.25", "--note", "undo goodwill")
	am("", "wallet", "credit", "buyer", "1.5", "--note", "top-up again")

	csv := am("", "wallet", "history", "buyer", "--kind", "transfer", "--csv")
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "seq,time,kind") ||
		!strings.Contains(lines[1], ",transfer,USD,0.250000,") ||
		!strings.Contains(lines[2], ",transfer,USD,-0.250000,") {
		t.Errorf("history --kind transfer --csv:\n%s", csv)
	}
	if out := am("", "wallet", "usage", "buyer", "--csv"); !strings.HasPrefix(out,
		"marketplace_request_id,role,counterparty,status") {
		t.Errorf("usage --csv:\n%s", out)
	}
	if out := am("", "reservation", "list", "--open", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("reservation list --open --json with no requests: %s", out)
	}
	r := agentmail(t, "", "--data", dir, "reservation", "void", "buyer@localhost/nope",
		"--note", "x")
	if r.code != exitError || !strings.Contains(r.stderr, "no such reservation") {
		t.Errorf("void of an unknown reservation: exit %d, %s", r.code, r.stderr)
	}
	if out := am("", "ledger", "verify"); !strings.Contains(out, "every invariant holds") ||
		!strings.Contains(out, "-10.000000") {
		t.Errorf("ledger verify:\n%s", out)
	}
}

// A backup that cannot be written fails, even unchecked, whether the server
// runs (the socket path) or not.
func checkFailedBackup(t *testing.T, dir string) {
	t.Helper()
	target := filepath.Join(t.TempDir(), "missing", "dir", "backup.db")
	r := agentmail(t, "", "--data", dir, "backup", target, "--skip-check")
	if r.code != exitError || strings.Contains(r.stdout, "written") {
		t.Errorf("backup to %s: exit %d, stdout %q, stderr %q; want a failure", target,
			r.code, r.stdout, r.stderr)
	}
}
