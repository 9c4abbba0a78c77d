package marketplace

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

// bucketIndexPending holds request index keys on their way to bucketByAgent,
// by arrival: seq → bucketByAgent key.
//
// A request's index key belongs with its agent's other keys, and written
// there at once it would cost each request a page of its own: requests
// arrive for many agents at a time. Appended here instead, the keys of every
// request in a commit share one page, and FlushIndex moves them to
// bucketByAgent in batches, where the many keys of one agent share that
// agent's page. Readers of the index read both.
var bucketIndexPending = []byte("mp_index_pending")

// indexFlushMax bounds how many pending keys one commit moves, so that a
// flush never holds up the mail queued behind it for long.
const indexFlushMax = 2000

// putIndexKeyTx adds a bucketByAgent key to the index.
func putIndexKeyTx(tx *bolt.Tx, key []byte) error {
	b := tx.Bucket(bucketIndexPending)
	b.FillPercent = 1 // keys only grow; pages are left full
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return b.Put(binary.BigEndian.AppendUint64(nil, seq), key)
}

// pendingIndexKeysTx returns the pending index keys that start with prefix,
// sorted.
func pendingIndexKeysTx(tx *bolt.Tx, prefix []byte) [][]byte {
	var keys [][]byte
	_ = tx.Bucket(bucketIndexPending).ForEach(func(_, v []byte) error {
		if bytes.HasPrefix(v, prefix) {
			keys = append(keys, bytes.Clone(v))
		}
		return nil
	})
	slices.SortFunc(keys, bytes.Compare)
	return keys
}

// FlushIndex moves pending index keys into bucketByAgent, oldest first, at
// most indexFlushMax, in one commit, and returns how many it moved.
func (m *Market) FlushIndex() (int, error) {
	var n int
	err := m.db.Update(func(tx *store.Tx) error {
		n = 0
		pending, index := tx.Bucket(bucketIndexPending), tx.Bucket(bucketByAgent)
		c := pending.Cursor()
		for k, v := c.First(); k != nil && n < indexFlushMax; k, v = c.First() {
			if err := index.Put(bytes.Clone(v), nil); err != nil {
				return fmt.Errorf("move index key %q: %w", v, err)
			}
			if err := c.Delete(); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
