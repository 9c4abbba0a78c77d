package billing

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

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
		out = BalancesTx(tx, agent)
		return nil
	})
	return out, err
}

// BalancesTx reads an agent's balances inside a transaction.
func BalancesTx(tx *bolt.Tx, agent string) []Balance {
	byCurrency := map[string]*Balance{}
	var order []string
	scan := func(account string, set func(*Balance, Amount)) {
		prefix := []byte(account + "\x00")
		c := tx.Bucket(bucketBalances).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			cur := string(k[len(prefix):])
			b, ok := byCurrency[cur]
			if !ok {
				b = &Balance{Currency: cur}
				byCurrency[cur] = b
				order = append(order, cur)
			}
			set(b, Amount(binary.BigEndian.Uint64(v)))
		}
	}
	scan(WalletAccount(agent), func(b *Balance, a Amount) { b.Available = a })
	scan(HoldAccount(agent), func(b *Balance, a Amount) { b.Reserved = a })
	slices.Sort(order)
	out := make([]Balance, 0, len(order))
	for _, c := range order {
		out = append(out, *byCurrency[c])
	}
	return out
}

// AvailableTx is an agent's available balance in one currency.
func AvailableTx(tx *bolt.Tx, agent, currency string) Amount {
	return Amount(balanceTx(tx, WalletAccount(agent), currency))
}

// History returns the journal entries that touch an agent, newest first,
// starting below the sequence number before (0 for the newest), at most limit.
func (l *Ledger) History(agent string, before uint64, limit int) ([]Entry, error) {
	var out []Entry
	err := l.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(agent + "\x00")
		c := tx.Bucket(bucketByAgent).Cursor()
		var k []byte
		if before == 0 {
			k, _ = c.Seek(append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
		} else {
			k, _ = c.Seek(binary.BigEndian.AppendUint64(bytes.Clone(prefix), before))
		}
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Prev() {
			e, err := entryTx(tx, k[len(prefix):])
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
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
