package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"
)

var bucketFill = []byte("fill")

// putValue stores a value of n bytes under key i.
func putValue(db *DB, i uint64, n int) error {
	return db.Update(func(tx *Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketFill)
		if err != nil {
			return err
		}
		return b.Put(keyOf(i), bytes.Repeat([]byte{'x'}, n))
	})
}

func keyOf(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

func countValues(t *testing.T, db *DB) int {
	t.Helper()
	n := 0
	err := db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketFill); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func checkDB(t *testing.T, db *DB) {
	t.Helper()
	err := db.View(func(tx *bolt.Tx) error {
		for _, err := range CheckTx(tx) {
			t.Errorf("bbolt check: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A commit that runs out of space fails with an error that wraps ENOSPC,
// leaves nothing behind, and the same open database takes writes again
// once space returns: bbolt's rollback after a failed write keeps it usable.
func TestDiskFullThenSpaceReturns(t *testing.T) {
	fs := smallFS(t, 8)
	filler := filepath.Join(fs, "filler")
	if err := os.WriteFile(filler, make([]byte, 3<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(filepath.Join(fs, "data"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := db
	t.Cleanup(func() { first.Close() }) // before the unmount; ErrClosed is fine

	const valueBytes = 256 << 10
	acked := 0
	var full error
	for i := uint64(0); i < 100 && full == nil; i++ {
		if full = putValue(db, i, valueBytes); full == nil {
			acked++
		}
	}
	if full == nil {
		t.Fatal("8 MiB of tmpfs never filled up")
	}
	if !errors.Is(full, syscall.ENOSPC) {
		t.Fatalf("commit on a full disk: %v; want an error wrapping ENOSPC", full)
	}
	if errors.Is(full, ErrWritesStopped) {
		t.Fatalf("ENOSPC stopped writes for good: %v", full)
	}
	t.Logf("%d values committed, then: %v", acked, full)

	// Full: reads go on, writes keep failing cleanly, nothing half-written.
	for range 3 {
		if err := putValue(db, 1000, valueBytes); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("write on a full disk: %v", err)
		}
	}
	if n := countValues(t, db); n != acked {
		t.Fatalf("%d values readable, %d acknowledged", n, acked)
	}
	checkDB(t, db)

	// Space returns: the same open database commits again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := putValue(db, 2000, valueBytes); err != nil {
		t.Fatalf("write after space returned: %v", err)
	}
	acked++
	checkDB(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(filepath.Join(fs, "data"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if n := countValues(t, db); n != acked {
		t.Fatalf("after reopening: %d values, %d acknowledged", n, acked)
	}
	checkDB(t, db)
}
