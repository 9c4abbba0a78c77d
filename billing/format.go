package billing

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

// The buckets of store format 2, which format 3 merged into bucketAccounts.
var (
	bucketBalancesV2 = []byte("ledger_balances") // account 0 currency → int64
	bucketByAgentV2  = []byte("ledger_by_agent") // agent 0 seq → nil
)

func init() {
	store.RegisterUpgrade(2, upgradeAccountsFrom2)
	store.RegisterUpgrade(3, upgradeAccountsFrom3)
	store.RegisterUpgrade(4, upgradeHoldsFrom4)
}

// upgradeAccountsFrom2 moves the balance cache and the per-agent index of a
// format-2 ledger into bucketAccounts and drops their old buckets. It runs
// inside the store's upgrade transaction, so a crash leaves either layout
// whole; a store without a ledger is left alone.
func upgradeAccountsFrom2(tx *bolt.Tx) error {
	balances, byAgent := tx.Bucket(bucketBalancesV2), tx.Bucket(bucketByAgentV2)
	if balances == nil && byAgent == nil {
		return nil
	}
	accounts, err := tx.CreateBucketIfNotExists(bucketAccounts)
	if err != nil {
		return fmt.Errorf("create %s: %w", bucketAccounts, err)
	}
	if balances != nil {
		err := balances.ForEach(func(k, v []byte) error {
			account, currency, ok := bytes.Cut(k, []byte{0})
			if !ok || len(v) != 8 {
				return fmt.Errorf("%s: malformed balance %x", bucketBalancesV2, k)
			}
			return accounts.Put(balanceKeyV3(string(account), string(currency)), bytes.Clone(v))
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket(bucketBalancesV2); err != nil {
			return err
		}
	}
	if byAgent != nil {
		err := byAgent.ForEach(func(k, _ []byte) error {
			if len(k) < 9 || k[len(k)-9] != 0 {
				return fmt.Errorf("%s: malformed key %x", bucketByAgentV2, k)
			}
			agent, seqKey := string(k[:len(k)-9]), bytes.Clone(k[len(k)-8:])
			return accounts.Put(historyKey(agent, seqKey), nil)
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket(bucketByAgentV2); err != nil {
			return err
		}
	}
	return nil
}

// upgradeAccountsFrom3 moves every balance from the balance keys of store
// format 3 in bucketAccounts to bucketBalances (format 4), and records that
// the whole journal is in the history index, as format 3 wrote it with each
// entry.
func upgradeAccountsFrom3(tx *bolt.Tx) error {
	accounts := tx.Bucket(bucketAccounts)
	if accounts == nil {
		return nil
	}
	balances, err := tx.CreateBucketIfNotExists(bucketBalances)
	if err != nil {
		return err
	}
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	var moved [][]byte
	err = eachBalanceTxV3(accounts, func(k []byte, account, currency string, v []byte) error {
		moved = append(moved, bytes.Clone(k))
		return balances.Put(balanceKey(account, currency), bytes.Clone(v))
	})
	if err != nil {
		return err
	}
	for _, k := range moved {
		if err := accounts.Delete(k); err != nil {
			return err
		}
	}
	var last uint64
	if j := tx.Bucket(bucketJournal); j != nil {
		if k, _ := j.Cursor().Last(); len(k) == 8 {
			last = binary.BigEndian.Uint64(k)
		}
	}
	return meta.Put(historyIndexedKey, binary.BigEndian.AppendUint64(nil, last))
}

// eachBalanceTxV3 calls fn for every balance key of a format-3 bucketAccounts.
func eachBalanceTxV3(accounts *bolt.Bucket, fn func(k []byte, account, currency string, v []byte) error) error {
	return accounts.ForEach(func(k, v []byte) error {
		i := bytes.IndexByte(k, 0)
		if i < 0 || len(k) < i+3 || k[i+1] != tagBalanceV3 {
			return nil // a history key
		}
		if len(v) != 8 {
			return fmt.Errorf("%s: malformed balance %x", bucketAccounts, k)
		}
		return fn(k, accountName(string(k[:i]), k[i+2]), string(k[i+3:]), v)
	})
}
