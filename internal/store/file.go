package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrInUse is returned when another process holds the database file.
var ErrInUse = errors.New("the database is in use by another process " +
	"(is agentmail serve running?)")

// lockTimeout bounds the wait for another process's lock on the file.
const lockTimeout = time.Second

// OpenReadOnly opens a database file (a data directory's or a backup) for
// reading only, sharing it with other readers but not with a writer.
func OpenReadOnly(path string) (*bolt.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout,
		FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return b, nil
}

// WriteSnapshot writes a consistent copy of the database, as of one read
// transaction, to w while writes go on. size, when not nil, learns the
// number of bytes before the first is written.
//
// The read transaction keeps the pages it sees from being reused, so the
// file may grow while a long snapshot runs.
func (db *DB) WriteSnapshot(w io.Writer, size func(int64)) (int64, error) {
	return WriteSnapshot(db.bolt, w, size)
}

// WriteSnapshot is DB.WriteSnapshot on any open bbolt file.
func WriteSnapshot(b *bolt.DB, w io.Writer, size func(int64)) (n int64, err error) {
	err = b.View(func(tx *bolt.Tx) error {
		if size != nil {
			size(tx.Size())
		}
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// CheckTx runs bbolt's structural check (page references, free list, key
// order) and returns every problem it finds.
func CheckTx(tx *bolt.Tx) []error {
	var errs []error
	for err := range tx.Check() {
		errs = append(errs, err)
	}
	return errs
}

// SyncDir makes a rename or a new file in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Path returns the database file's path in a data directory.
func Path(dir string) string { return filepath.Join(dir, FileName) }
