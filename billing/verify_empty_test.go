package billing

import (
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// A file without the ledger's buckets (a foreign bbolt file handed to
// `agentmail check`) is an error, not a panic.
func TestVerifyTxWithoutLedger(t *testing.T) {
	b, err := bolt.Open(filepath.Join(t.TempDir(), "other.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.View(func(tx *bolt.Tx) error {
		_, err := VerifyTx(tx)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "no ledger here") {
		t.Fatalf("VerifyTx on an empty file: %v", err)
	}
}
