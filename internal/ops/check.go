// Package ops holds what an operator does to a data directory as a whole:
// check it, back it up, restore it. Compaction and the format version live
// in internal/store, which owns the file; this package adds the checks that
// need to know what the buckets mean (the ledger's invariants).
//
// It opens files only when no server holds them; the running server serves
// backups itself, through the admin socket.
package ops

import (
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"agentmail/billing"
	"agentmail/internal/store"
	"agentmail/mailstore"
)

// Report is what Check found in one database file.
type Report struct {
	Path          string   `json:"path"`
	Bytes         int64    `json:"bytes"`
	FormatVersion uint64   `json:"format_version"`
	Problems      []string `json:"problems"`
}

// OK reports whether the file passed every check.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Check runs bbolt's structural check, the format version check, the
// blob files' references and sizes (BlobDirOf) and the ledger's invariants
// on a database file: a stopped data directory's or a backup. It opens the file read-only and changes nothing. The error is for
// a file that cannot be read at all; problems found are in the report.
func Check(path string) (Report, error) {
	rep := Report{Path: path}
	fi, err := os.Stat(path)
	if err != nil {
		return rep, err
	}
	rep.Bytes = fi.Size()
	b, err := store.OpenReadOnly(path)
	if err != nil {
		return rep, err
	}
	defer b.Close()
	err = b.View(func(tx *bolt.Tx) error {
		rep.Problems = checkTx(tx, &rep.FormatVersion, BlobDirOf(path))
		return nil
	})
	return rep, err
}

// TODO: bbolt asserts on pages whose header is garbage and panics in the
// goroutine Tx.Check starts, where it cannot be recovered: on such a file
// check crashes (still exiting non-zero) instead of listing the damage.
func checkTx(tx *bolt.Tx, version *uint64, blobDir string) []string {
	var problems []string
	for _, err := range store.CheckTx(tx) {
		problems = append(problems, "bbolt: "+err.Error())
	}
	if len(problems) > 0 {
		return problems // the ledger would be read from a broken tree
	}

	v, fresh, err := store.ReadFormatVersion(tx)
	*version = v
	switch {
	case err != nil:
		return append(problems, "format: "+err.Error())
	case fresh:
		return append(problems, "format: the file holds no data")
	}
	if err := store.CheckFormatVersion(v); err != nil {
		return append(problems, "format: "+err.Error())
	}

	for _, p := range mailstore.VerifyBlobsTx(tx) {
		problems = append(problems, "mail: "+p)
	}
	for _, err := range store.CheckBlobsTx(tx, blobDir) {
		problems = append(problems, "blobs: "+err.Error())
	}

	breaches, err := billing.VerifyTx(tx)
	if err != nil {
		return append(problems, fmt.Sprintf("ledger: %v", err))
	}
	for _, b := range breaches {
		problems = append(problems, "ledger: "+b.String())
	}
	return problems
}

// BlobDirOf returns where the blob files of a database file are: blobs/
// beside a data directory's agentmail.db, FILE.blobs beside a backup FILE.
func BlobDirOf(dbPath string) string {
	if filepath.Base(dbPath) == store.FileName {
		return store.BlobDir(filepath.Dir(dbPath))
	}
	return dbPath + ".blobs"
}
