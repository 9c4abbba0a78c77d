package ops

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"agentmail/internal/store"
)

// WriteFileAtomic creates path with what write produces: into a temporary
// file beside it, synced, then renamed over path, so that path is either the
// old file or the whole new one, even across a crash.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".partial-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return store.SyncDir(dir)
}

// BackupStopped writes a snapshot of a stopped data directory to dst, and
// the blob files it refers to to BlobDirOf(dst). A running server holds the
// file; back it up through its admin socket.
func BackupStopped(dataDir, dst string, w func(io.Writer) io.Writer,
	size func(int64)) (int64, error) {
	b, err := store.OpenReadOnly(store.Path(dataDir))
	if err != nil {
		return 0, err
	}
	defer b.Close()
	var n int64
	err = WriteBackup(dst, func(f io.Writer, blobDir string) error {
		if w != nil {
			f = w(f)
		}
		n, err = store.WriteSnapshotBlobs(b, store.BlobDir(dataDir), f, size, blobDir)
		return err
	})
	return n, err
}

// WriteBackup writes a backup: write gets the file to write the snapshot to
// and the empty directory (BlobDirOf(path)) to put its blob files in. The
// blob directory of an earlier backup at path is replaced; path appears only
// once both are complete.
func WriteBackup(path string, write func(w io.Writer, blobDir string) error) error {
	blobDir, err := filepath.Abs(BlobDirOf(path))
	if err != nil {
		return err
	}
	if err := os.RemoveAll(blobDir); err != nil {
		return err
	}
	if err := os.Mkdir(blobDir, 0o700); err != nil {
		return err
	}
	return WriteFileAtomic(path, func(w io.Writer) error { return write(w, blobDir) })
}

// ErrNotEmpty is returned by Restore for a data directory that holds files.
var ErrNotEmpty = errors.New("restore only into an empty data directory")

// Restore copies a backup into an empty (or missing) data directory after
// checking it. A backup of an older data format is restored as it is and
// upgraded when the server starts.
func Restore(backup, dataDir string) (Report, error) {
	entries, err := os.ReadDir(dataDir)
	if err != nil && !os.IsNotExist(err) {
		return Report{}, err
	}
	if len(entries) > 0 {
		return Report{}, fmt.Errorf("%w: %s holds %s", ErrNotEmpty, dataDir, entries[0].Name())
	}
	rep, err := Check(backup)
	if err != nil {
		return rep, err
	}
	if !rep.OK() {
		return rep, fmt.Errorf("backup %s fails its check; not restored", backup)
	}

	src, err := os.Open(backup)
	if err != nil {
		return rep, err
	}
	defer src.Close()
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return rep, err
	}
	if err := restoreBlobs(BlobDirOf(backup), store.BlobDir(dataDir)); err != nil {
		return rep, err
	}
	return rep, WriteFileAtomic(store.Path(dataDir), func(w io.Writer) error {
		_, err := io.Copy(w, src)
		return err
	})
}

// restoreBlobs copies a backup's blob files into a data directory's, synced,
// before the database that refers to them. A backup from before blobs
// existed has none.
func restoreBlobs(from, to string) error {
	entries, err := os.ReadDir(from)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	for _, e := range entries {
		src, err := os.Open(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		err = WriteFileAtomic(filepath.Join(to, e.Name()), func(w io.Writer) error {
			_, err := io.Copy(w, src)
			return err
		})
		src.Close()
		if err != nil {
			return fmt.Errorf("restore blob %s: %w", e.Name(), err)
		}
	}
	return nil
}
