package store

import (
	"errors"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// compactTxBytesMax bounds how much one transaction of the copy writes.
const compactTxBytesMax = 64 << 20

// CompactResult reports the file sizes around a compaction.
type CompactResult struct {
	BytesBefore, BytesAfter int64
}

// Compact rewrites the database of a stopped data directory into a new file
// that holds only live pages, checks the copy and renames it over the old
// file. bbolt never gives freed pages back to the file system; this does.
// It holds the file's lock throughout, so it refuses while a server runs.
func Compact(dir string) (CompactResult, error) {
	var res CompactResult
	path := Path(dir)
	if _, err := os.Stat(path); err != nil {
		return res, fmt.Errorf("compact: %w", err)
	}
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout,
		FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return res, fmt.Errorf("compact: %w", ErrInUse)
	}
	if err != nil {
		return res, fmt.Errorf("compact: open %s: %w", path, err)
	}
	defer src.Close()

	tmp := path + ".compact"
	if err := compactInto(tmp, src); err != nil {
		_ = os.Remove(tmp)
		return res, err
	}
	if res.BytesBefore, err = fileSize(path); err == nil {
		res.BytesAfter, err = fileSize(tmp)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return res, err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return res, fmt.Errorf("compact: %w", err)
	}
	return res, SyncDir(dir)
}

// compactInto copies src into a new file at path and checks the copy.
func compactInto(path string, src *bolt.DB) error {
	_ = os.Remove(path) // left by an interrupted compaction
	dst, err := bolt.Open(path, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType,
		NoFreelistSync: true})
	if err != nil {
		return fmt.Errorf("compact: create %s: %w", path, err)
	}
	if err := bolt.Compact(dst, src, compactTxBytesMax); err != nil {
		dst.Close()
		return fmt.Errorf("compact: copy: %w", err)
	}
	var problems []error
	err = dst.View(func(tx *bolt.Tx) error {
		problems = CheckTx(tx)
		return nil
	})
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil && len(problems) > 0 {
		err = fmt.Errorf("compact: the copy fails its check: %w", errors.Join(problems...))
	}
	return err
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
