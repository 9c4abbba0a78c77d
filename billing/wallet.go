package billing

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

// Balance is an agent's money in one currency.
type Balance struct {
	Currency  string `json:"currency"`
	Available Amount `json:"available"`
	Reserved  Amount `json:"reserved"`
}

// Transfer describes an admin credit or debit.
type Transfer struct {
	Agent    string
	Currency string
	Amount   Amount
	Note     string
	// Ref, when set, makes the operation idempotent: the same Ref with the
	// same content answers the first entry again, with different content it
	// is refused.
	Ref string
}

// CreditTx adds money to an agent's wallet from outside the system.
func (l *Ledger) CreditTx(tx *store.Tx, t Transfer) (Entry, error) {
	return l.transferTx(tx, KindCredit, t, World, WalletAccount(t.Agent))
}

// DebitTx takes money out of an agent's available balance.
func (l *Ledger) DebitTx(tx *store.Tx, t Transfer) (Entry, error) {
	return l.transferTx(tx, KindDebit, t, WalletAccount(t.Agent), World)
}

// Credit runs CreditTx in its own commit.
func (l *Ledger) Credit(t Transfer) (e Entry, err error) {
	err = l.db.Update(func(tx *store.Tx) error {
		e, err = l.CreditTx(tx, t)
		return err
	})
	return e, err
}

// Debit runs DebitTx in its own commit.
func (l *Ledger) Debit(t Transfer) (e Entry, err error) {
	err = l.db.Update(func(tx *store.Tx) error {
		e, err = l.DebitTx(tx, t)
		return err
	})
	return e, err
}

func (l *Ledger) transferTx(tx *store.Tx, kind string, t Transfer, from, to string) (Entry, error) {
	if err := CheckCurrency(t.Currency); err != nil {
		return Entry{}, err
	}
	if t.Amount <= 0 || t.Amount > AmountMax {
		return Entry{}, fmt.Errorf("%s: amount must be positive and at most %s", kind, AmountMax)
	}
	e := Entry{
		Kind:     kind,
		Currency: t.Currency,
		Postings: []Posting{{from, -int64(t.Amount)}, {to, int64(t.Amount)}},
		Ref:      t.Ref,
		Note:     t.Note,
	}
	if t.Ref != "" {
		if seqKey := tx.Bucket(bucketRefs).Get([]byte(t.Ref)); seqKey != nil {
			prev, err := entryTx(tx.Tx, seqKey)
			if err != nil {
				return Entry{}, err
			}
			if prev.Kind != e.Kind || prev.Currency != e.Currency ||
				!slices.Equal(prev.Postings, e.Postings) {
				return Entry{}, fmt.Errorf("%s %q: %w", kind, t.Ref, ErrRefConflict)
			}
			return prev, nil
		}
	}
	if kind == KindDebit {
		if avail := AvailableTx(tx.Tx, t.Agent, t.Currency); avail < t.Amount {
			return Entry{}, &FundsError{Need: t.Amount, Available: avail, Currency: t.Currency}
		}
	}
	return l.post(tx, e, t.Agent)
}

// Balances returns an agent's balances, one per currency it has ever held.
func (l *Ledger) Balances(agent string) ([]Balance, error) {
	var out []Balance
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = BalancesTx(tx, agent)
		return err
	})
	return out, err
}

// BalancesTx reads an agent's balances inside a transaction.
func BalancesTx(tx *bolt.Tx, agent string) ([]Balance, error) {
	prefix := append([]byte(agent), 0)
	var out []Balance // keys sort by kind, then currency
	index := map[string]int{}
	c := tx.Bucket(bucketBalances).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) < len(prefix)+1 || len(v) != 8 {
			return nil, fmt.Errorf("%s: malformed balance %x", bucketBalances, k)
		}
		kind, cur := k[len(prefix)], string(k[len(prefix)+1:])
		if kind != kindWallet && kind != kindHold {
			continue
		}
		i, ok := index[cur]
		if !ok {
			i = len(out)
			index[cur] = i
			out = append(out, Balance{Currency: cur})
		}
		if kind == kindWallet {
			out[i].Available = Amount(balanceValue(v))
		} else {
			out[i].Reserved = Amount(balanceValue(v))
		}
	}
	slices.SortFunc(out, func(a, b Balance) int { return strings.Compare(a.Currency, b.Currency) })
	return out, nil
}

// AvailableTx is an agent's available balance in one currency.
func AvailableTx(tx *bolt.Tx, agent, currency string) Amount {
	return Amount(balanceTx(tx, WalletAccount(agent), currency))
}

// HistoryFilter selects journal entries; zero fields select everything.
type HistoryFilter struct {
	Kind         string
	Counterparty string
	HoldID       string // exact hold id, or "/" + request id to match any buyer
	Since, Until time.Time
}

