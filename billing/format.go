package billing

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

// The buckets of store format 2, which format 3 merged into bucketAccounts.
var (
	bucketBalancesV2 = []byte("ledger_balances") // account 0 currency → int64
	bucketByAgentV2  = []byte("ledger_by_agent") // agent 0 seq → nil
)

func init() { store.RegisterUpgrade(2, upgradeAccountsFrom2) }

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
			return accounts.Put(balanceKey(string(account), string(currency)), bytes.Clone(v))
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
