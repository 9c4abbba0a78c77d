package billing_test

import (
	"sync"
	"testing"
	"time"

	"agentmail/billing"
	"agentmail/internal/store"
)

// testClock is a ledger clock that tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newLedger opens a ledger in a fresh database with a hand-moved clock.
func newLedger(t *testing.T) (*billing.Ledger, *testClock) {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := newTestClock()
	l, err := billing.Open(db, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return l, clk
}

func usd(t *testing.T, s string) billing.Amount {
	t.Helper()
	a, err := billing.ParseAmount(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// balance returns an agent's available and reserved money in USD.
func balance(t *testing.T, l *billing.Ledger, agent string) (avail, reserved billing.Amount) {
	t.Helper()
	bs, err := l.Balances(agent)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Currency == "USD" {
			return b.Available, b.Reserved
		}
	}
	return 0, 0
}

func wantBalance(t *testing.T, l *billing.Ledger, agent, avail, reserved string) {
	t.Helper()
	a, r := balance(t, l, agent)
	if a != usd(t, avail) || r != usd(t, reserved) {
		t.Errorf("%s: available %s reserved %s, want %s and %s", agent, a, r, avail, reserved)
	}
}

func wantVerified(t *testing.T, l *billing.Ledger) {
	t.Helper()
	breaches, err := l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range breaches {
		t.Errorf("ledger breach: %s", b)
	}
}

func credit(t *testing.T, l *billing.Ledger, agent, amount string) {
	t.Helper()
	_, err := l.Credit(billing.Transfer{Agent: agent, Currency: "USD", Amount: usd(t, amount)})
	if err != nil {
		t.Fatal(err)
	}
}

func hold(l *billing.Ledger, spec billing.HoldSpec) (h billing.Hold, err error) {
	err = l.DB().Update(func(tx *store.Tx) error {
		h, err = l.HoldTx(tx, spec)
		return err
	})
	return h, err
}

func settle(l *billing.Ledger, id string, charge billing.Amount) (h billing.Hold, err error) {
	err = l.DB().Update(func(tx *store.Tx) error {
		h, err = l.SettleTx(tx, id, charge, 0)
		return err
	})
	return h, err
}

func void(l *billing.Ledger, id string) (h billing.Hold, err error) {
	err = l.DB().Update(func(tx *store.Tx) error {
		h, err = l.VoidTx(tx, id, "test")
		return err
	})
	return h, err
}

func expireDue(l *billing.Ledger) (hs []billing.Hold, err error) {
	err = l.DB().Update(func(tx *store.Tx) error {
		hs, err = l.ExpireDueTx(tx, 100)
		return err
	})
	return hs, err
}