func (f HistoryFilter) match(e Entry, agent string) bool {
	switch {
	case f.Kind != "" && e.Kind != f.Kind:
		return false
	case f.Counterparty != "" && e.Counterparty(agent) != f.Counterparty:
		return false
	case f.HoldID != "" && e.HoldID != f.HoldID && !(strings.HasPrefix(f.HoldID, "/") &&
		strings.HasSuffix(e.HoldID, f.HoldID)):
		return false
	case !f.Since.IsZero() && e.Time.Before(f.Since):
		return false
	case !f.Until.IsZero() && !e.Time.Before(f.Until):
		return false
	}
	return true
}

// History returns the journal entries that touch an agent and match f,
// newest first, below the sequence number before (0 for the newest), at most
// limit. next is the before of the following page, 0 on the last one.
func (l *Ledger) History(agent string, f HistoryFilter, before uint64, limit int) (
	out []Entry, next uint64, err error) {
	err = l.db.View(func(tx *bolt.Tx) error {
		return EachHistoryTx(tx, agent, before, func(e Entry) (bool, error) {
			if !f.match(e, agent) {
				return true, nil
			}
			if len(out) == limit {
				next = out[len(out)-1].Seq
				return false, nil
			}
			out = append(out, e)
			return true, nil
		})
	})
	return out, next, err
}

// JournalEndTx returns the sequence number the next journal entry will have:
// EachHistoryTx from it reads the history as it is now.
func JournalEndTx(tx *bolt.Tx) uint64 {
	return tx.Bucket(bucketJournal).Sequence() + 1
}

// EachHistoryTx calls fn for the journal entries that touch agent, newest
// first, below the sequence number before (0 for the newest), until fn
// returns false or an error: first those not yet in the history index,
// from the journal, then those of the index, which are all older.
func EachHistoryTx(tx *bolt.Tx, agent string, before uint64, fn func(Entry) (bool, error)) error {
	if before == 0 {
		before = math.MaxUint64 // above every sequence number in use
	}
	indexed := historyIndexedTx(tx)
	j := tx.Bucket(bucketJournal).Cursor()
	var v []byte
	k, _ := j.Seek(binary.BigEndian.AppendUint64(nil, before))
	if k == nil {
		k, v = j.Last()
	} else {
		k, v = j.Prev()
	}
	for ; k != nil && binary.BigEndian.Uint64(k) > indexed; k, v = j.Prev() {
		var e Entry
		if err := unmarshalEntry(v, &e); err != nil {
			return fmt.Errorf("journal entry %x: %w", k, err)
		}
		if !e.concerns(agent) {
			continue
		}
		if more, err := fn(e); err != nil || !more {
			return err
		}
	}
	before = min(before, indexed+1)

	prefix := historyPrefix(agent)
	c := tx.Bucket(bucketAccounts).Cursor()
	k, _ = c.Seek(binary.BigEndian.AppendUint64(bytes.Clone(prefix), before))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		e, err := entryTx(tx, k[len(prefix):])
		if err != nil {
			return err
		}
		if more, err := fn(e); err != nil || !more {
			return err
		}
	}
	return nil
}

// TransferTx moves money from one agent's available balance to another's.
func (l *Ledger) TransferTx(tx *store.Tx, from, to string, t Transfer) (Entry, error) {
	if from == to {
		return Entry{}, fmt.Errorf("transfer: %s to itself", from)
	}
	if err := CheckCurrency(t.Currency); err != nil {
		return Entry{}, err
	}
	if t.Amount <= 0 || t.Amount > AmountMax {
		return Entry{}, fmt.Errorf("transfer: amount must be positive and at most %s", AmountMax)
	}
	if avail := AvailableTx(tx.Tx, from, t.Currency); avail < t.Amount {
		return Entry{}, &FundsError{Need: t.Amount, Available: avail, Currency: t.Currency}
	}
	return l.post(tx, Entry{Kind: KindTransfer, Currency: t.Currency, Note: t.Note,
		Postings: []Posting{{WalletAccount(from), -int64(t.Amount)},
			{WalletAccount(to), int64(t.Amount)}}}, from, to)
}

// Transfer runs TransferTx in its own commit.
func (l *Ledger) Transfer(from, to string, t Transfer) (e Entry, err error) {
	err = l.db.Update(func(tx *store.Tx) error {
		e, err = l.TransferTx(tx, from, to, t)
		return err
	})
	return e, err
}

// AgentDelta is what an entry did to one agent: the change to its available
// and reserved balances.
func (e Entry) AgentDelta(agent string) (available, reserved int64) {
	for _, p := range e.Postings {
		switch p.Account {
		case WalletAccount(agent):
			available += p.Amount
		case HoldAccount(agent):
			reserved += p.Amount
		}
	}
	return available, reserved
}

// Counterparty names the other agent an entry touched, if any.
func (e Entry) Counterparty(agent string) string {
	for _, p := range e.Postings {
		a, ok := strings.CutPrefix(p.Account, "wallet:")
		if !ok {
			a, ok = strings.CutPrefix(p.Account, "hold:")
		}
		if ok && a != agent {
			return a
		}
	}
	return ""
}
