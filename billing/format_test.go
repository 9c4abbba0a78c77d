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

	wantUpgraded(t, l, []agentState{
		{"buyer@localhost", "8.25", "1", 8},
		{"other@localhost", "2.25", "1", 3},
		{"seller@localhost", "0.45", "0", 1},
	}, billing.Total{Currency: "USD", Available: usd(t, "10.95"), Reserved: usd(t, "2"),
		Platform: usd(t, "0.05"), World: -billing.Delta(usd(t, "13"))})

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

// check and restore verify a backup before any upgrade: the ledgers of the
// format-2 and format-3 fixtures, and of the marketplace's format-4 one, must
// verify clean as they are.
func TestVerifyOldFormatsAsTheyAre(t *testing.T) {
	for _, fixture := range []string{"testdata/format2.db", "testdata/format3.db",
		"../marketplace/testdata/format4.db"} {
		b, err := bolt.Open(fixture, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		err = b.View(func(tx *bolt.Tx) error {
			breaches, err := billing.VerifyTx(tx)
			if len(breaches) > 0 {
				t.Errorf("breaches in %s: %v", fixture, breaches)
			}
			return err
		})
		b.Close()
		if err != nil {
			t.Fatalf("%s: %v", fixture, err)
		}
	}
}

// testdata/format3.db was written by store format 3, which kept balances in
// keys of their own beside each owner's history, through the marketplace:
// credits in USD and EUR, a transfer, paid requests settled with a 10%
// platform fee, voided and left open, and a free one. Opening it must move
// every balance into its owner's newest history key with nothing else
// changed, and the ledger must keep working.
func TestUpgradeFromFormat3(t *testing.T) {
	db := testutil.OpenFixture(t, "testdata/format3.db")
	if db.UpgradedFrom() != 3 {
		t.Fatalf("UpgradedFrom %d, want 3", db.UpgradedFrom())
	}
	l, err := billing.Open(db, newTestClock().Now)
	if err != nil {
		t.Fatal(err)
	}
	wantVerified(t, l)
	wantUpgraded(t, l, []agentState{
		{"buyer@localhost", "9.5", "0.75", 9},
		{"other@localhost", "2.25", "0", 4},
		{"seller@localhost", "0.45", "0", 2},
		{"seller2@localhost", "0", "0", 0},
	}, billing.Total{Currency: "USD", Available: usd(t, "12.2"), Reserved: usd(t, "0.75"),
		Platform: usd(t, "0.05"), World: -billing.Delta(usd(t, "13"))})
	totals, _ := l.Totals()
	if got := totals[0]; got.Available != usd(t, "2") || got.World != -billing.Delta(usd(t, "2")) {
		t.Errorf("EUR totals %+v", got)
	}

	// The upgraded ledger keeps working: an open hold settles with a fee,
	// a new one is reserved, and the books still balance.
	if err := db.Update(func(tx *store.Tx) error {
		_, err := l.SettleTx(tx, "buyer@localhost/open1", usd(t, "0.25"), usd(t, "0.025"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := hold(l, billing.HoldSpec{ID: "buyer@localhost/new", Payer: "buyer@localhost",
		Payee: "seller@localhost", Currency: "USD", Amount: usd(t, "1"), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	wantBalance(t, l, "buyer@localhost", "8.5", "1.5")
	wantBalance(t, l, "seller@localhost", "0.675", "0")
	totals, _ = l.Totals()
	if got := totals[1]; got.Platform != usd(t, "0.075") || got.Available+got.Reserved+
		got.Platform != usd(t, "13") {
		t.Errorf("USD totals after settling %+v", got)
	}
	wantVerified(t, l)
}

// agentState is what an upgraded fixture must show for one agent.
type agentState struct {
	agent, avail, reserved string
	entries                int // in its history
}

// wantUpgraded checks the balances and history length of each agent, that
// the buyer holds EUR 2 besides its USD, and the USD totals of a fixture
// with USD and EUR.
func wantUpgraded(t *testing.T, l *billing.Ledger, agents []agentState, usdTotal billing.Total) {
	t.Helper()
	for _, c := range agents {
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
	if totals[1] != usdTotal {
		t.Errorf("USD totals %+v, want %+v", totals[1], usdTotal)
	}
}
