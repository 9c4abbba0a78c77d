package ops

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"agentmail/billing"
	"agentmail/internal/store"
)

// newDataDir makes a stopped data directory whose ledger holds one credit.
func newDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ledger, err := billing.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Credit(billing.Transfer{Agent: "buyer@localhost", Currency: "USD",
		Amount: 10_000_000}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tamper changes the database file of dir by hand, as a bug or a bad disk
// might.
func tamper(t *testing.T, dir string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	b, err := bolt.Open(store.Path(dir), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	t.Run("a good store passes", func(t *testing.T) {
		rep, err := Check(store.Path(newDataDir(t)))
		if err != nil || !rep.OK() || rep.FormatVersion != store.FormatVersion {
			t.Fatalf("Check: %+v, %v", rep, err)
		}
	})
	t.Run("a ledger breach is a problem", func(t *testing.T) {
		dir := newDataDir(t)
		tamper(t, dir, func(tx *bolt.Tx) error {
			// The first balance (an 8-byte value) in the balance cache.
			b := tx.Bucket([]byte("ledger_balance_cache"))
			c := b.Cursor()
			k, v := c.First()
			for ; k != nil && len(v) != 8; k, v = c.Next() {
			}
			return b.Put(bytes.Clone(k), binary.BigEndian.AppendUint64(nil, 1))
		})
		rep, err := Check(store.Path(dir))
		if err != nil || rep.OK() || !strings.HasPrefix(rep.Problems[0], "ledger: ") {
			t.Fatalf("Check of a broken ledger: %+v, %v", rep, err)
		}
	})
	t.Run("a newer format is a problem", func(t *testing.T) {
		dir := newDataDir(t)
		tamper(t, dir, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("store_meta")).Put([]byte("format_version"),
				binary.BigEndian.AppendUint64(nil, store.FormatVersion+1))
		})
		rep, _ := Check(store.Path(dir))
		if rep.OK() || !strings.Contains(rep.Problems[0], "newer") {
			t.Fatalf("Check of a newer format: %+v", rep)
		}
	})
	t.Run("a file held by a server is refused", func(t *testing.T) {
		dir := newDataDir(t)
		db, err := store.Open(dir, store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := Check(store.Path(dir)); !errors.Is(err, store.ErrInUse) {
			t.Fatalf("Check of an open store: %v", err)
		}
	})
}

func TestBackupAndRestore(t *testing.T) {
	dir := newDataDir(t)
	backup := filepath.Join(t.TempDir(), "backup.db")
	n, err := BackupStopped(dir, backup, nil, nil)
	if err != nil || n == 0 {
		t.Fatalf("BackupStopped: %d bytes, %v", n, err)
	}

	if _, err := Restore(backup, dir); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("restore over a store: %v", err)
	}
	target := filepath.Join(t.TempDir(), "new", "data")
	rep, err := Restore(backup, target)
	if err != nil || !rep.OK() {
		t.Fatalf("Restore: %+v, %v", rep, err)
	}
	if rep, err := Check(store.Path(target)); err != nil || !rep.OK() {
		t.Fatalf("restored store: %+v, %v", rep, err)
	}

	// A backup that fails its check is not restored.
	tamper(t, dir, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("ledger_journal")).Put(make([]byte, 8), []byte("{"))
	})
	if _, err := BackupStopped(dir, backup, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(backup, filepath.Join(t.TempDir(), "other")); err == nil {
		t.Fatal("restored a backup whose ledger cannot be read")
	}
}

// A failed write leaves neither the target nor a temporary file behind.
func TestWriteFileAtomicFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	err := WriteFileAtomic(path, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half")
		return errors.New("cut off")
	})
	if err == nil {
		t.Fatal("WriteFileAtomic hid the error")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}
