package testutil

import (
	"os"
	"path/filepath"
	"testing"

	"agentmail/internal/store"
)

// OpenFixture copies the database file fixture into a new data directory
// and opens it there, so that an upgrade never touches the committed file.
// The store is closed when the test ends.
func OpenFixture(t *testing.T, fixture string) *store.DB {
	t.Helper()
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, store.FileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
