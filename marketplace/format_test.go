package marketplace_test

import (
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/testutil"
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

	e := openEnv(t, db, time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC),
		marketplace.Config{ReservationTTL: time.Hour})
	m := e.m
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

// testdata/format3.db was written by store format 3 (whole request records
// as hold memos, a buyer's key in mp_by_agent for every request, balances in
// keys of their own), with a 10% platform fee: the buyer sent paid requests
// settled, voided, open1 (to seller) and open2 (to seller2), and a free one
// to seller2; other bought other1 from seller, settled. After the upgrade
// every request must list once for each of its parties, newest first, and
// the open ones must still settle.
func TestUpgradeFromFormat3(t *testing.T) {
	db := testutil.OpenFixture(t, "testdata/format3.db")
	if db.UpgradedFrom() != 3 {
		t.Fatalf("UpgradedFrom %d, want 3", db.UpgradedFrom())
	}
	e := openEnv(t, db, time.Date(2026, 11, 20, 9, 10, 0, 0, time.UTC),
		marketplace.Config{ReservationTTL: time.Hour, PlatformFeeMicroPercent: 10_000_000})
	m := e.m
	e.verify()
	e.wantBalance(buyer, "9.5", "0.75")
	e.wantBalance(seller, "0.45", "0")

	ids := func(agent string) string { return usageIDs(t, m, agent) }
	want := map[string]string{
		buyer:   "open1:open,open2:open,free:open,voided:voided,settled:settled",
		seller:  "other1:settled,open1:open,voided:voided,settled:settled",
		seller2: "open2:open,free:open",
		other:   "other1:settled",
	}
	for agent, w := range want {
		if got := ids(agent); got != w {
			t.Errorf("%s usage rows %s, want %s", agent, got, w)
		}
	}

	e.respond(seller, "open1", `{}`)
	e.wantBalance(buyer, "9.5", "0.5")
	e.wantBalance(seller, "0.675", "0")
	if got := ids(buyer); got != strings.Replace(want[buyer], "open1:open", "open1:settled", 1) {
		t.Errorf("buyer usage rows after settling open1: %s", got)
	}
	e.verify()
}

// testdata/format4.db is the format-3 fixture above opened by store format 4
// (which moved its balances), after which the buyer sent open3 to seller and
// native-settled to seller2, settled at once (seller2's one free request of
// the month was used by free), the history index caught up, and the buyer
// sent open4 to seller: it has holds of both encodings, indexed history and
// an unindexed tail. Format 5 moves every hold into the records and the id
// index; every request must list as before and the open ones still settle.
func TestUpgradeFromFormat4(t *testing.T) {
	db := testutil.OpenFixture(t, "testdata/format4.db")
	if db.UpgradedFrom() != 4 {
		t.Fatalf("UpgradedFrom %d, want 4", db.UpgradedFrom())
	}
	_ = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("ledger_holds")) != nil {
			t.Error("bucket ledger_holds survived the upgrade")
		}
		return nil
	})
	e := openEnv(t, db, time.Date(2026, 11, 20, 9, 20, 0, 0, time.UTC),
		marketplace.Config{ReservationTTL: time.Hour, PlatformFeeMicroPercent: 10_000_000})
	m := e.m
	e.verify()

	ids := func(agent string) string { return usageIDs(t, m, agent) }
	want := map[string]string{
		buyer: "open4:open,native-settled:settled,open3:open,open1:open,open2:open," +
			"free:open,voided:voided,settled:settled",
		seller:  "open4:open,open3:open,other1:settled,open1:open,voided:voided,settled:settled",
		seller2: "native-settled:settled,open2:open,free:open",
		other:   "other1:settled",
	}
	for agent, w := range want {
		if got := ids(agent); got != w {
			t.Errorf("%s usage rows %s, want %s", agent, got, w)
		}
	}
	// 9.5 and 0.75 in format 3; open3 and open4 hold 0.25 each, and
	// native-settled was charged seller2's 0.5, of which 0.05 in fees.
	e.wantBalance(buyer, "8.5", "1.25")
	e.wantBalance(seller2, "0.45", "0")

	// A moved hold settles, and a new one is reserved and settled.
	e.respond(seller, "open3", `{}`)
	e.request(seller, "open5")
	e.respond(seller, "open5", `{}`)
	e.wantBalance(buyer, "8.25", "1")
	e.wantBalance(seller, "0.9", "0")
	open, err := m.Reservations(marketplace.ReservationFilter{OpenOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var openIDs []string
	for _, r := range open {
		openIDs = append(openIDs, r.ID)
	}
	if got := strings.Join(openIDs, ","); got != "free,open1,open2,open4" {
		t.Errorf("open reservations %s, want free,open1,open2,open4", got)
	}
	e.verify()
}

// usageIDs lists an agent's usage rows, two to a page, as id:status.
func usageIDs(t *testing.T, m *marketplace.Market, agent string) string {
	t.Helper()
	var out []string
	for cursor := ""; ; {
		rows, next, err := m.UsageRows(agent, marketplace.UsageFilter{}, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			out = append(out, r.RequestID+":"+r.Status)
		}
		if next == "" {
			return strings.Join(out, ",")
		}
		cursor = next
	}
}
