package billing

import (
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

// The world account is the negative of all money in wallets. Each wallet is
// bounded by AmountMax, but their sum is not: ten full wallets already need
// more than int64 holds.
func TestWorldBalanceDoesNotWrap(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		_, err := l.Credit(Transfer{Agent: fmt.Sprintf("a%d@localhost", i), Currency: "USD",
			Amount: AmountMax})
		if err != nil {
			t.Logf("credit %d refused: %v", i, err)
			return // refusing is an acceptable answer; wrapping is not
		}
	}
	var world int64
	_ = db.View(func(tx *bolt.Tx) error {
		world = balanceTx(tx, World, "USD")
		return nil
	})
	breaches, _ := l.Verify()
	if world > 0 {
		t.Errorf("after crediting 10 wallets AmountMax each the world account reads "+
			"%d micros (should be -10^19, which int64 cannot hold); Verify reports %d "+
			"breaches because its sums wrap the same way", world, len(breaches))
	}
}
