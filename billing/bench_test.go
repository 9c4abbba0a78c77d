package billing_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/billing"
	"agentmail/internal/store"
)

// benchBuyersMax is how many wallets the callers reserve from: one per caller,
// so that no caller runs dry and every reservation succeeds.
const benchBuyersMax = 64

// BenchmarkReservations measures reservations per second with 1, 16 and 64
// concurrent callers, fsync on, in a real temporary directory:
//   - group: through store.DB.Update, whose writer puts every queued
//     reservation in one bbolt transaction and one pair of fsyncs;
//   - single: one bbolt Update, and so one commit and its fsyncs, per
//     reservation, the way a server without group commit would work.
//
// Run it with: go test -run x -bench Reservations -benchtime 3s ./billing/
func BenchmarkReservations(b *testing.B) {
	for _, mode := range []string{"group", "single"} {
		for _, callers := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/callers=%d", mode, callers), func(b *testing.B) {
				benchReservations(b, mode, callers)
			})
		}
	}
}

func benchReservations(b *testing.B, mode string, callers int) {
	db, err := store.Open(b.TempDir(), store.Options{}) // fsync on
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l, err := billing.Open(db, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range benchBuyersMax {
		_, err := l.Credit(billing.Transfer{Agent: benchBuyer(i), Currency: "USD",
			Amount: billing.AmountMax / benchBuyersMax})
		if err != nil {
			b.Fatal(err)
		}
	}

	// Commits are counted by transaction id; the ids are only touched inside
	// write transactions, which bbolt runs one at a time.
	commits := map[int]bool{}
	reserve := func(caller int, n int64) error {
		spec := billing.HoldSpec{ID: fmt.Sprintf("bench-%d-%d", caller, n),
			Payer: benchBuyer(caller), Payee: "seller@localhost", Currency: "USD",
			Amount: 1, TTL: time.Hour}
		if mode == "group" {
			return db.Update(func(tx *store.Tx) error {
				commits[tx.ID()] = true
				_, err := l.HoldTx(tx, spec)
				return err
			})
		}
		return db.Bolt().Update(func(btx *bolt.Tx) error {
			commits[btx.ID()] = true
			_, err := l.HoldTx(&store.Tx{Tx: btx}, spec)
			return err
		})
	}

	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	stats := db.Bolt().Stats()
	writesBefore := stats.TxStats.GetWrite()
	b.ResetTimer()
	start := time.Now()
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
				if err := reserve(c, n); err != nil {
					failed.Store(&err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reservations/s")
	// What a commit carries and costs: reservations per commit, and page
	// writes (runs of dirty pages) per commit, which the fsyncs wait for.
	b.ReportMetric(float64(b.N)/float64(len(commits)), "reservations/commit")
	stats = db.Bolt().Stats()
	writes := stats.TxStats.GetWrite() - writesBefore
	b.ReportMetric(float64(writes)/float64(len(commits)), "writes/commit")
}

func benchBuyer(i int) string { return fmt.Sprintf("buyer%d@localhost", i%benchBuyersMax) }
