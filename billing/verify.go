package billing

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Breach is one broken ledger invariant.
type Breach struct {
	Invariant string `json:"invariant"`
	Detail    string `json:"detail"`
}

func (b Breach) String() string { return b.Invariant + ": " + b.Detail }

// Verify rebuilds every balance from the journal and checks the ledger's
// invariants. It returns the breaches it found; none means the books hold.
func (l *Ledger) Verify() ([]Breach, error) {
	var out []Breach
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = VerifyTx(tx)
		return err
	})
	return out, err
}

// VerifyTx checks the invariants inside one read transaction:
//   - every entry's postings net to zero;
//   - the balance cache equals the fold of the journal;
//   - the money in all accounts of a currency sums to zero (conservation);
//   - no wallet or hold account is below zero;
//   - open holds sum to each agent's reserved balance;
//   - every resolved hold has charged + released = amount.
func VerifyTx(tx *bolt.Tx) ([]Breach, error) {
	var out []Breach
	add := func(inv, format string, args ...any) {
		out = append(out, Breach{inv, fmt.Sprintf(format, args...)})
	}

	folded := map[string]int64{} // account 0 currency → balance
	err := tx.Bucket(bucketJournal).ForEach(func(k, v []byte) error {
		var e Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("journal entry %d: %w", binary.BigEndian.Uint64(k), err)
		}
		var sum int64
		for _, p := range e.Postings {
			sum += p.Amount
			folded[string(balanceKey(p.Account, e.Currency))] += p.Amount
		}
		if sum != 0 {
			add("entry nets to zero", "entry %d (%s) nets to %d", e.Seq, e.Kind, sum)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	cached := map[string]int64{}
	_ = tx.Bucket(bucketBalances).ForEach(func(k, v []byte) error {
		cached[string(k)] = int64(binary.BigEndian.Uint64(v))
		return nil
	})
	perCurrency := map[string]int64{}
	for _, k := range sortedKeys(folded, cached) {
		account, currency, _ := strings.Cut(k, "\x00")
		if folded[k] != cached[k] {
			add("balance is the fold of the journal", "%s %s: journal %d, cached %d micros",
				account, currency, folded[k], cached[k])
		}
		if account != World && folded[k] < 0 {
			add("no account below zero", "%s %s: %d micros", account, currency, folded[k])
		}
		perCurrency[currency] += folded[k]
	}
	for cur, sum := range perCurrency {
		if sum != 0 {
			add("conservation", "%s: accounts sum to %d micros", cur, sum)
		}
	}

	held := map[string]int64{}
	err = tx.Bucket(bucketHolds).ForEach(func(k, v []byte) error {
		var h Hold
		if err := json.Unmarshal(v, &h); err != nil {
			return fmt.Errorf("hold %s: %w", k, err)
		}
		if h.Status == HoldOpen {
			held[string(balanceKey(HoldAccount(h.Payer), h.Currency))] += int64(h.Amount)
		} else if h.Charged+h.Released != h.Amount {
			add("settled + released = reserved", "hold %s: %s + %s != %s",
				h.ID, h.Charged, h.Released, h.Amount)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k, v := range folded {
		if strings.HasPrefix(k, "hold:") && v != held[k] {
			account, currency, _ := strings.Cut(k, "\x00")
			add("open holds sum to reserved", "%s %s: reserved %d, open holds %d micros",
				account, currency, v, held[k])
		}
	}
	for k, v := range held {
		if _, ok := folded[k]; !ok {
			add("open holds sum to reserved", "%s: open holds %d micros, no reserve entries", k, v)
		}
	}
	return out, nil
}

func sortedKeys(maps ...map[string]int64) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range maps {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}
