package crashtest

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"agentmail/internal/store"
)

// fixturePassword is every agent's password in testdata/format0.db.
const fixturePassword = "correct-horse-battery"

// checkJSON runs agentmail check --json on a stopped data directory.
func checkJSON(t *testing.T, dir string) (version uint64, problems []string) {
	t.Helper()
	r, err := Run(binary, "", "--data", dir, "check", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		FormatVersion uint64   `json:"format_version"`
		Problems      []string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("check --json: %v\n%s%s", err, r.Stdout, r.Stderr)
	}
	return rep.FormatVersion, rep.Problems
}

// testdata/format0.db was written by agentmail before the data format had a
// version (format 0): a buyer and a seller, a settled request (req-1), an
// open one (req-2) and a plain message. The server upgrades it at start-up
// and serves everything in it; the request left open settles after the
// upgrade.
func TestUpgradeFromFormat0(t *testing.T) {
	dir := t.TempDir()
	fixture, err := os.ReadFile(filepath.Join("testdata", "format0.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "agentmail.db"), fixture, 0o600); err != nil {
		t.Fatal(err)
	}
	if v, problems := checkJSON(t, dir); v != 0 || len(problems) > 0 {
		t.Fatalf("fixture before the upgrade: format %d, problems %v", v, problems)
	}

	srv, err := StartServer(binary, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Kill() }()
	want := map[string][]string{
		"seller INBOX": {"req-1", "req-2"},
		"buyer INBOX":  {"plain-1", "resp-1"},
	}
	for who, tokens := range want {
		agent, mailbox, _ := cutSpace(who)
		c, err := IMAPLoginWith(srv.IMAP, agent, fixturePassword)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := ReadMailbox(c, mailbox, 0, false)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range msgs {
			got = append(got, m.Token)
		}
		slices.Sort(got)
		if !slices.Equal(got, tokens) {
			t.Errorf("%s after the upgrade: %v, want %v", who, got, tokens)
		}
	}

	// The upgraded store takes writes: a new paid request and its response.
	for _, a := range []string{"buyer", "seller"} {
		if err := cli(binary, Password+"\n", dir, "agent", "passwd", a,
			"--password-stdin"); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []struct {
		sent  *Sent
		extra []string
	}{
		{&Sent{Token: "req-3", From: "buyer", To: []string{"seller"}},
			[]string{"X-AgentMail-Marketplace-Request-Id: req-3"}},
		{&Sent{Token: "resp-3", From: "seller", To: []string{"buyer"}},
			[]string{"X-AgentMail-Marketplace-Request-Id: req-3",
				`X-AgentMail-Usage: {"outcomes_returned": 1}`}},
	} {
		out, err := Send(srv.SMTP, s.sent.From, s.sent.To, compose(s.sent, s.extra...))
		if out != Accepted {
			t.Fatalf("%s after the upgrade: %s %v", s.sent.Token, out, err)
		}
	}
	rows, err := Usage(srv.HTTP, "buyer")
	if err != nil {
		t.Fatal(err)
	}
	// req-2 was reserved for an hour from 2026-12-03T12:00Z by the
	// fixture's clock; the server's wall clock decides whether it is due.
	req2 := "open"
	if time.Now().After(time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC)) {
		req2 = "expired"
	}
	wantStatus := map[string]string{"req-1": "settled", "req-2": req2, "req-3": "settled"}
	got := map[string]string{}
	for _, row := range rows {
		got[row.RequestID] = row.Status
	}
	if !maps.Equal(got, wantStatus) {
		t.Errorf("requests after the upgrade: %v, want %v", got, wantStatus)
	}

	if err := srv.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if v, problems := checkJSON(t, dir); v != store.FormatVersion || len(problems) > 0 {
		t.Fatalf("after the upgrade: format %d, problems %v", v, problems)
	}
}

func cutSpace(s string) (string, string, bool) {
	for i := range s {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
