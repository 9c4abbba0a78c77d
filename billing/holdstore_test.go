package billing_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/billing"
	"agentmail/internal/store"
)

func holdSpec(t *testing.T, id string) billing.HoldSpec {
	return billing.HoldSpec{ID: id, Payer: "buyer@localhost", Payee: "seller@localhost",
		Currency: "USD", Amount: usd(t, "1"), TTL: time.Hour}
}

// findHold reads a hold by id in its own read transaction.
func findHold(t *testing.T, l *billing.Ledger, id string) (billing.Hold, bool) {
	t.Helper()
	var h billing.Hold
	var ok bool
	err := l.DB().View(func(tx *bolt.Tx) (err error) {
		h, ok, err = l.GetHoldTx(tx, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return h, ok
}

// A hold is found by its id before the id index has it, after, and across a
// restart in between; a second hold with the same id is refused either way.
func TestHoldFoundBeforeAndAfterIndexing(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := billing.Open(db, newTestClock().Now)
	if err != nil {
		t.Fatal(err)
	}
	credit(t, l, "buyer@localhost", "10")
	for _, id := range []string{"b/1", "b/2"} {
		if _, err := hold(l, holdSpec(t, id)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := l.IndexHolds(); err != nil || n != 2 {
		t.Fatalf("IndexHolds: %d, %v; want 2 indexed", n, err)
	}
	if _, err := hold(l, holdSpec(t, "b/3")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"b/1", "b/2", "b/3"} {
		if h, ok := findHold(t, l, id); !ok || h.ID != id || h.Status != billing.HoldOpen {
			t.Errorf("hold %s: %+v, found %v", id, h, ok)
		}
		if _, err := hold(l, holdSpec(t, id)); !errors.Is(err, billing.ErrHoldExists) {
			t.Errorf("second hold %s: %v, want ErrHoldExists", id, err)
		}
	}

	// b/3 is not indexed when the server stops; the next start finds it.
	db.Close()
	db, err = store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err = billing.Open(db, newTestClock().Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findHold(t, l, "b/3"); !ok {
		t.Fatal("unindexed hold b/3 lost across a restart")
	}
	if _, err := hold(l, holdSpec(t, "b/3")); !errors.Is(err, billing.ErrHoldExists) {
		t.Errorf("second hold b/3 after restart: %v, want ErrHoldExists", err)
	}
	if h, err := settle(l, "b/3", usd(t, "0.25")); err != nil || h.Status != billing.HoldSettled {
		t.Fatalf("settle b/3: %+v, %v", h, err)
	}
	if n, err := l.IndexHolds(); err != nil || n != 1 {
		t.Fatalf("IndexHolds after restart: %d, %v; want 1 indexed", n, err)
	}
	if h, ok := findHold(t, l, "b/3"); !ok || h.Status != billing.HoldSettled {
		t.Errorf("b/3 after indexing: %+v, found %v; want settled", h, ok)
	}
	wantBalance(t, l, "buyer@localhost", "7.75", "2")
	wantVerified(t, l)
}

// A hold whose transaction rolled back is not found, even when the next
// hold is written under the number it had, and its id stays free.
func TestRolledBackHoldNotFound(t *testing.T) {
	l, _ := newLedger(t)
	credit(t, l, "buyer@localhost", "10")
	refused := errors.New("refused after the hold")
	err := l.DB().Update(func(tx *store.Tx) error {
		if _, err := l.HoldTx(tx, holdSpec(t, "b/gone")); err != nil {
			return err
		}
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("update: %v", err)
	}
	if _, err := hold(l, holdSpec(t, "b/next")); err != nil {
		t.Fatal(err)
	}
	if h, ok := findHold(t, l, "b/gone"); ok {
		t.Fatalf("rolled-back hold found: %+v", h)
	}
	if h, ok := findHold(t, l, "b/next"); !ok || h.ID != "b/next" {
		t.Fatalf("b/next: %+v, found %v", h, ok)
	}
	if _, err := hold(l, holdSpec(t, "b/gone")); err != nil {
		t.Fatalf("the rolled-back id must be free: %v", err)
	}
	if _, err := l.IndexHolds(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"b/gone", "b/next"} {
		if _, ok := findHold(t, l, id); !ok {
			t.Errorf("%s not found after indexing", id)
		}
	}
	wantBalance(t, l, "buyer@localhost", "8", "2")
	wantVerified(t, l)
}

// A read transaction that began before IndexHolds committed still finds
// the holds it can see, though the ledger no longer remembers them as
// recent and its snapshot has no index entries for them.
func TestOldSnapshotFindsHoldsIndexedSince(t *testing.T) {
	l, _ := newLedger(t)
	credit(t, l, "buyer@localhost", "10")
	for _, id := range []string{"b/1", "b/2", "b/3"} {
		if _, err := hold(l, holdSpec(t, id)); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := l.DB().Bolt().Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if n, err := l.IndexHolds(); err != nil || n != 3 {
		t.Fatalf("IndexHolds: %d, %v", n, err)
	}
	if _, err := hold(l, holdSpec(t, "b/4")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"b/1", "b/2", "b/3"} {
		if h, ok, err := l.GetHoldTx(tx, id); err != nil || !ok || h.ID != id {
			t.Errorf("old snapshot, %s: %+v, %v, %v", id, h, ok, err)
		}
	}
	if h, ok, err := l.GetHoldTx(tx, "b/4"); err != nil || ok {
		t.Errorf("old snapshot sees b/4, made after it: %+v, %v, %v", h, ok, err)
	}
	var ids []string
	if err := billing.EachHoldTx(tx, func(h billing.Hold) (bool, error) {
		ids = append(ids, h.ID)
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids, ","); got != "b/1,b/2,b/3" {
		t.Errorf("old snapshot lists %s", got)
	}
}

// Holds are listed in id order whether they are indexed or not.
func TestEachHoldMergesIndexedAndRecent(t *testing.T) {
	l, _ := newLedger(t)
	credit(t, l, "buyer@localhost", "10")
	for _, id := range []string{"b/4", "b/1", "b/6"} {
		if _, err := hold(l, holdSpec(t, id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.IndexHolds(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"b/5", "b/0", "b/3", "b/7"} {
		if _, err := hold(l, holdSpec(t, id)); err != nil {
			t.Fatal(err)
		}
	}
	list := func(limit int) string {
		var ids []string
		err := l.DB().View(func(tx *bolt.Tx) error {
			return billing.EachHoldTx(tx, func(h billing.Hold) (bool, error) {
				ids = append(ids, h.ID)
				return len(ids) < limit, nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(ids, ",")
	}
	if got := list(100); got != "b/0,b/1,b/3,b/4,b/5,b/6,b/7" {
		t.Errorf("holds listed %s", got)
	}
	if got := list(3); got != "b/0,b/1,b/3" {
		t.Errorf("first three listed %s", got)
	}
}

// Verify names an id index that misses an indexed hold or names the wrong
// record.
func TestVerifyChecksHoldIndex(t *testing.T) {
	l, _ := newLedger(t)
	credit(t, l, "buyer@localhost", "10")
	for _, id := range []string{"b/1", "b/2"} {
		if _, err := hold(l, holdSpec(t, id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.IndexHolds(); err != nil {
		t.Fatal(err)
	}
	wantVerified(t, l)
	err := l.DB().Update(func(tx *store.Tx) error {
		ids := tx.Bucket([]byte("ledger_hold_ids"))
		if err := ids.Put([]byte("b/9"), ids.Get([]byte("b/1"))); err != nil {
			return err
		}
		return ids.Delete([]byte("b/2"))
	})
	if err != nil {
		t.Fatal(err)
	}
	breaches, err := l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range breaches {
		got = append(got, b.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{"index entry b/9 names no hold of that id",
		"hold b/2 at 2 is below the index's watermark 2 but not in the index"} {
		if !strings.Contains(all, want) {
			t.Errorf("breaches %q lack %q", all, want)
		}
	}
}

// Two ledgers over one database share what they know of recent holds: a
// hold made through one is found, and not made again, through the other
// before the id index has it.
func TestLedgersOfOneDatabaseShareRecentHolds(t *testing.T) {
	l1, _ := newLedger(t)
	l2, err := billing.Open(l1.DB(), newTestClock().Now)
	if err != nil {
		t.Fatal(err)
	}
	credit(t, l1, "buyer@localhost", "10")
	if _, err := hold(l1, holdSpec(t, "b/1")); err != nil {
		t.Fatal(err)
	}
	if _, ok := findHold(t, l2, "b/1"); !ok {
		t.Fatal("a hold made through one ledger is not found through the other")
	}
	if _, err := hold(l2, holdSpec(t, "b/1")); !errors.Is(err, billing.ErrHoldExists) {
		t.Fatalf("the same hold through the other ledger: %v, want ErrHoldExists", err)
	}
	wantBalance(t, l2, "buyer@localhost", "9", "1")
	wantVerified(t, l2)
}
