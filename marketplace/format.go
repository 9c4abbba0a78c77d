package marketplace

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"agentmail/billing"
	"agentmail/internal/store"
)

func init() { store.RegisterUpgrade(2, upgradeRequestsFrom2) }

// upgradeRequestsFrom2 moves the record of every paid request of a format-2
// store from bucketRequests into the memo of its hold (store format 3), in
// the store's upgrade transaction. Free requests, which have no hold, stay.
func upgradeRequestsFrom2(tx *bolt.Tx) error {
	requests := tx.Bucket(bucketRequests)
	if requests == nil {
		return nil
	}
	var moved [][]byte
	err := requests.ForEach(func(k, v []byte) error {
		var r Request
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("request %s: %w", k, err)
		}
		if r.HoldID == "" {
			return nil
		}
		if err := billing.SetMemoFormat4Tx(tx, r.HoldID, bytes.Clone(v)); err != nil {
			return fmt.Errorf("request %s: %w", k, err)
		}
		moved = append(moved, bytes.Clone(k))
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range moved {
		if err := requests.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
