package store

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Large values live in blob files beside the database, so that neither the
// process nor bbolt's dirty pages ever hold them whole. A blob is written to
// a temporary file, synced, renamed to its name and the directory synced
// before any commit refers to it; the commit records the blob in
// store_blobs with a count of the references to it, and the file is removed
// after the commit that drops the last one. A crash between the file and
// the commit leaves a file that nothing refers to, which Open removes.

// BlobDirName is the directory of blob files inside the data directory.
const BlobDirName = "blobs"

// blobTmpPrefix marks a blob still being written.
const blobTmpPrefix = "tmp-"

var bucketBlobs = []byte("store_blobs") // name → refs (uint64) ‖ size (uint64)

// ErrNoBlob is returned for a blob name store_blobs does not hold.
var ErrNoBlob = errors.New("no such blob")

// Blob names a durable blob file and its size.
type Blob struct {
	Name string // 32 lower-case hex digits
	Size int64
}

// BlobDir returns the blob directory of a data directory.
func BlobDir(dataDir string) string { return filepath.Join(dataDir, BlobDirName) }

// BlobWriter writes one new blob.
type BlobWriter struct {
	dir  string
	f    *os.File
	size int64
}

// NewBlob starts a blob file; finish it with Finish or drop it with Abort.
func (db *DB) NewBlob() (*BlobWriter, error) {
	f, err := os.CreateTemp(db.blobDir, blobTmpPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("new blob: %w", err)
	}
	return &BlobWriter{dir: db.blobDir, f: f}, nil
}

// Write appends to the blob.
func (w *BlobWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.size += int64(n)
	return n, err
}

// Size returns the bytes written so far.
func (w *BlobWriter) Size() int64 { return w.size }

// Finish makes the blob durable under its name: file synced, renamed,
// directory synced. Only then may a commit refer to it.
func (w *BlobWriter) Finish() (Blob, error) {
	var id [16]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	b := Blob{Name: hex.EncodeToString(id[:]), Size: w.size}
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.f.Name(), filepath.Join(w.dir, b.Name))
	}
	if err == nil {
		err = SyncDir(w.dir)
	}
	if err != nil {
		_ = os.Remove(w.f.Name())
		return Blob{}, fmt.Errorf("finish blob: %w", err)
	}
	return b, nil
}

// Abort removes an unfinished blob.
func (w *BlobWriter) Abort() {
	_ = w.f.Close()
	_ = os.Remove(w.f.Name())
}

// OpenBlob opens a blob file for reading.
func (db *DB) OpenBlob(name string) (*os.File, error) {
	if !validBlobName(name) {
		return nil, fmt.Errorf("blob %q: %w", name, ErrNoBlob)
	}
	return os.Open(filepath.Join(db.blobDir, name))
}

// RefBlob adds a reference to a finished blob inside tx.
func (tx *Tx) RefBlob(b Blob) error {
	if !validBlobName(b.Name) {
		return fmt.Errorf("blob %q: %w", b.Name, ErrNoBlob)
	}
	bb := tx.Bucket(bucketBlobs)
	refs, size := uint64(0), b.Size
	if v := bb.Get([]byte(b.Name)); len(v) == 16 {
		refs, size = binary.BigEndian.Uint64(v), int64(binary.BigEndian.Uint64(v[8:]))
	}
	return bb.Put([]byte(b.Name), blobRecord(refs+1, size))
}

// UnrefBlob drops a reference inside tx; the file is removed after the
// commit that drops the last one.
func (tx *Tx) UnrefBlob(name string) error {
	bb := tx.Bucket(bucketBlobs)
	v := bb.Get([]byte(name))
	if len(v) != 16 {
		return fmt.Errorf("unref blob %q: %w", name, ErrNoBlob)
	}
	refs, size := binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
	if refs > 1 {
		return bb.Put([]byte(name), blobRecord(refs-1, int64(size)))
	}
	if err := bb.Delete([]byte(name)); err != nil {
		return err
	}
	tx.OnCommit(func() { tx.db.removeBlob(name) })
	return nil
}

func blobRecord(refs uint64, size int64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, refs), uint64(size))
}

// DiscardBlob removes a finished blob that no commit refers to, such as one
// written for a message that was then refused.
func (db *DB) DiscardBlob(b Blob) {
	if !validBlobName(b.Name) {
		return
	}
	referred := false
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		referred = tx.Bucket(bucketBlobs).Get([]byte(b.Name)) != nil
		return nil
	})
	if !referred {
		db.removeBlob(b.Name)
	}
}

