package billing

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

// HoldStatus is where a hold is in its life.
type HoldStatus string

// A hold is open until exactly one of settle, void or expire resolves it.
const (
	HoldOpen    HoldStatus = "open"
	HoldSettled HoldStatus = "settled"
	HoldVoided  HoldStatus = "voided"
	HoldExpired HoldStatus = "expired"
)

// holdIDLenMax bounds hold ids, which callers build from their own keys.
const holdIDLenMax = 512

// Hold is money reserved from a payer for a payee.
type Hold struct {
	ID       string     `json:"id"`
	Payer    string     `json:"payer"`
	Payee    string     `json:"payee"`
	Currency string     `json:"currency"`
	Amount   Amount     `json:"amount"`
	Status   HoldStatus `json:"status"`
	Created  time.Time  `json:"created"`
	Expires  time.Time  `json:"expires"`
	Charged  Amount     `json:"charged"`
	Released Amount     `json:"released"`
	Fee      Amount     `json:"fee,omitempty"` // of Charged, to the platform
	Resolved time.Time  `json:"resolved,omitzero"`
	Note     string     `json:"note,omitempty"`
	// Memo is the caller's own record of what the hold is for, as JSON,
	// kept in the hold's value so that a caller whose records share the
	// hold's key writes one record, not two (the marketplace keeps its
	// request here). The ledger stores it and never reads it.
	Memo json.RawMessage `json:"memo,omitempty"`
}

// HoldSpec asks for a new hold.
type HoldSpec struct {
	ID       string
	Payer    string
	Payee    string
	Currency string
	Amount   Amount
	TTL      time.Duration
	// At is when the hold is made; zero means the ledger clock's now. A
	// caller that stamps its own record with the hold's times passes the
	// time it read, so that the two agree.
	At time.Time
	// Memo is stored as the new hold's memo (see Hold.Memo), in the same
	// write as the hold.
	Memo json.RawMessage
}

func expiryKey(expires time.Time, id string) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(expires.UnixNano())), id...)
}

// HoldTx reserves spec.Amount of the payer's available money. It refuses with
// a *FundsError when the payer has too little, and leaves tx unchanged.
func (l *Ledger) HoldTx(tx *store.Tx, spec HoldSpec) (Hold, error) {
	if err := CheckCurrency(spec.Currency); err != nil {
		return Hold{}, err
	}
	if spec.ID == "" || len(spec.ID) > holdIDLenMax {
		return Hold{}, fmt.Errorf("hold id must be 1 to %d bytes", holdIDLenMax)
	}
	if spec.Amount <= 0 || spec.Amount > AmountMax || spec.TTL <= 0 {
		return Hold{}, fmt.Errorf("hold %s: amount and ttl must be positive", spec.ID)
	}
	if _, _, exists, err := l.findHoldTx(tx.Tx, spec.ID); err != nil {
		return Hold{}, err
	} else if exists {
		return Hold{}, fmt.Errorf("hold %s: %w", spec.ID, ErrHoldExists)
	}
	if avail := AvailableTx(tx.Tx, spec.Payer, spec.Currency); avail < spec.Amount {
		return Hold{}, &FundsError{Need: spec.Amount, Available: avail, Currency: spec.Currency}
	}

	now := spec.At
	if now.IsZero() {
		now = l.Now()
	}
	h := Hold{
		ID: spec.ID, Payer: spec.Payer, Payee: spec.Payee, Currency: spec.Currency,
		Amount: spec.Amount, Status: HoldOpen, Created: now, Expires: now.Add(spec.TTL),
		Memo: spec.Memo,
	}
	_, err := l.post(tx, Entry{
		Kind:     KindReserve,
		Currency: h.Currency,
		HoldID:   h.ID,
		Postings: []Posting{
			{WalletAccount(h.Payer), -int64(h.Amount)},
			{HoldAccount(h.Payer), int64(h.Amount)},
		},
	}, h.Payer)
	if err != nil {
		return Hold{}, fmt.Errorf("hold %s: %w", h.ID, err)
	}
	if err := l.newHoldTx(tx.Tx, h); err != nil {
		return Hold{}, err
	}
	expiry := tx.Bucket(bucketExpiry)
	expiry.FillPercent = appendFillPercent
	if err := expiry.Put(expiryKey(h.Expires, h.ID), nil); err != nil {
		return Hold{}, err
	}
	return h, nil
}

// GetHoldTx reads a hold; ok is false when there is none with that id.
func (l *Ledger) GetHoldTx(tx *bolt.Tx, id string) (h Hold, ok bool, err error) {
	h, _, ok, err = l.findHoldTx(tx, id)
	return h, ok, err
}

// SetMemoTx replaces the memo of an existing hold, open or resolved.
func (l *Ledger) SetMemoTx(tx *bolt.Tx, id string, memo json.RawMessage) error {
	h, seq, ok, err := l.findHoldTx(tx, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("memo for hold %s: %w", id, ErrNoHold)
	}
	h.Memo = memo
	return rewriteHoldTx(tx, seq, h)
}

