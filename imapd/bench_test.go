package imapd

import (
	"runtime"
	"testing"

	"github.com/emersion/go-imap/v2"

	"agentmail/internal/store"
	"agentmail/mailstore"
)

// fill puts n small messages in an agent's mailbox, deliveries grouped
// 1,000 to a commit so that a 100,000-message mailbox takes seconds.
func (e *testEnv) fill(agent, mailbox string, n int) {
	e.t.Helper()
	const batch = 1000
	raw := []byte(msg("bulk", "a message among many"))
	for done := 0; done < n; done += batch {
		err := e.db.Update(func(tx *store.Tx) error {
			for i := done; i < min(done+batch, n); i++ {
				var flags []string
				if i%2 == 0 {
					flags = []string{mailstore.FlagSeen}
				}
				_, _, err := e.ms.DeliverTx(tx, mailstore.Delivery{
					Agent: agent + "@" + testDomain, Mailbox: mailbox, Raw: raw, Flags: flags})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

// BenchmarkSelectFetchFlags measures one SELECT plus FETCH 1:* FLAGS of a
// whole mailbox, the way a client resynchronizes, at 10k and 100k
// messages. The "other" cases put the messages in Archive and select a
// 100-message INBOX instead: the cost must not follow the other folder.
func BenchmarkSelectFetchFlags(b *testing.B) {
	cases := []struct {
		name          string
		inbox, others int
	}{
		{"inbox=10k", 10_000, 0},
		{"inbox=100k", 100_000, 0},
		{"inbox=100/archive=100k", 100, 100_000},
	}
	for _, tc := range cases {
		e := newEnv(b, b.TempDir(), "seller")
		e.fill("seller", "INBOX", tc.inbox)
		e.fill("seller", "Archive", tc.others)
		c, _ := e.dial("seller")
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var peak uint64
			for b.Loop() {
				data, err := c.Select("INBOX", nil).Wait()
				if err != nil || data.NumMessages != uint32(tc.inbox) {
					b.Fatalf("SELECT: %+v %v", data, err)
				}
				cmd := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true})
				n := 0
				for m := cmd.Next(); m != nil; m = cmd.Next() {
					for m.Next() != nil {
					}
					n++
				}
				if err := cmd.Close(); err != nil || n != tc.inbox {
					b.Fatalf("FETCH: %d messages, %v", n, err)
				}
				if err := c.Unselect().Wait(); err != nil {
					b.Fatal(err)
				}
				peak = max(peak, heapInUse())
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/
				float64(max(tc.inbox, 1)), "µs/msg")
		})
		c.Close()
		e.stop()
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkFetchEnvelopeSearch measures FETCH 1:* ENVELOPE and UID SEARCH
// SUBJECT on 10,000 messages, the two commands that read message bytes
// rather than metadata.
func BenchmarkFetchEnvelopeSearch(b *testing.B) {
	e := newEnv(b, b.TempDir(), "seller")
	e.fill("seller", "INBOX", 10_000)
	c, _ := e.dial("seller")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	b.Run("envelope", func(b *testing.B) {
		for b.Loop() {
			cmd := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Envelope: true})
			for m := cmd.Next(); m != nil; m = cmd.Next() {
				for m.Next() != nil {
				}
			}
			if err := cmd.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("search-subject", func(b *testing.B) {
		crit := &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{
			{Key: "Subject", Value: "-4242"}}}
		for b.Loop() {
			if _, err := c.UIDSearch(crit, nil).Wait(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
