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
//     reservation, the way a server without group commit would work;
//   - ratio: both, in alternating blocks on one database, reporting the
//     group rate over the single rate. The disk of a shared machine speeds
//     up and slows down over seconds, so two rates measured one after the
//     other can differ by half; interleaved, both see the same disk.
//
// Run it with: go test -run '^$' -bench Reservations -benchtime 3s ./billing/
func BenchmarkReservations(b *testing.B) {
	for _, mode := range []string{"group", "single"} {
		for _, callers := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/callers=%d", mode, callers), func(b *testing.B) {
				r := newBenchReserver(b)
				b.ResetTimer()
				ph := r.run(mode, callers, int64(b.N))
				b.StopTimer()
				ph.report(b, "")
			})
		}
	}
	b.Run("ratio/callers=64", func(b *testing.B) {
		r := newBenchReserver(b)
		b.ResetTimer()
		// Blocks of about the same duration: a single commit costs about
		// ten group ones.
		const groupBlock, singleBlock = 4096, 512
		var group, single phase
		for done := 0; done < b.N; {
			group.add(r.run("group", 64, groupBlock))
			single.add(r.run("single", 64, singleBlock))
			done += groupBlock + singleBlock
		}
		b.StopTimer()
		group.report(b, "group-")
		single.report(b, "single-")
		b.ReportMetric(group.rate()/single.rate(), "group/single")
	})
}

// benchReserver holds a ledger whose buyers can pay for any number of
// reservations.
type benchReserver struct {
	b    *testing.B
	db   *store.DB
	l    *billing.Ledger
	next atomic.Int64 // hold ids are unique across runs on one database
}

func newBenchReserver(b *testing.B) *benchReserver {
	db, err := store.Open(b.TempDir(), store.Options{}) // fsync on
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
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
	return &benchReserver{b: b, db: db, l: l}
}

// phase is what a run measured.
type phase struct {
	ops, commits, writes int64
	elapsed              time.Duration
}

func (p *phase) add(q phase) {
	p.ops, p.commits, p.writes = p.ops+q.ops, p.commits+q.commits, p.writes+q.writes
	p.elapsed += q.elapsed
}

func (p phase) rate() float64 { return float64(p.ops) / p.elapsed.Seconds() }

// report gives the rate, and what a commit carries and costs: reservations
// per commit, and page writes per commit, which the fsyncs wait for.
func (p phase) report(b *testing.B, prefix string) {
	b.ReportMetric(p.rate(), prefix+"reservations/s")
	b.ReportMetric(float64(p.ops)/float64(p.commits), prefix+"reservations/commit")
	b.ReportMetric(float64(p.writes)/float64(p.commits), prefix+"writes/commit")
}

// run makes n reservations from the given number of concurrent callers and
// indexes their history.
func (r *benchReserver) run(mode string, callers int, n int64) phase {
	// Commits are counted by transaction id; the ids are only touched inside
	// write transactions, which bbolt runs one at a time.
	commits := map[int]bool{}
	reserve := func(caller int, id int64) error {
		spec := billing.HoldSpec{ID: fmt.Sprintf("bench-%d-%d", caller, id),
			Payer: benchBuyer(caller), Payee: "seller@localhost", Currency: "USD",
			Amount: 1, TTL: time.Hour}
		if mode == "group" {
			return r.db.Update(func(tx *store.Tx) error {
				commits[tx.ID()] = true
				_, err := r.l.HoldTx(tx, spec)
				return err
			})
		}
		return r.db.Bolt().Update(func(btx *bolt.Tx) error {
			commits[btx.ID()] = true
			_, err := r.l.HoldTx(&store.Tx{Tx: btx}, spec)
			return err
		})
	}

	var left atomic.Int64
	left.Store(n)
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	stats := r.db.Bolt().Stats()
	writesBefore := stats.TxStats.GetWrite()
	start := time.Now()
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if err := reserve(c, r.next.Add(1)); err != nil {
					failed.Store(&err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// The history and hold indexes of the run's entries are written
	// afterwards, in batches, as the server does every second; the run pays
	// for them.
	if _, err := r.l.IndexHistory(); err != nil {
		r.b.Fatal(err)
	}
	if _, err := r.l.IndexHolds(); err != nil {
		r.b.Fatal(err)
	}
	elapsed := time.Since(start)
	if err := failed.Load(); err != nil {
		r.b.Fatal(*err)
	}
	stats = r.db.Bolt().Stats()
	return phase{ops: n, commits: int64(len(commits)),
		writes: stats.TxStats.GetWrite() - writesBefore, elapsed: elapsed}
}

func benchBuyer(i int) string { return fmt.Sprintf("buyer%d@localhost", i%benchBuyersMax) }
