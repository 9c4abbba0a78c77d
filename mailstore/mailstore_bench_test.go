package mailstore_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"agentmail/internal/store"
	"agentmail/mailstore"
)

// benchMessage is a 2 KiB message, the size the comparison with Postfix and
// Dovecot uses (docs/benchmarks.md).
var benchMessage = []byte("From: <a@bench.test>\r\nTo: <b@bench.test>\r\nSubject: bench\r\n\r\n" +
	strings.Repeat("The quick brown fox jumps over the lazy dog; mailstore bench body 0123\r\n", 27))

func openBenchStore(b *testing.B, noSync bool, agents int) (*mailstore.Store, []string) {
	b.Helper()
	db, err := store.Open(b.TempDir(), store.Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ms, err := mailstore.Open(db, nil)
	if err != nil {
		b.Fatal(err)
	}
	ms.SetPasswordCost(bcrypt.MinCost)
	addrs := make([]string, agents)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("agent%d@bench.test", i)
		if err := ms.AddAgent(addrs[i], "bench-password"); err != nil {
			b.Fatal(err)
		}
	}
	return ms, addrs
}

// BenchmarkDeliver measures 2 KiB deliveries per second into INBOXes, fsync
// on, with 1, 16 and 64 concurrent callers each delivering to its own
// agent: the storage half of a plain SMTP submission, with group commit.
func BenchmarkDeliver(b *testing.B) {
	for _, callers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			ms, addrs := openBenchStore(b, false, callers)
			b.SetBytes(int64(len(benchMessage)))
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < b.N; i += callers {
						_, _, err := ms.Append(mailstore.Delivery{Agent: addrs[w],
							Mailbox: mailstore.Inbox, Raw: benchMessage})
						if err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkMessages10k reads the metadata of every message of a
// 10,000-message mailbox, what SELECT and FETCH 1:* FLAGS start from.
func BenchmarkMessages10k(b *testing.B) {
	ms, addrs := openBenchStore(b, true, 1)
	for range 10_000 {
		_, _, err := ms.Append(mailstore.Delivery{Agent: addrs[0], Mailbox: mailstore.Inbox,
			Raw: benchMessage})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		msgs, err := ms.Messages(addrs[0], mailstore.Inbox, nil)
		if err != nil || len(msgs) != 10_000 {
			b.Fatalf("%d messages, %v", len(msgs), err)
		}
	}
}

// BenchmarkRaw reads one stored 2 KiB message, as FETCH BODY[] does.
func BenchmarkRaw(b *testing.B) {
	ms, addrs := openBenchStore(b, true, 1)
	_, uid, err := ms.Append(mailstore.Delivery{Agent: addrs[0], Mailbox: mailstore.Inbox,
		Raw: benchMessage})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		if _, err := ms.Raw(addrs[0], mailstore.Inbox, uid); err != nil {
			b.Fatal(err)
		}
	}
}
