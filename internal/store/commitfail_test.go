package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestClassifyCommitError(t *testing.T) {
	for _, tc := range []struct {
		name         string
		err          error
		retry, nospc bool
	}{
		{"pwrite out of space",
			&os.PathError{Op: "write", Path: "agentmail.db", Err: syscall.ENOSPC}, true, true},
		{"pwrite over quota",
			&os.PathError{Op: "write", Path: "agentmail.db", Err: syscall.EDQUOT}, true, true},
		{"pwrite I/O error",
			&os.PathError{Op: "write", Path: "agentmail.db", Err: syscall.EIO}, true, false},
		{"truncate out of space, errno lost by bbolt",
			fmt.Errorf("file resize error: %s", &os.PathError{Op: "truncate",
				Err: syscall.ENOSPC}), true, true},
		{"fdatasync I/O error", syscall.EIO, false, false},
		{"fdatasync out of space", syscall.ENOSPC, false, true},
		{"grow fsync", fmt.Errorf("file sync error: %s", syscall.EIO), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cause, retry := classifyCommitError(tc.err)
			if retry != tc.retry {
				t.Errorf("retry = %v, want %v", retry, tc.retry)
			}
			if got := errors.Is(cause, syscall.ENOSPC); got != tc.nospc {
				t.Errorf("wraps ENOSPC = %v, want %v (%v)", got, tc.nospc, cause)
			}
		})
	}
}

// After a failure that leaves the file in doubt, every later write is
// refused with ErrWritesStopped and reads go on.
func TestWritesStopAfterFsyncFailure(t *testing.T) {
	db, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := putValue(db, 1, 10); err != nil {
		t.Fatal(err)
	}
	err = db.commitFailed(syscall.EIO)
	if !errors.Is(err, ErrWritesStopped) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("commitFailed(EIO) = %v", err)
	}
	if err := putValue(db, 2, 10); !errors.Is(err, ErrWritesStopped) {
		t.Fatalf("write after the fence: %v", err)
	}
	if n := countValues(t, db); n != 1 {
		t.Fatalf("read after the fence: %d values", n)
	}
}