// openHoldTx reads a hold that must still be open, and the sequence number
// its record is kept under.
func (l *Ledger) openHoldTx(tx *bolt.Tx, id string) (Hold, uint64, error) {
	h, seq, ok, err := l.findHoldTx(tx, id)
	switch {
	case err != nil:
		return Hold{}, 0, err
	case !ok:
		return Hold{}, 0, fmt.Errorf("hold %s: %w", id, ErrNoHold)
	case h.Status != HoldOpen:
		return Hold{}, 0, fmt.Errorf("hold %s is %s: %w", id, h.Status, ErrHoldResolved)
	}
	return h, seq, nil
}

// SettleTx resolves an open hold: charge leaves the payer, fee of it goes to
// the platform account and the rest of it to the payee, and what was held
// beyond the charge returns to the payer. 0 <= fee <= charge <= hold amount.
func (l *Ledger) SettleTx(tx *store.Tx, id string, charge, fee Amount) (Hold, error) {
	h, seq, err := l.openHoldTx(tx.Tx, id)
	if err != nil {
		return Hold{}, err
	}
	if charge < 0 || charge > h.Amount || fee < 0 || fee > charge {
		return Hold{}, fmt.Errorf("settle %s: charge %s and fee %s outside [0, %s]",
			id, charge, fee, h.Amount)
	}
	postings := []Posting{{HoldAccount(h.Payer), -int64(h.Amount)}}
	if proceeds := charge - fee; proceeds > 0 {
		postings = append(postings, Posting{WalletAccount(h.Payee), int64(proceeds)})
	}
	if fee > 0 {
		postings = append(postings, Posting{Platform, int64(fee)})
	}
	if rest := h.Amount - charge; rest > 0 {
		postings = append(postings, Posting{WalletAccount(h.Payer), int64(rest)})
	}
	h.Fee = fee
	return l.resolveTx(tx, h, seq, HoldSettled, KindSettle, charge, postings)
}

// VoidTx resolves an open hold by returning all of it to the payer.
func (l *Ledger) VoidTx(tx *store.Tx, id, note string) (Hold, error) {
	h, seq, err := l.openHoldTx(tx.Tx, id)
	if err != nil {
		return Hold{}, err
	}
	h.Note = note
	return l.resolveTx(tx, h, seq, HoldVoided, KindVoid, 0, returnAll(h))
}

func returnAll(h Hold) []Posting {
	return []Posting{
		{HoldAccount(h.Payer), -int64(h.Amount)},
		{WalletAccount(h.Payer), int64(h.Amount)},
	}
}

func (l *Ledger) resolveTx(tx *store.Tx, h Hold, seq uint64, status HoldStatus, kind string,
	charge Amount, postings []Posting) (Hold, error) {
	agents := []string{h.Payer}
	if charge > 0 {
		agents = append(agents, h.Payee)
	}
	if _, err := l.post(tx, Entry{
		Kind: kind, Currency: h.Currency, HoldID: h.ID, Postings: postings, Note: h.Note,
	}, agents...); err != nil {
		return Hold{}, fmt.Errorf("%s %s: %w", kind, h.ID, err)
	}
	h.Status = status
	h.Charged = charge
	h.Released = h.Amount - charge
	h.Resolved = l.Now()
	if err := rewriteHoldTx(tx.Tx, seq, h); err != nil {
		return Hold{}, err
	}
	if err := tx.Bucket(bucketExpiry).Delete(expiryKey(h.Expires, h.ID)); err != nil {
		return Hold{}, err
	}
	return h, nil
}

// ExpireDueTx expires up to max open holds whose expiry is at or before the
// ledger clock, oldest first, and returns them.
func (l *Ledger) ExpireDueTx(tx *store.Tx, max int) ([]Hold, error) {
	now := l.Now()
	var due [][]byte
	c := tx.Bucket(bucketExpiry).Cursor()
	for k, _ := c.First(); k != nil && len(due) < max; k, _ = c.Next() {
		if int64(binary.BigEndian.Uint64(k[:8])) > now.UnixNano() {
			break
		}
		due = append(due, bytes.Clone(k[8:]))
	}
	var out []Hold
	for _, id := range due {
		h, seq, err := l.openHoldTx(tx.Tx, string(id))
		if err != nil {
			return out, err
		}
		h, err = l.resolveTx(tx, h, seq, HoldExpired, KindExpire, 0, returnAll(h))
		if err != nil {
			return out, err
		}
		out = append(out, h)
	}
	return out, nil
}

// NextExpiry returns when the earliest open hold falls due; ok is false when
// no hold is open.
func (l *Ledger) NextExpiry() (at time.Time, ok bool) {
	_ = l.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketExpiry).Cursor().First()
		if k != nil {
			at, ok = time.Unix(0, int64(binary.BigEndian.Uint64(k[:8]))).UTC(), true
		}
		return nil
	})
	return at, ok
}
