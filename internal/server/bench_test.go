package server

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"agentmail/billing"
	"agentmail/marketplace"
)

// BenchmarkPaidRoundTrip measures request-plus-response pairs per second
// through the marketplace with 1, 16 and 64 concurrent buyers, each pair two
// durable commits (fsync on). Deliveries that arrive together share a
// commit, so the rate should rise with concurrency.
func BenchmarkPaidRoundTrip(b *testing.B) {
	for _, senders := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			benchRoundTrip(b, senders)
		})
	}
}

func benchRoundTrip(b *testing.B, senders int) {
	cfg := testConfig(b.TempDir())
	srv, err := Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	st := srv.Stores
	st.Mail.SetPasswordCost(4)
	adm := st.Admin(cfg.Domain)
	if _, err := adm.AddAgent("seller", testPassword); err != nil {
		b.Fatal(err)
	}
	p, _ := marketplace.ParsePricing([]byte(perRequestPricing))
	if err := adm.SetPricing("seller", p); err != nil {
		b.Fatal(err)
	}
	buyers := make([]string, senders)
	for i := range buyers {
		buyers[i] = fmt.Sprintf("buyer%d@localhost", i)
		if _, err := adm.AddAgent(buyers[i], testPassword); err != nil {
			b.Fatal(err)
		}
		if _, err := st.Ledger.Credit(billing.Transfer{Agent: buyers[i], Currency: "USD",
			Amount: 1_000_000 * billing.MicrosPerUnit}); err != nil {
			b.Fatal(err)
		}
	}

	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for w := 0; w < senders; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < b.N; i += senders {
				if err := oneRoundTrip(st.Market, buyers[w], i); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
}

func oneRoundTrip(m *marketplace.Market, buyer string, i int) error {
	id := fmt.Sprintf("bench-%d", i)
	req := fmt.Sprintf("From: %s\r\nTo: seller@localhost\r\nSubject: job\r\n"+
		"X-AgentMail-Marketplace-Request-Id: %s\r\n\r\n{\"n\": %d}\r\n", buyer, id, i)
	if _, err := m.Submit(marketplace.Submission{Sender: buyer,
		Recipients: []string{"seller@localhost"}, Raw: []byte(req)}); err != nil {
		return fmt.Errorf("request %s: %w", id, err)
	}
	resp := fmt.Sprintf("From: seller@localhost\r\nTo: %s\r\nSubject: done\r\n"+
		"X-AgentMail-Marketplace-Request-Id: %s\r\nX-AgentMail-Usage: {}\r\n\r\nok\r\n", buyer, id)
	if _, err := m.Submit(marketplace.Submission{Sender: "seller@localhost",
		Recipients: []string{buyer}, Raw: []byte(resp)}); err != nil {
		return fmt.Errorf("response %s: %w", id, err)
	}
	return nil
}
