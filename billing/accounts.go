package billing

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// The ledger keeps two things per owner (an agent, or the world and platform
// accounts) beside the journal:
//
//   - bucketBalances, the balance cache: owner 0 kind currency → int64,
//     kind w (wallet), h (hold) or s (world, platform). Updated in place and
//     small, the balances of many owners share a page, so the reservations
//     of a commit write few pages for them whoever pays.
//   - bucketAccounts, the history index: owner 0 0x01 seq → nil, one key per
//     journal entry that concerns the owner. An owner's keys grow at the
//     end of its range, so written with each entry they would cost every
//     reservation a page of its own. They are written in batches instead
//     (IndexHistory), from the journal, which is in order: every entry above
//     the watermark historyIndexedKey is not indexed yet, and readers of a
//     history read those from the journal first.
//
// Store format 3 kept the balances in bucketAccounts after each owner's
// history (owner 0 0x02 kind currency) and wrote the history with every
// entry; format 4 moved them (see upgradeAccountsFrom3).
var (
	bucketAccounts = []byte("ledger_accounts")
	bucketBalances = []byte("ledger_balance_cache")
	bucketMeta     = []byte("ledger_meta")

	// historyIndexedKey in bucketMeta: the journal is indexed in
	// bucketAccounts up to this sequence number (big-endian uint64).
	historyIndexedKey = []byte("history_indexed")
)

const (
	tagHistory   = 0x01
	tagBalanceV3 = 0x02 // store format 3 only

	kindWallet = 'w'
	kindHold   = 'h'
	kindSystem = 's' // World and Platform
)

// accountOwner splits an account name into its owner and balance kind.
func accountOwner(account string) (owner string, kind byte) {
	if a, ok := strings.CutPrefix(account, "wallet:"); ok {
		return a, kindWallet
	}
	if a, ok := strings.CutPrefix(account, "hold:"); ok {
		return a, kindHold
	}
	return account, kindSystem
}

// accountName is the inverse of accountOwner.
func accountName(owner string, kind byte) string {
	switch kind {
	case kindWallet:
		return WalletAccount(owner)
	case kindHold:
		return HoldAccount(owner)
	}
	return owner
}

// balanceKey is where an account's balance in one currency is cached.
func balanceKey(account, currency string) []byte {
	owner, kind := accountOwner(account)
	k := make([]byte, 0, len(owner)+2+len(currency))
	k = append(k, owner...)
	k = append(k, 0, kind)
	return append(k, currency...)
}

// parseBalanceKey is the inverse of balanceKey.
func parseBalanceKey(k []byte) (account, currency string, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) < i+2 {
		return "", "", false
	}
	return accountName(string(k[:i]), k[i+1]), string(k[i+2:]), true
}

// balanceValue decodes a cached balance.
func balanceValue(v []byte) int64 { return int64(binary.BigEndian.Uint64(v)) }

// historyPrefix is the start of every history key of one owner.
func historyPrefix(owner string) []byte {
	return append([]byte(owner), 0, tagHistory)
}

// historyKey indexes the journal entry seqKey under owner.
func historyKey(owner string, seqKey []byte) []byte {
	return append(historyPrefix(owner), seqKey...)
}

// historyIndexedTx returns the watermark: entries up to it are in the
// history index.
func historyIndexedTx(tx *bolt.Tx) uint64 {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return 0
	}
	if v := b.Get(historyIndexedKey); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// parties are the owners whose history shows an entry: the owners of its
// postings and the agents it names besides.
func (e Entry) parties() []string {
	var out []string
	add := func(o string) {
		for _, x := range out {
			if x == o {
				return
			}
		}
		out = append(out, o)
	}
	for _, p := range e.Postings {
		owner, _ := accountOwner(p.Account)
		add(owner)
	}
	for _, a := range e.Parties {
		add(a)
	}
	return out
}

// concerns tells whether owner's history shows e.
func (e Entry) concerns(owner string) bool {
	for _, o := range e.parties() {
		if o == owner {
			return true
		}
	}
	return false
}

// eachBalanceTx calls fn for every cached balance: in bucketBalances, or in
// a store of format 3 (a backup that check reads as it is), in the balance
// keys of bucketAccounts.
func eachBalanceTx(tx *bolt.Tx, fn func(account, currency string, amount int64)) error {
	if b := tx.Bucket(bucketBalances); b != nil {
		return b.ForEach(func(k, v []byte) error {
			account, currency, ok := parseBalanceKey(k)
			if !ok || len(v) != 8 {
				return fmt.Errorf("%s: malformed balance %x", bucketBalances, k)
			}
			fn(account, currency, balanceValue(v))
			return nil
		})
	}
	return eachBalanceTxV3(tx.Bucket(bucketAccounts),
		func(_ []byte, account, currency string, v []byte) error {
			fn(account, currency, balanceValue(v))
			return nil
		})
}

// balanceKeyV3 is where store format 3 kept an account's balance in one
// currency; the format-2 upgrade writes it, the format-3 one moves it.
func balanceKeyV3(account, currency string) []byte {
	owner, kind := accountOwner(account)
	k := make([]byte, 0, len(owner)+3+len(currency))
	k = append(k, owner...)
	k = append(k, 0, tagBalanceV3, kind)
	return append(k, currency...)
}
