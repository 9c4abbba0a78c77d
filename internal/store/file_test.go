package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// A snapshot taken while writers commit is a valid database holding a
// prefix of the writes: every value acknowledged before it began.
func TestSnapshotWhileWriting(t *testing.T) {
	db, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range uint64(50) {
		if err := putValue(db, i, 1000); err != nil {
			t.Fatal(err)
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(1000); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := putValue(db, i, 1000); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var buf bytes.Buffer
	var size int64
	n, err := db.WriteSnapshot(&buf, func(s int64) { size = s })
	close(stop)
	wg.Wait()
	if err != nil || n != size || int64(buf.Len()) != n {
		t.Fatalf("snapshot: %d bytes, size %d, buffer %d, err %v", n, size, buf.Len(), err)
	}

	dir := t.TempDir()
	if err := os.WriteFile(Path(dir), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	copyDB, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer copyDB.Close()
	checkDB(t, copyDB)
	if got := countValues(t, copyDB); got < 50 {
		t.Errorf("snapshot holds %d values, want at least the 50 written before it", got)
	}
}

// Compaction shrinks a store that has shrunk, keeps every value, and
// refuses while the file is open elsewhere.
func TestCompact(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint64(200) {
		if err := putValue(db, i, 20<<10); err != nil {
			t.Fatal(err)
		}
	}
	err = db.Update(func(tx *Tx) error {
		b := tx.Bucket(bucketFill)
		for i := range uint64(190) {
			if err := b.Delete(keyOf(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compact(dir); !errors.Is(err, ErrInUse) {
		t.Fatalf("Compact while open: %v", err)
	}
	db.Close()

	res, err := Compact(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compacted %d -> %d bytes", res.BytesBefore, res.BytesAfter)
	if res.BytesAfter*4 > res.BytesBefore {
		t.Errorf("compaction barely shrank the file: %d -> %d", res.BytesBefore, res.BytesAfter)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.compact")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	db, err = Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkDB(t, db)
	if n := countValues(t, db); n != 10 {
		t.Errorf("%d values after compaction, want 10", n)
	}
	if db.UpgradedFrom() != FormatVersion {
		t.Errorf("format version lost in compaction: read as %d", db.UpgradedFrom())
	}
}
