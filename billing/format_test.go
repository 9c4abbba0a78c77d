package billing_test

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/billing"
	"agentmail/internal/store"
	"agentmail/internal/testutil"
)

// testdata/format2.db was written by the ledger of store format 2 (balances
// in ledger_balances keyed by account, history in ledger_by_agent): credits
// in USD and EUR, four holds of which one settled with a fee, one voided and
// two open, and a transfer. Opening it must upgrade it to the current layout
// with every balance, history entry and total unchanged.
func TestUpgradeFromFormat2(t *testing.T) {
	db := testutil.OpenFixture(t, "testdata/format2.db")
	if db.UpgradedFrom() != 2 {
		t.Fatalf("UpgradedFrom %d, want 2", db.UpgradedFrom())
	}
	_ = db.View(func(tx *bolt.Tx) error {
		for _, name := range []string{"ledger_balances", "ledger_by_agent"} {
			if tx.Bucket([]byte(name)) != nil {
				t.Errorf("bucket %s survived the upgrade", name)
			}
		}
		return nil
	})
	clk := newTestClock()
	l, err := billing.Open(db, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	wantVerified(t, l)

	for _, c := range []struct {
		agent, avail, reserved string
		entries                int
	}{
		{"buyer@localhost", "8.25", "1", 8},
		{"other@localhost", "2.25", "1", 3},
		{"seller@localhost", "0.45", "0", 1},
	} {
		wantBalance(t, l, c.agent, c.avail, c.reserved)
		h, _, err := l.History(c.agent, billing.HistoryFilter{}, 0, 100)
		if err != nil || len(h) != c.entries {
			t.Errorf("%s: %d history entries (%v), want %d", c.agent, len(h), err, c.entries)
		}
	}
	bs, _ := l.Balances("buyer@localhost")
	if len(bs) != 2 || bs[0].Currency != "EUR" || bs[0].Available != usd(t, "2") {
		t.Errorf("buyer balances %+v, want EUR 2 first", bs)
	}
	totals, err := l.Totals()
	if err != nil || len(totals) != 2 {
		t.Fatalf("Totals %+v, %v", totals, err)
	}
	if got := totals[1]; got.Available != usd(t, "10.95") || got.Reserved != usd(t, "2") ||
		got.Platform != usd(t, "0.05") || got.World != -billing.Delta(usd(t, "13")) {
		t.Errorf("USD totals %+v", got)
	}

	// The upgraded ledger keeps working: an open hold settles, a new one is
	// reserved.
	if err := db.Update(func(tx *store.Tx) error {
		_, err := l.SettleTx(tx, "buyer@localhost/r3", usd(t, "1"), 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := hold(l, billing.HoldSpec{ID: "buyer@localhost/r5", Payer: "buyer@localhost",
		Payee: "seller@localhost", Currency: "USD", Amount: usd(t, "2"), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	wantBalance(t, l, "buyer@localhost", "6.25", "2")
	wantBalance(t, l, "seller@localhost", "1.45", "0")
	wantVerified(t, l)
}

// check and restore verify a backup before any upgrade: the format-2 ledger
// must verify clean as it is.
func TestVerifyFormat2AsItIs(t *testing.T) {
	b, err := bolt.Open("testdata/format2.db", 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.View(func(tx *bolt.Tx) error {
		breaches, err := billing.VerifyTx(tx)
		if len(breaches) > 0 {
			t.Errorf("breaches in the format-2 fixture: %v", breaches)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
