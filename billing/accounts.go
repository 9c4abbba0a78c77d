package billing

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// bucketAccounts holds, per owner (an agent, or the world and platform
// accounts), the owner's history index and then its balances:
//
//	owner 0 0x01 seq             → nil     (a journal entry touching owner)
//	owner 0 0x02 kind currency   → int64   (a balance; kind w, h or s)
//
// An agent's wallet and hold balances sort next to each other and right
// after its newest history key, so a reservation, which changes both and
// appends to the history, dirties one leaf page for its payer instead of
// three in separate buckets. Store format 3 introduced this layout.
var bucketAccounts = []byte("ledger_accounts")

const (
	tagHistory = 0x01
	tagBalance = 0x02

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

// balanceKey is where an account's balance in one currency is cached.
func balanceKey(account, currency string) []byte {
	owner, kind := accountOwner(account)
	k := make([]byte, 0, len(owner)+3+len(currency))
	k = append(k, owner...)
	k = append(k, 0, tagBalance, kind)
	return append(k, currency...)
}

// balancePrefix is the start of every balance key of one owner.
func balancePrefix(owner string) []byte {
	return append([]byte(owner), 0, tagBalance)
}

// parseBalanceKey is the inverse of balanceKey; ok is false for a history
// key or a malformed one.
func parseBalanceKey(k []byte) (account, currency string, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) < i+3 || k[i+1] != tagBalance {
		return "", "", false
	}
	owner, currency := string(k[:i]), string(k[i+3:])
	switch k[i+2] {
	case kindWallet:
		return WalletAccount(owner), currency, true
	case kindHold:
		return HoldAccount(owner), currency, true
	case kindSystem:
		return owner, currency, true
	}
	return "", "", false
}

// historyPrefix is the start of every history key of one agent.
func historyPrefix(agent string) []byte {
	return append([]byte(agent), 0, tagHistory)
}

// historyKey indexes the journal entry seqKey under agent.
func historyKey(agent string, seqKey []byte) []byte {
	return append(historyPrefix(agent), seqKey...)
}

// balanceValue decodes a cached balance.
func balanceValue(v []byte) int64 { return int64(binary.BigEndian.Uint64(v)) }
