package billing

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Breach is one broken ledger invariant.
type Breach struct {
	Invariant string   `json:"invariant"`
	Detail    string   `json:"detail"`
	Entries   []uint64 `json:"entries,omitempty"` // journal entries involved, latest last
}

func (b Breach) String() string {
	s := b.Invariant + ": " + b.Detail
	if len(b.Entries) > 0 {
		s += fmt.Sprintf(" (entries %v)", b.Entries)
	}
	return s
}

// breachEntriesMax bounds the entries listed with one breach.
const breachEntriesMax = 10

// entryTrail keeps the latest journal entries seen for one key.
type entryTrail map[string][]uint64

func (t entryTrail) add(key string, seq uint64) {
	l := append(t[key], seq)
	if len(l) > breachEntriesMax {
		l = l[1:]
	}
	t[key] = l
}

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
//   - every resolved hold has charged + released = amount;
//   - the id index finds every indexed hold, and only it, under its id.
func VerifyTx(tx *bolt.Tx) ([]Breach, error) {
	if tx.Bucket(bucketJournal) == nil {
		return nil, fmt.Errorf("no ledger here: bucket %s is missing", bucketJournal)
	}
	eachHold, err := holdVerifier(tx)
	if err != nil {
		return nil, err
	}
	cached, err := cachedBalancesTx(tx)
	if err != nil {
		return nil, err
	}
	var out []Breach
	add := func(entries []uint64, inv, format string, args ...any) {
		out = append(out, Breach{inv, fmt.Sprintf(format, args...), entries})
	}

	folded := map[string]int64{} // foldKey(account, currency) → balance
	byAccount, byHold := entryTrail{}, entryTrail{}
	err = tx.Bucket(bucketJournal).ForEach(func(k, v []byte) error {
		var e Entry
		if err := unmarshalEntry(v, &e); err != nil {
			return fmt.Errorf("journal entry %x: %w", k, err)
		}
		var sum int64
		for _, p := range e.Postings {
			sum += p.Amount
			key := foldKey(p.Account, e.Currency)
			folded[key] += p.Amount
			byAccount.add(key, e.Seq)
		}
		if e.HoldID != "" {
			byHold.add(e.HoldID, e.Seq)
		}
		if sum != 0 {
			add([]uint64{e.Seq}, "entry nets to zero", "entry %d (%s) nets to %d",
				e.Seq, e.Kind, sum)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	perCurrency := map[string]int64{}
	for _, k := range sortedKeys(folded, cached) {
		account, currency, _ := strings.Cut(k, "\x00")
		if folded[k] != cached[k] {
			add(byAccount[k], "balance is the fold of the journal",
				"%s %s: journal %d, cached %d micros", account, currency, folded[k], cached[k])
		}
		if account != World && folded[k] < 0 {
			add(byAccount[k], "no account below zero", "%s %s: %d micros",
				account, currency, folded[k])
		}
		perCurrency[currency] += folded[k]
	}
	for cur, sum := range perCurrency {
		if sum != 0 {
			add(nil, "conservation", "%s: accounts sum to %d micros", cur, sum)
		}
	}

	held := map[string]int64{}
	err = eachHold(add, func(h Hold) error {
		trail := byHold[h.ID]
		switch {
		case h.Status == HoldOpen:
			held[foldKey(HoldAccount(h.Payer), h.Currency)] += int64(h.Amount)
		case h.Charged+h.Released != h.Amount:
			add(trail, "settled + released = reserved", "hold %s: %s + %s != %s",
				h.ID, h.Charged, h.Released, h.Amount)
		case h.Fee < 0 || h.Fee > h.Charged:
			add(trail, "fee within the charge", "hold %s: fee %s, charged %s",
				h.ID, h.Fee, h.Charged)
		}
		if resolved := resolutions(tx, trail); resolved > 1 {
			add(trail, "every hold resolved at most once", "hold %s resolved %d times",
				h.ID, resolved)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k, v := range folded {
		if strings.HasPrefix(k, "hold:") && v != held[k] {
			account, currency, _ := strings.Cut(k, "\x00")
			add(byAccount[k], "open holds sum to reserved",
				"%s %s: reserved %d, open holds %d micros", account, currency, v, held[k])
		}
	}
	for k, v := range held {
		if _, ok := folded[k]; !ok {
			add(nil, "open holds sum to reserved", "%s: open holds %d micros, no reserve entries",
				k, v)
		}
	}
	return out, nil
}

// cachedBalancesTx reads the balance cache into Verify's map. A backup of
// store format 2, which check reads before any upgrade, has it in
// ledger_balances keyed account 0 currency.
func cachedBalancesTx(tx *bolt.Tx) (map[string]int64, error) {
	cached := map[string]int64{}
	if tx.Bucket(bucketAccounts) != nil {
		return cached, eachBalanceTx(tx, func(account, currency string, amount int64) {
			cached[foldKey(account, currency)] = amount
		})
	}
	b := tx.Bucket(bucketBalancesV2)
	if b == nil {
		return nil, fmt.Errorf("no ledger here: bucket %s is missing", bucketAccounts)
	}
	return cached, b.ForEach(func(k, v []byte) error {
		if len(v) == 8 {
			cached[string(k)] = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
}

// foldKey names an account's balance in one currency in Verify's maps:
// account 0 currency.
func foldKey(account, currency string) string { return account + "\x00" + currency }

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

// resolutions counts the settle, void and expire entries among a hold's
// entries.
func resolutions(tx *bolt.Tx, seqs []uint64) int {
	n := 0
	for _, seq := range seqs {
		e, err := entryTx(tx, binary.BigEndian.AppendUint64(nil, seq))
		if err != nil {
			continue
		}
		switch e.Kind {
		case KindSettle, KindVoid, KindExpire:
			n++
		}
	}
	return n
}

// Total is where the money of one currency is: in wallets, in holds, with
// the platform, and the world account that balances them.
type Total struct {
	Currency  string `json:"currency"`
	Available Amount `json:"available"`
	Reserved  Amount `json:"reserved"`
	Platform  Amount `json:"platform"`
	World     Delta  `json:"world"`
}

// Totals sums the balance cache per currency.
func (l *Ledger) Totals() ([]Total, error) {
	byCurrency := map[string]*Total{}
	err := l.db.View(func(tx *bolt.Tx) error {
		return eachBalanceTx(tx, func(account, currency string, n int64) {
			t := byCurrency[currency]
			if t == nil {
				t = &Total{Currency: currency}
				byCurrency[currency] = t
			}
			switch {
			case account == World:
				t.World += Delta(n)
			case account == Platform:
				t.Platform += Amount(n)
			case strings.HasPrefix(account, "wallet:"):
				t.Available += Amount(n)
			case strings.HasPrefix(account, "hold:"):
				t.Reserved += Amount(n)
			}
		})
	})
	out := make([]Total, 0, len(byCurrency))
	for _, t := range byCurrency {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out, err
}

// holdVerifier returns the walk over the holds of tx for VerifyTx: the
// records and their id index, or, in a backup older than format 5, the
// holds by id. The walk adds a breach for any record the index misses or
// misnames, and for any index entry that names no record of its id.
func holdVerifier(tx *bolt.Tx) (func(add breachAdder, fn func(Hold) error) error, error) {
	if old := tx.Bucket(bucketHoldsV4); old != nil {
		return func(_ breachAdder, fn func(Hold) error) error {
			return old.ForEach(func(k, v []byte) error {
				var h Hold
				if err := unmarshalHold(v, &h); err != nil {
					return fmt.Errorf("hold %s: %w", k, err)
				}
				return fn(h)
			})
		}, nil
	}
	records, ids := tx.Bucket(bucketHoldRecords), tx.Bucket(bucketHoldIDs)
	if records == nil || ids == nil {
		return nil, fmt.Errorf("no ledger here: bucket %s or %s is missing",
			bucketHoldRecords, bucketHoldIDs)
	}
	indexed := holdsIndexedTx(tx)
	return func(add breachAdder, fn func(Hold) error) error {
		where := map[string]uint64{} // hold id → the seq of its record
		err := eachRecordAboveTx(tx, 0, func(seq uint64, h Hold) error {
			if prev, ok := where[h.ID]; ok {
				add(nil, "one record per hold", "hold %s has records %d and %d", h.ID, prev, seq)
			}
			where[h.ID] = seq
			return fn(h)
		})
		if err != nil {
			return err
		}
		err = ids.ForEach(func(k, v []byte) error {
			seq, ok := where[string(k)]
			switch {
			case !ok:
				add(nil, "the id index names holds", "index entry %s names no hold of that id", k)
			case len(v) != 8 || binary.BigEndian.Uint64(v) != seq:
				add(nil, "the id index names holds", "index entry %s is %x; the hold is at %d",
					k, v, seq)
			}
			if ok {
				delete(where, string(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for id, seq := range where {
			if seq <= indexed {
				add(nil, "the id index names holds",
					"hold %s at %d is below the index's watermark %d but not in the index",
					id, seq, indexed)
			}
		}
		return nil
	}, nil
}

type breachAdder func(entries []uint64, inv, format string, args ...any)
