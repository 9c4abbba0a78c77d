package marketplace_test

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/billing"
	"agentmail/internal/testutil"
	"agentmail/mailstore"
	"agentmail/marketplace"
)

// testdata/format2.db was written by the marketplace of store format 2, where
// every request record was in mp_requests: with a seller's pricing of 0.25
// and one free request a month, the buyer (10 USD) sent free1, paid-open,
// paid-settled (answered with a charge of 0.25) and paid-voided (voided by
// the operator). The upgrade moves the paid records into their holds; every
// request must read as before and the open one must still settle.
func TestUpgradeFromFormat2(t *testing.T) {
	db := testutil.OpenFixture(t, "testdata/format2.db")
	if db.UpgradedFrom() != 2 {
		t.Fatalf("UpgradedFrom %d, want 2", db.UpgradedFrom())
	}
	_ = db.View(func(tx *bolt.Tx) error {
		var keys []string
		_ = tx.Bucket([]byte("mp_requests")).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
		if len(keys) != 1 || keys[0] != buyer+"/free1" {
			t.Errorf("mp_requests after the upgrade: %q, want only the free request", keys)
		}
		return nil
	})

	clk := &testClock{now: time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)}
	ledger, err := billing.Open(db, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	mail, err := mailstore.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := marketplace.New(ledger, mail, marketplace.Config{ReservationTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clk: clk, ledger: ledger, mail: mail, m: m}
	e.verify()
	e.wantBalance(buyer, "9.5", "0.25")

	rs, err := m.Reservations(marketplace.ReservationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, status, charged string }{
		{"free1", marketplace.StatusOpen, "0"},
		{"paid-open", marketplace.StatusOpen, "0"},
		{"paid-settled", marketplace.StatusSettled, "0.25"},
		{"paid-voided", marketplace.StatusVoided, "0"},
	}
	if len(rs) != len(want) {
		t.Fatalf("%d reservations after the upgrade, want %d: %+v", len(rs), len(want), rs)
	}
	for i, w := range want {
		if r := rs[i]; r.ID != w.id || r.Status != w.status || r.Charged != amt(t, w.charged) {
			t.Errorf("reservation %d: %s %s %s, want %+v", i, r.ID, r.Status, r.Charged, w)
		}
	}
	rows, _, err := m.UsageRows(buyer, marketplace.UsageFilter{}, "", 100)
	if err != nil || len(rows) != 4 {
		t.Errorf("buyer usage rows: %d, %v; want 4", len(rows), err)
	}

	e.respond(seller, "paid-open", `{}`)
	e.wantBalance(buyer, "9.5", "0")
	e.wantBalance(seller, "0.5", "0")
	e.verify()
	if open, _ := m.Reservations(marketplace.ReservationFilter{OpenOnly: true}); len(open) != 1 {
		t.Errorf("open reservations after settling paid-open: %+v, want free1 only", open)
	}
}
