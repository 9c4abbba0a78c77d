package mailstore

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// ErrOverQuota is returned when a message would take an agent's mailboxes
// over the storage quota. SMTP answers it with 552 5.2.2 (RFC 3463 section
// 3.3) and IMAP with [OVERQUOTA] (RFC 9208 section 4.1.4).
var ErrOverQuota = errors.New("mailbox storage quota exceeded")

// QuotaError says whose quota a message would exceed and by how much. It
// matches ErrOverQuota with errors.Is.
type QuotaError struct {
	Agent       string
	UsedBytes   int64
	QuotaBytes  int64
	NeededBytes int64
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("%s: %s uses %d of %d octets, message is %d", ErrOverQuota, e.Agent,
		e.UsedBytes, e.QuotaBytes, e.NeededBytes)
}

// Unwrap makes errors.Is(err, ErrOverQuota) true.
func (e *QuotaError) Unwrap() error { return ErrOverQuota }

// SetQuota sets the most octets of mail one agent may keep across all its
// mailboxes; 0 means no limit. Call it before serving.
func (s *Store) SetQuota(bytes int64) { s.quotaBytes = max(bytes, 0) }

// Quota returns the limit set by SetQuota.
func (s *Store) Quota() int64 { return s.quotaBytes }

// checkQuotaTx refuses size more octets for an agent over its quota.
// Messages already stored are never refused or removed: a lowered quota
// only stops new ones.
func (s *Store) checkQuotaTx(tx *bolt.Tx, agent string, size int64) error {
	if s.quotaBytes == 0 {
		return nil
	}
	used, err := usageTx(tx, agent)
	if err != nil {
		return err
	}
	if used+size > s.quotaBytes {
		return &QuotaError{Agent: agent, UsedBytes: used, QuotaBytes: s.quotaBytes,
			NeededBytes: size}
	}
	return nil
}

// usageTx sums the sizes of an agent's mailboxes. An agent has a handful
// of mailboxes, each keeping its own total, so this costs little.
func usageTx(tx *bolt.Tx, agent string) (int64, error) {
	ab, err := agentBucket(tx, agent)
	if err != nil {
		return 0, err
	}
	var used int64
	err = ab.ForEachBucket(func(k []byte) error {
		info, err := readState(ab.Bucket(k))
		used += info.Size
		return err
	})
	return used, err
}

// Usage returns the octets of mail an agent keeps across its mailboxes.
func (s *Store) Usage(agent string) (int64, error) {
	var used int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		used, err = usageTx(tx, agent)
		return err
	})
	return used, err
}
