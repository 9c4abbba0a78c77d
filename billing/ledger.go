package billing

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

var (
	bucketJournal = []byte("ledger_journal") // seq → Entry
	// holdstore.go has the holds and their id index.
	bucketExpiry = []byte("ledger_expiry") // expires (ns) ‖ hold id → nil
	bucketRefs   = []byte("ledger_refs")   // idempotency reference → seq
	// accounts.go has the balance cache and the per-agent history index.
)

// World is the account that money enters from and leaves to: admin credits
// and debits post against it. Its balance is the negative of all money held
// in wallets.
const World = "world"

// Platform is the account that collects the marketplace fee.
const Platform = "platform"

// Entry kinds.
const (
	KindCredit   = "credit"
	KindDebit    = "debit"
	KindTransfer = "transfer"
	KindReserve  = "reserve"
	KindSettle   = "settle"
	KindVoid     = "void"
	KindExpire   = "expire"
)

// Errors the ledger answers with; they are refusals, not faults.
var (
	ErrInsufficientFunds = errors.New("insufficient funds")
	ErrHoldExists        = errors.New("hold already exists")
	ErrNoHold            = errors.New("no such hold")
	ErrHoldResolved      = errors.New("hold already resolved")
	ErrRefConflict       = errors.New("reference already used with different content")
	ErrOverflow          = errors.New("amount out of range")
)

// FundsError is an insufficient-funds refusal with the numbers involved.
type FundsError struct {
	Need, Available Amount
	Currency        string
}

func (e *FundsError) Error() string {
	return fmt.Sprintf("insufficient funds: needs %s %s, available %s %s",
		e.Need, e.Currency, e.Available, e.Currency)
}

func (e *FundsError) Unwrap() error { return ErrInsufficientFunds }

// Posting is one side of an entry: a signed amount on one account.
type Posting struct {
	Account string `json:"account"`
	Amount  int64  `json:"amount_micros"`
}

// Entry is one immutable journal record.
type Entry struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	Currency string    `json:"currency"`
	Postings []Posting `json:"postings"`
	HoldID   string    `json:"hold_id,omitempty"`
	Ref      string    `json:"ref,omitempty"`
	Note     string    `json:"note,omitempty"`
	// Parties are agents shown the entry in their history besides the
	// owners of its postings (a seller whose whole charge went in fees).
	Parties []string `json:"-"`
}

// WalletAccount is the account of an agent's available money.
func WalletAccount(agent string) string { return "wallet:" + agent }

// HoldAccount is the account of an agent's reserved money.
func HoldAccount(agent string) string { return "hold:" + agent }

// appendFillPercent packs the pages of buckets whose keys only grow (the
// journal, and the expiry index for holds of one TTL), so that a split leaves
// full pages behind instead of half-empty ones. bbolt keeps it per
// transaction: set it on every write.
const appendFillPercent = 1.0

// Ledger is the billing side of the database.
type Ledger struct {
	db     *store.DB
	now    func() time.Time
	recent *recentHolds // shared by every Ledger of db
}

