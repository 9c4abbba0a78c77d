package store

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// ErrWritesStopped is wrapped by every write after a commit failed in a way
// that leaves bbolt's view of the file in doubt. Reads go on; writes need a
// restart, which reads the file afresh.
var ErrWritesStopped = errors.New("writes stopped after a storage error; " +
	"check the disk and restart agentmail")

// commitFailed classifies a failed commit and returns the error every caller
// of the batch gets. A failure that may leave memory and disk disagreeing
// stops all later writes.
func (db *DB) commitFailed(err error) error {
	cause, retry := classifyCommitError(err)
	if retry {
		return fmt.Errorf("commit: %w", cause)
	}
	stopped := fmt.Errorf("%w: %w", ErrWritesStopped, cause)
	db.fenced.Store(&stopped)
	return fmt.Errorf("commit: %w", stopped)
}

// classifyCommitError tells a commit failure that later commits may retry
// from one after which the process must not write again. The error it
// returns wraps syscall.ENOSPC for every kind of "no space", so that the
// SMTP edge can answer 452 4.3.1.
//
// Retrying is safe when bbolt failed before the new meta page could reach
// the disk: growing the file (truncate), or writing pages with pwrite. bbolt
// has then rolled back and rebuilt its free list from the old meta page, and
// the pages it wrote are unreachable. A failed fsync is different: Linux may
// have dropped the dirty pages while the memory map still shows them, so
// what the process believes is on disk can be wrong.
func classifyCommitError(err error) (cause error, retry bool) {
	var pathErr *os.PathError
	switch {
	case errors.As(err, &pathErr) && pathErr.Op == "write":
		retry = true
	case strings.HasPrefix(err.Error(), "file resize error"):
		// bbolt formats this one with %s, dropping the errno; put it back.
		retry = true
		if strings.Contains(err.Error(), syscall.ENOSPC.Error()) {
			err = fmt.Errorf("%w (%v)", syscall.ENOSPC, err)
		}
	}
	if errors.Is(err, syscall.EDQUOT) && !errors.Is(err, syscall.ENOSPC) {
		err = fmt.Errorf("%w (%w)", syscall.ENOSPC, err)
	}
	return err, retry
}
