package store

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func newBlob(t *testing.T, db *DB, data string) Blob {
	t.Helper()
	w, err := db.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	b, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func blobNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(BlobDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Open removes what a crash between writing a blob and committing it leaves
// (an unfinished file, a finished one nothing refers to) and keeps
// referenced blobs; the last reference dropped removes the file.
func TestBlobLifecycle(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	kept := newBlob(t, db, "kept")
	orphan := newBlob(t, db, "orphan")
	if _, err := db.NewBlob(); err != nil { // left unfinished
		t.Fatal(err)
	}
	err = db.Update(func(tx *Tx) error {
		if err := tx.RefBlob(kept); err != nil {
			return err
		}
		return tx.RefBlob(kept)
	})
	if err != nil {
		t.Fatal(err)
	}
	discarded := newBlob(t, db, "refused")
	db.DiscardBlob(discarded)
	db.DiscardBlob(kept) // referenced: stays
	db.Close()

	db, err = Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := blobNames(t, dir); !slices.Equal(got, []string{kept.Name}) {
		t.Fatalf("after reopening: %v, want only %s (orphan was %s)", got, kept.Name, orphan.Name)
	}
	for i := range 2 {
		if err := db.Update(func(tx *Tx) error { return tx.UnrefBlob(kept.Name) }); err != nil {
			t.Fatal(err)
		}
		if n := len(blobNames(t, dir)); n != 1-i {
			t.Fatalf("after dropping %d references: %d files", i+1, n)
		}
	}
	if _, err := os.Stat(filepath.Join(BlobDir(dir), kept.Name)); !os.IsNotExist(err) {
		t.Fatalf("blob still there: %v", err)
	}
}