// Open prepares the ledger's buckets. now is the ledger clock; nil means the
// wall clock.
func Open(db *store.DB, now func() time.Time) (*Ledger, error) {
	if now == nil {
		now = time.Now
	}
	err := db.Update(func(tx *store.Tx) error {
		for _, name := range [][]byte{bucketJournal, bucketAccounts, bucketBalances,
			bucketMeta, bucketHoldRecords, bucketHoldIDs, bucketExpiry, bucketRefs} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	recent, err := loadRecentHolds(db)
	if err != nil {
		return nil, err
	}
	return &Ledger{db: db, now: now, recent: recent}, nil
}

// Now reads the ledger clock, truncated to the microsecond so that stored
// times compare equal after a round trip.
func (l *Ledger) Now() time.Time { return l.now().UTC().Truncate(time.Microsecond) }

// DB returns the database the ledger lives in.
func (l *Ledger) DB() *store.DB { return l.db }

func balanceTx(tx *bolt.Tx, account, currency string) int64 {
	v := tx.Bucket(bucketBalances).Get(balanceKey(account, currency))
	if v == nil {
		return 0
	}
	return balanceValue(v)
}

// post appends an entry and applies its postings to the balance cache. It
// checks every invariant before writing, so a refusal leaves tx unchanged:
// postings net to zero, no wallet or hold account leaves [0, AmountMax], and
// the world account stays within [-AmountMax, 0], which bounds all the money
// of a currency and keeps every sum of balances inside int64. agents are
// shown the entry in their history even without a posting of their own.
// The entry reaches the history index in IndexHistory's next batch.
func (l *Ledger) post(tx *store.Tx, e Entry, agents ...string) (Entry, error) {
	var sum int64
	// The new balance of each account the entry touches, in the order of
	// first mention; an entry has a handful of postings, so a slice beats a
	// map here.
	type balance struct {
		account string
		v       int64
	}
	var nextBuf [4]balance
	next := nextBuf[:0]
	for _, p := range e.Postings {
		if p.Amount < -int64(AmountMax) || p.Amount > int64(AmountMax) {
			return Entry{}, fmt.Errorf("%s %s: %w", e.Kind, p.Account, ErrOverflow)
		}
		sum += p.Amount
		i := slices.IndexFunc(next, func(b balance) bool { return b.account == p.Account })
		if i < 0 {
			next = append(next, balance{p.Account, balanceTx(tx.Tx, p.Account, e.Currency)})
			i = len(next) - 1
		}
		next[i].v += p.Amount
	}
	if sum != 0 {
		return Entry{}, fmt.Errorf("%s: postings net to %d, not zero", e.Kind, sum)
	}
	for _, b := range next {
		low, high := int64(0), int64(AmountMax)
		if b.account == World {
			low, high = -int64(AmountMax), 0
		}
		if b.v < low && b.account != World {
			return Entry{}, fmt.Errorf("%s: %s would go below zero", e.Kind, b.account)
		}
		if b.v < low || b.v > high { // the world below -AmountMax is too much money
			return Entry{}, fmt.Errorf("%s %s: %w", e.Kind, b.account, ErrOverflow)
		}
	}
	for _, a := range agents {
		if !e.concerns(a) {
			e.Parties = append(e.Parties, a)
		}
	}

	journal := tx.Bucket(bucketJournal)
	journal.FillPercent = appendFillPercent
	seq, err := journal.NextSequence()
	if err != nil {
		return Entry{}, err
	}
	e.Seq = seq
	e.Time = l.Now()
	data := marshalEntry(e)
	seqKey := binary.BigEndian.AppendUint64(nil, seq)
	if err := journal.Put(seqKey, data); err != nil {
		return Entry{}, err
	}
	balances := tx.Bucket(bucketBalances)
	for _, b := range next {
		v := binary.BigEndian.AppendUint64(nil, uint64(b.v))
		if err := balances.Put(balanceKey(b.account, e.Currency), v); err != nil {
			return Entry{}, err
		}
	}
	if e.Ref != "" {
		if err := tx.Bucket(bucketRefs).Put([]byte(e.Ref), seqKey); err != nil {
			return Entry{}, err
		}
	}
	return e, nil
}

// historyBatchMax bounds how many journal entries one commit indexes.
const historyBatchMax = 5000

// IndexHistory adds the journal entries above the watermark to the history
// index, oldest first, historyBatchMax to a commit, and returns how many it
// indexed. Until it runs, history readers find those entries in the
// journal; the server runs it every expiry interval.
//
// TODO: a journal entry that cannot be decoded stops the index at it, and
// history reads (which decode the unindexed entries of every agent) fail
// until it is repaired. Verify names the entry and the server refuses to
// start on it; skipping it here would hide a damaged ledger.
func (l *Ledger) IndexHistory() (int, error) {
	total := 0
	for {
		var pending bool
		_ = l.db.View(func(tx *bolt.Tx) error {
			k, _ := tx.Bucket(bucketJournal).Cursor().Last()
			pending = len(k) == 8 && binary.BigEndian.Uint64(k) > historyIndexedTx(tx)
			return nil
		})
		if !pending {
			return total, nil
		}
		n, err := l.indexHistoryBatch()
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

func (l *Ledger) indexHistoryBatch() (int, error) {
	var n int
	err := l.db.Update(func(tx *store.Tx) error {
		n = 0
		from := historyIndexedTx(tx.Tx)
		accounts := tx.Bucket(bucketAccounts)
		c := tx.Bucket(bucketJournal).Cursor()
		last := from
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, from+1)); k != nil &&
			n < historyBatchMax; k, v = c.Next() {
			var e Entry
			if err := unmarshalEntry(v, &e); err != nil {
				return fmt.Errorf("journal entry %x: %w", k, err)
			}
			for _, owner := range e.parties() {
				if err := accounts.Put(historyKey(owner, bytes.Clone(k)), nil); err != nil {
					return err
				}
			}
			last = e.Seq
			n++
		}
		if n == 0 {
			return nil
		}
		return tx.Bucket(bucketMeta).Put(historyIndexedKey, binary.BigEndian.AppendUint64(nil, last))
	})
	return n, err
}

// entryTx reads one journal entry.
func entryTx(tx *bolt.Tx, seqKey []byte) (Entry, error) {
	var e Entry
	data := tx.Bucket(bucketJournal).Get(seqKey)
	if data == nil {
		return e, fmt.Errorf("journal entry %d missing", binary.BigEndian.Uint64(seqKey))
	}
	return e, unmarshalEntry(data, &e)
}
