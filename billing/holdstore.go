package billing

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

// Where holds live (store format 5).
//
// A hold is written once where it is made, at the end of bucketHoldRecords
// under the next sequence number, so that the holds of one commit share
// their pages however scattered their ids are; settling or voiding it later
// rewrites it in place. Finding a hold by id goes through bucketHoldIDs,
// which IndexHolds fills in batches from the records above the watermark
// holdsIndexedKey; the holds above the watermark are found through the
// ledger's recentHolds, kept in memory beside the open database.
var (
	bucketHoldRecords = []byte("ledger_hold_records") // seq → Hold
	bucketHoldIDs     = []byte("ledger_hold_ids")     // hold id → seq
	// holdsIndexedKey in bucketMeta: every record up to this seq is in
	// bucketHoldIDs.
	holdsIndexedKey = []byte("holds_indexed")
)

// holdBatchMax bounds how many holds one commit of IndexHolds indexes.
const holdBatchMax = 5000

// recentHolds finds the holds that are not in the id index yet. It maps
// their ids to their sequence numbers as HoldTx writes them, before their
// transaction commits: an entry can therefore name a record that was rolled
// back, or a sequence number since reused by another hold, and is only
// believed when the record there carries the id. Entries at or below
// dropped have gone when IndexHolds committed them to the index; a reader
// whose snapshot predates that commit looks for them in its records.
type recentHolds struct {
	mu      sync.RWMutex
	seqs    map[string]uint64
	dropped uint64
}

// recentHoldsKey is the key of the database's recentHolds in store.Attach:
// every Ledger over one database shares them.
type recentHoldsKey struct{}