// removeBlob deletes a blob file that no commit refers to any more. It
// waits for a snapshot that is linking blobs (LinkBlobsTx), so a backup
// never misses a file its snapshot refers to.
func (db *DB) removeBlob(name string) {
	db.blobMu.Lock()
	defer db.blobMu.Unlock()
	_ = os.Remove(filepath.Join(db.blobDir, name))
}

func validBlobName(name string) bool {
	if len(name) != 32 {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil && strings.ToLower(name) == name
}

// openBlobs prepares the blob directory and removes what a crash left:
// unfinished files and finished ones no commit refers to.
func (db *DB) openBlobs() error {
	if err := os.MkdirAll(db.blobDir, 0o700); err != nil {
		return fmt.Errorf("create blob directory: %w", err)
	}
	entries, err := os.ReadDir(db.blobDir)
	if err != nil {
		return err
	}
	return db.bolt.View(func(tx *bolt.Tx) error {
		bb := tx.Bucket(bucketBlobs)
		for _, e := range entries {
			if bb != nil && bb.Get([]byte(e.Name())) != nil {
				continue
			}
			if err := os.Remove(filepath.Join(db.blobDir, e.Name())); err != nil {
				return fmt.Errorf("remove orphan blob: %w", err)
			}
		}
		return nil
	})
}

// ForEachBlobTx calls fn for every blob store_blobs holds.
func ForEachBlobTx(tx *bolt.Tx, fn func(b Blob, refs uint64) error) error {
	bb := tx.Bucket(bucketBlobs)
	if bb == nil {
		return nil
	}
	return bb.ForEach(func(k, v []byte) error {
		if len(v) != 16 {
			return fmt.Errorf("store_blobs %q: %d bytes, want 16", k, len(v))
		}
		return fn(Blob{Name: string(k), Size: int64(binary.BigEndian.Uint64(v[8:]))},
			binary.BigEndian.Uint64(v))
	})
}

// CheckBlobsTx compares store_blobs in tx with the files in dir: each blob
// must be there with its size and at least one reference.
func CheckBlobsTx(tx *bolt.Tx, dir string) []error {
	var errs []error
	err := ForEachBlobTx(tx, func(b Blob, refs uint64) error {
		fi, err := os.Stat(filepath.Join(dir, b.Name))
		switch {
		case !validBlobName(b.Name):
			errs = append(errs, fmt.Errorf("blob %q: bad name", b.Name))
		case refs == 0:
			errs = append(errs, fmt.Errorf("blob %s: recorded with no reference", b.Name))
		case err != nil:
			errs = append(errs, fmt.Errorf("blob %s: %w", b.Name, err))
		case fi.Size() != b.Size:
			errs = append(errs, fmt.Errorf("blob %s: %d bytes, recorded %d", b.Name,
				fi.Size(), b.Size))
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errs
}

// WriteSnapshotBlobs is WriteSnapshot that also puts every blob the
// snapshot refers to into linkDir, as hard links (copies across file
// systems). The links are made before any blob can be removed, so the
// snapshot and its blobs agree.
func (db *DB) WriteSnapshotBlobs(w io.Writer, size func(int64), linkDir string) (int64, error) {
	return writeSnapshotBlobs(db.bolt, db.blobDir, &db.blobMu, w, size, linkDir)
}

// WriteSnapshotBlobs is DB.WriteSnapshotBlobs on a stopped data directory's
// file (opened with OpenReadOnly), whose blobs are in blobDir.
func WriteSnapshotBlobs(b *bolt.DB, blobDir string, w io.Writer, size func(int64),
	linkDir string) (int64, error) {
	return writeSnapshotBlobs(b, blobDir, nil, w, size, linkDir)
}

func writeSnapshotBlobs(b *bolt.DB, blobDir string, mu *sync.Mutex, w io.Writer,
	size func(int64), linkDir string) (int64, error) {
	var n int64
	unlock := func() {}
	if mu != nil {
		mu.Lock()
		unlock = sync.OnceFunc(mu.Unlock)
		defer unlock()
	}
	err := b.View(func(tx *bolt.Tx) error {
		err := ForEachBlobTx(tx, func(b Blob, _ uint64) error {
			return linkOrCopy(filepath.Join(blobDir, b.Name), filepath.Join(linkDir, b.Name))
		})
		unlock() // the files are ours now; removals may go on
		if err == nil {
			err = SyncDir(linkDir)
		}
		if err != nil {
			return fmt.Errorf("snapshot blobs: %w", err)
		}
		if size != nil {
			size(tx.Size())
		}
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// linkOrCopy makes dst the same file as src, or a synced copy of it when a
// link cannot cross file systems.
func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
