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
// 50 concurrent senders each writing to its own recipient. The ratio of the
// two rates is the cost of the ledger step on the hot path; the server's
// load tool measures the same over SMTP. Page writes per message show what
// each kind adds to a commit.
//
// Run it with: go test -run x -bench Submit -benchtime 4000x ./marketplace/
func BenchmarkSubmit(b *testing.B) {
	for _, kind := range []string{marketplace.KindPlain, marketplace.KindRequest} {
		b.Run(kind, func(b *testing.B) { benchSubmit(b, kind) })
	}
}

func benchSubmit(b *testing.B, kind string) {
	db, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
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
	buyers, sellers := make([]string, benchSenders), make([]string, benchSenders)
	for i := range benchSenders {
		buyers[i], sellers[i] = fmt.Sprintf("buyer%d@localhost", i), fmt.Sprintf("seller%d@localhost", i)
		for _, a := range []string{buyers[i], sellers[i]} {
			if err := mail.AddAgent(a, "password123"); err != nil {
				b.Fatal(err)
			}
		}
		if err := m.SetPricing(sellers[i], pricing); err != nil {
			b.Fatal(err)
		}
		_, err := ledger.Credit(billing.Transfer{Agent: buyers[i], Currency: "USD",
			Amount: billing.AmountMax / benchSenders})
		if err != nil {
			b.Fatal(err)
		}
	}
	body := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog; benchmark body text 0123456789\r\n"), 26)

	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	stats := db.Bolt().Stats()
	writesBefore := stats.TxStats.GetWrite()
	b.ResetTimer()
	start := time.Now()
	for c := range benchSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
				var h bytes.Buffer
				fmt.Fprintf(&h, "From: <%s>\r\nTo: <%s>\r\nSubject: bench %d\r\n", buyers[c], sellers[c], n)
				fmt.Fprintf(&h, "Message-ID: <bench.%d@localhost>\r\n", n)
				if kind == marketplace.KindRequest {
					fmt.Fprintf(&h, "X-AgentMail-Marketplace-Request-Id: bench-%d\r\n", n)
				}
				h.WriteString("Content-Type: text/plain\r\n\r\n")
				h.Write(body)
				res, err := m.Submit(marketplace.Submission{Sender: buyers[c],
					Recipients: []string{sellers[c]}, Raw: h.Bytes()})
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
	elapsed := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	stats = db.Bolt().Stats()
	writes := stats.TxStats.GetWrite() - writesBefore
	b.ReportMetric(float64(writes)/float64(b.N), "writes/msg")
}