func loadRecentHolds(db *store.DB) (*recentHolds, error) {
	v, err := db.Attach(recentHoldsKey{}, func() (any, error) {
		r := &recentHolds{seqs: map[string]uint64{}}
		err := db.View(func(tx *bolt.Tx) error {
			r.dropped = holdsIndexedTx(tx)
			return eachRecordAboveTx(tx, r.dropped, func(seq uint64, h Hold) error {
				r.seqs[h.ID] = seq
				return nil
			})
		})
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the holds made since the last index: %w", err)
	}
	return v.(*recentHolds), nil
}

func (r *recentHolds) add(id string, seq uint64) {
	r.mu.Lock()
	r.seqs[id] = seq
	r.mu.Unlock()
}

func (r *recentHolds) get(id string) (seq, dropped uint64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.seqs[id], r.dropped
}

// drop forgets the holds up to seq, which the id index now has.
func (r *recentHolds) drop(seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, s := range r.seqs {
		if s <= seq {
			delete(r.seqs, id)
		}
	}
	r.dropped = max(r.dropped, seq)
}

func holdsIndexedTx(tx *bolt.Tx) uint64 {
	if b := tx.Bucket(bucketMeta); b != nil {
		if v := b.Get(holdsIndexedKey); len(v) == 8 {
			return binary.BigEndian.Uint64(v)
		}
	}
	return 0
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// holdAtTx reads the record at seq; ok is false when there is none.
func holdAtTx(tx *bolt.Tx, seq uint64) (h Hold, ok bool, err error) {
	data := tx.Bucket(bucketHoldRecords).Get(seqKey(seq))
	if data == nil {
		return Hold{}, false, nil
	}
	if err := unmarshalHold(data, &h); err != nil {
		return Hold{}, false, fmt.Errorf("hold record %d: %w", seq, err)
	}
	return h, true, nil
}

// eachRecordAboveTx calls fn for every hold record above seq, in order.
func eachRecordAboveTx(tx *bolt.Tx, seq uint64, fn func(uint64, Hold) error) error {
	c := tx.Bucket(bucketHoldRecords).Cursor()
	for k, v := c.Seek(seqKey(seq + 1)); k != nil; k, v = c.Next() {
		var h Hold
		if err := unmarshalHold(v, &h); err != nil {
			return fmt.Errorf("hold record %x: %w", k, err)
		}
		if err := fn(binary.BigEndian.Uint64(k), h); err != nil {
			return err
		}
	}
	return nil
}

// findHoldTx reads the hold with the given id and the sequence number it is
// kept under; ok is false when there is none.
func (l *Ledger) findHoldTx(tx *bolt.Tx, id string) (h Hold, seq uint64, ok bool, err error) {
	if v := tx.Bucket(bucketHoldIDs).Get([]byte(id)); v != nil {
		if len(v) != 8 {
			return Hold{}, 0, false, fmt.Errorf("hold %s: malformed index entry %x", id, v)
		}
		seq = binary.BigEndian.Uint64(v)
		h, ok, err = holdAtTx(tx, seq)
		if err == nil && (!ok || h.ID != id) {
			err = fmt.Errorf("hold %s: the id index names record %d, which is not it", id, seq)
		}
		return h, seq, err == nil, err
	}
	indexed := holdsIndexedTx(tx)
	seq, dropped := l.recent.get(id)
	if seq > indexed {
		h, ok, err = holdAtTx(tx, seq)
		if err != nil || (ok && h.ID == id) {
			return h, seq, ok, err
		}
	}
	if dropped <= indexed {
		return Hold{}, 0, false, nil
	}
	// This transaction began before the index took in holds that the
	// recent ones have let go of since: they are in its records, unindexed.
	h, seq = Hold{}, 0
	errFound := fmt.Errorf("found")
	err = eachRecordAboveTx(tx, indexed, func(s uint64, r Hold) error {
		if s > dropped {
			return errFound
		}
		if r.ID == id {
			h, seq, ok = r, s, true
			return errFound
		}
		return nil
	})
	if err == errFound {
		err = nil
	}
	return h, seq, ok, err
}

// newHoldTx writes a new hold at the end of the records.
func (l *Ledger) newHoldTx(tx *bolt.Tx, h Hold) error {
	records := tx.Bucket(bucketHoldRecords)
	records.FillPercent = appendFillPercent
	seq, err := records.NextSequence()
	if err != nil {
		return err
	}
	if err := records.Put(seqKey(seq), marshalHold(h)); err != nil {
		return err
	}
	l.recent.add(h.ID, seq)
	return nil
}

// rewriteHoldTx stores a changed hold over its record at seq.
func rewriteHoldTx(tx *bolt.Tx, seq uint64, h Hold) error {
	records := tx.Bucket(bucketHoldRecords)
	records.FillPercent = appendFillPercent
	return records.Put(seqKey(seq), marshalHold(h))
}

// IndexHolds adds the holds above the watermark to the id index,
// holdBatchMax to a commit, and returns how many it indexed. Until it runs,
// those holds are found through the ledger's memory of recent holds; the
// server runs it every expiry interval.
//
// TODO: a record that cannot be decoded stops the index at it, as one in the
// journal stops the history index; loadRecentHolds then refuses to start
// and Verify names it. Skipping it would hide a damaged ledger.
func (l *Ledger) IndexHolds() (int, error) {
	total := 0
	for {
		n, err := l.indexHoldsBatch()
		total += n
		if err != nil || n < holdBatchMax {
			return total, err
		}
	}
}

func (l *Ledger) indexHoldsBatch() (int, error) {
	var n int
	err := l.db.Update(func(tx *store.Tx) error {
		n = 0
		ids := tx.Bucket(bucketHoldIDs)
		last := holdsIndexedTx(tx.Tx)
		errFull := fmt.Errorf("batch full")
		err := eachRecordAboveTx(tx.Tx, last, func(seq uint64, h Hold) error {
			if n == holdBatchMax {
				return errFull
			}
			if err := ids.Put([]byte(h.ID), seqKey(seq)); err != nil {
				return err
			}
			last = seq
			n++
			return nil
		})
		if err != nil && err != errFull {
			return err
		}
		if n == 0 {
			return nil
		}
		if err := tx.Bucket(bucketMeta).Put(holdsIndexedKey, seqKey(last)); err != nil {
			return err
		}
		tx.OnCommit(func() { l.recent.drop(last) })
		return nil
	})
	return n, err
}

// EachHoldTx calls fn for every hold in id order until fn returns false or
// an error.
func EachHoldTx(tx *bolt.Tx, fn func(Hold) (bool, error)) error {
	// The holds above the watermark are few: they are read whole and
	// merged into the index's order.
	var recent []Hold
	err := eachRecordAboveTx(tx, holdsIndexedTx(tx), func(_ uint64, h Hold) error {
		recent = append(recent, h)
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(recent, func(a, b Hold) int { return strings.Compare(a.ID, b.ID) })
	c := tx.Bucket(bucketHoldIDs).Cursor()
	k, v := c.First()
	for k != nil || len(recent) > 0 {
		var h Hold
		if k == nil || (len(recent) > 0 && recent[0].ID < string(k)) {
			h, recent = recent[0], recent[1:]
		} else {
			if len(v) != 8 {
				return fmt.Errorf("hold %s: malformed index entry %x", k, v)
			}
			var ok bool
			if h, ok, err = holdAtTx(tx, binary.BigEndian.Uint64(v)); err != nil {
				return err
			} else if !ok || h.ID != string(k) {
				return fmt.Errorf("hold %s: the id index names record %d, which is not it",
					k, binary.BigEndian.Uint64(v))
			}
			k, v = c.Next()
		}
		if more, err := fn(h); err != nil || !more {
			return err
		}
	}
	return nil
}

// bucketHoldsV4 kept holds by id before format 5.
var bucketHoldsV4 = []byte("ledger_holds") // hold id → Hold

// upgradeHoldsFrom4 moves the holds of a format-4 ledger, in id order, to
// the records and the id index, all of them indexed, and drops their old
// bucket. It runs inside the store's upgrade transaction, so a crash leaves
// either layout whole; a store without a ledger is left alone.
func upgradeHoldsFrom4(tx *bolt.Tx) error {
	old := tx.Bucket(bucketHoldsV4)
	if old == nil {
		return nil
	}
	var buckets [3]*bolt.Bucket
	for i, name := range [][]byte{bucketHoldRecords, bucketHoldIDs, bucketMeta} {
		b, err := tx.CreateBucketIfNotExists(name)
		if err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
		buckets[i] = b
	}
	records, ids, meta := buckets[0], buckets[1], buckets[2]
	records.FillPercent = appendFillPercent
	var last uint64
	err := old.ForEach(func(k, v []byte) error {
		seq, err := records.NextSequence()
		if err != nil {
			return err
		}
		if err := records.Put(seqKey(seq), bytes.Clone(v)); err != nil {
			return err
		}
		last = seq
		return ids.Put(bytes.Clone(k), seqKey(seq))
	})
	if err != nil {
		return err
	}
	if err := tx.DeleteBucket(bucketHoldsV4); err != nil {
		return err
	}
	return meta.Put(holdsIndexedKey, seqKey(last))
}

// SetMemoFormat4Tx replaces the memo of a hold in a store older than format
// 5, whose holds are still keyed by id; it is for the upgrade steps that run
// before billing's move of the holds.
func SetMemoFormat4Tx(tx *bolt.Tx, id string, memo []byte) error {
	old := tx.Bucket(bucketHoldsV4)
	var data []byte
	if old != nil {
		data = old.Get([]byte(id))
	}
	if data == nil {
		return fmt.Errorf("memo for hold %s: %w", id, ErrNoHold)
	}
	var h Hold
	if err := unmarshalHold(data, &h); err != nil {
		return fmt.Errorf("hold %s: %w", id, err)
	}
	h.Memo = memo
	return old.Put([]byte(id), marshalHold(h))
}
