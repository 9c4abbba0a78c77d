package marketplace_test

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"agentmail/billing"
	"agentmail/internal/store"
	"agentmail/mailstore"
	"agentmail/marketplace"
)

// benchSenders is how many agents submit at once, as in the load tool's
// default comparison (50 senders, each to its own recipient).
const benchSenders = 50

// BenchmarkSubmit measures what the writer can take of plain 2 KiB mail and
// of paid requests (reservation and delivery in one commit), fsync on, with
// 50 concurrent senders each writing to its own recipient; "ratio" runs both
// in alternating blocks on one database and reports paid over plain, the
// figure the load tool's comparison targets (at least 0.8). Measured one
// after the other, two rates can differ by half on a shared machine's disk;
// interleaved, both see the same disk. Page writes per message show what
// each kind adds to a commit.
//
// Run it with: go test -run '^$' -bench Submit -benchtime 12000x ./marketplace/
func BenchmarkSubmit(b *testing.B) {
	for _, kind := range []string{marketplace.KindPlain, marketplace.KindRequest} {
		b.Run(kind, func(b *testing.B) {
			s := newBenchSubmitter(b)
			b.ResetTimer()
			ph := s.run(kind, b.N)
			b.StopTimer()
			ph.report(b, "")
		})
	}
	b.Run("ratio", func(b *testing.B) {
		s := newBenchSubmitter(b)
		b.ResetTimer()
		const block = 1000
		var plain, paid submitPhase
		for done := 0; done < b.N; done += 2 * block {
			plain.add(s.run(marketplace.KindPlain, block))
			paid.add(s.run(marketplace.KindRequest, block))
		}
		b.StopTimer()
		plain.report(b, "plain-")
		paid.report(b, "paid-")
		b.ReportMetric(paid.rate()/plain.rate(), "paid/plain")
	})
}

// benchSubmitter is a market with benchSenders buyers, each with its own
// seller, and money for any number of requests.
type benchSubmitter struct {
	b       *testing.B
	db      *store.DB
	m       *marketplace.Market
	buyers  []string
	sellers []string
	body    []byte
	next    atomic.Int64 // request ids are unique across runs on one database
}

func newBenchSubmitter(b *testing.B) *benchSubmitter {
	db, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ledger, err := billing.Open(db, nil)
	if err != nil {
		b.Fatal(err)
	}
	mail, err := mailstore.Open(db, nil)
	if err != nil {
		b.Fatal(err)
	}
	mail.SetPasswordCost(4)
	m, err := marketplace.New(ledger, mail, marketplace.Config{ReservationTTL: time.Hour,
		SaveSent: true})
	if err != nil {
		b.Fatal(err)
	}
	pricing, err := marketplace.ParsePricing([]byte(
		`{"pricing_model":"per_request","base_price":"0.01"}`))
	if err != nil {
		b.Fatal(err)
	}
	s := &benchSubmitter{b: b, db: db, m: m,
		buyers: make([]string, benchSenders), sellers: make([]string, benchSenders),
		body: bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog; "+
			"benchmark body text 0123456789\r\n"), 26)}
	for i := range benchSenders {
		s.buyers[i], s.sellers[i] = fmt.Sprintf("buyer%d@localhost", i),
			fmt.Sprintf("seller%d@localhost", i)
		for _, a := range []string{s.buyers[i], s.sellers[i]} {
			if err := mail.AddAgent(a, "password123"); err != nil {
				b.Fatal(err)
			}
		}
		if err := m.SetPricing(s.sellers[i], pricing); err != nil {
			b.Fatal(err)
		}
		_, err := ledger.Credit(billing.Transfer{Agent: s.buyers[i], Currency: "USD",
			Amount: billing.AmountMax / benchSenders})
		if err != nil {
			b.Fatal(err)
		}
	}
	return s
}

type submitPhase struct {
	msgs, writes int64
	elapsed      time.Duration
}

func (p *submitPhase) add(q submitPhase) {
	p.msgs, p.writes, p.elapsed = p.msgs+q.msgs, p.writes+q.writes, p.elapsed+q.elapsed
}

func (p submitPhase) rate() float64 { return float64(p.msgs) / p.elapsed.Seconds() }

func (p submitPhase) report(b *testing.B, prefix string) {
	b.ReportMetric(p.rate(), prefix+"msgs/s")
	b.ReportMetric(float64(p.writes)/float64(p.msgs), prefix+"writes/msg")
}

// run submits n messages of one kind from benchSenders concurrent senders
// and brings the indexes written in batches up to date.
func (s *benchSubmitter) run(kind string, n int) submitPhase {
	var left atomic.Int64
	left.Store(int64(n))
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	stats := s.db.Bolt().Stats()
	writesBefore := stats.TxStats.GetWrite()
	start := time.Now()
	for c := range benchSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				id := s.next.Add(1)
				var h bytes.Buffer
				fmt.Fprintf(&h, "From: <%s>\r\nTo: <%s>\r\nSubject: bench %d\r\n",
					s.buyers[c], s.sellers[c], id)
				fmt.Fprintf(&h, "Message-ID: <bench.%d@localhost>\r\n", id)
				if kind == marketplace.KindRequest {
					fmt.Fprintf(&h, "X-AgentMail-Marketplace-Request-Id: bench-%d\r\n", id)
				}
				h.WriteString("Content-Type: text/plain\r\n\r\n")
				h.Write(s.body)
				res, err := s.m.Submit(marketplace.Submission{Sender: s.buyers[c],
					Recipients: []string{s.sellers[c]}, Raw: h.Bytes()})
				if err == nil && res.Kind != kind {
					err = fmt.Errorf("submitted as %s, classified %s", kind, res.Kind)
				}
				if err != nil {
					failed.Store(&err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// The indexes that the server brings up to date every second, in
	// batches, are brought up to date here; the run pays for them.
	if _, err := s.m.Ledger().IndexHistory(); err != nil {
		s.b.Fatal(err)
	}
	if _, err := s.m.Ledger().IndexHolds(); err != nil {
		s.b.Fatal(err)
	}
	for {
		n, err := s.m.FlushIndex()
		if err != nil {
			s.b.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	elapsed := time.Since(start)
	if err := failed.Load(); err != nil {
		s.b.Fatal(*err)
	}
	stats = s.db.Bolt().Stats()
	return submitPhase{msgs: int64(n), writes: stats.TxStats.GetWrite() - writesBefore,
		elapsed: elapsed}
}
