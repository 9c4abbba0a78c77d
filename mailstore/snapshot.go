package mailstore

import (
	"os"

	bolt "go.etcd.io/bbolt"
)

// Snapshot returns a mailbox's description and its UIDs in ascending order,
// read in one transaction so that UIDNext and the UIDs agree.
func (s *Store) Snapshot(agent, mailbox string) (MailboxInfo, []uint32, error) {
	var (
		info MailboxInfo
		uids []uint32
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := mailboxBucket(tx, agent, mailbox)
		if err != nil {
			return err
		}
		if info, err = readState(b); err != nil {
			return err
		}
		mb := b.Bucket(bucketMeta)
		uids = make([]uint32, 0, mb.Stats().KeyN)
		return mb.ForEach(func(k, _ []byte) error {
			uids = append(uids, uidFromKey(k))
			return nil
		})
	})
	return info, uids, err
}

// ForEachRaw calls fn with the bytes of each given UID that exists, in the
// order of uids, inside one read transaction. raw is valid only during fn.
// For a message with a blob body, raw is its header section and blob names
// the body, which OpenBlob opens; otherwise blob is empty.
func (s *Store) ForEachRaw(agent, mailbox string, uids []uint32,
	fn func(uid uint32, raw []byte, blob string) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b, err := mailboxBucket(tx, agent, mailbox)
		if err != nil {
			return err
		}
		rb := b.Bucket(bucketRaw)
		for _, uid := range uids {
			if v := rb.Get(uidKey(uid)); v != nil {
				if err := fn(uid, v, blobOf(b, uid)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// ForEachEnvelope calls fn with the cached envelope summary of each given
// UID that exists and has one, in ascending UID order, inside one read
// transaction; env is valid only during fn.
func (s *Store) ForEachEnvelope(agent, mailbox string, uids []uint32,
	fn func(uid uint32, env []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b, err := mailboxBucket(tx, agent, mailbox)
		if err != nil {
			return err
		}
		eb := b.Bucket(bucketEnv)
		if eb == nil {
			return nil
		}
		return forEachUID(eb.Cursor(), sortedUIDs(uids), func(k, v []byte) error {
			return fn(uidFromKey(k), v)
		})
	})
}

// OpenBlob opens a blob body named by ForEachRaw.
func (s *Store) OpenBlob(name string) (*os.File, error) { return s.db.OpenBlob(name) }

// Summary returns a mailbox's description and the lowest UID without
// \Seen (0 if every message is seen), for SELECT (RFC 9051 section 7.1,
// UNSEEN in IMAP4rev1).
func (s *Store) Summary(agent, mailbox string) (MailboxInfo, uint32, error) {
	var (
		info   MailboxInfo
		unseen uint32
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := mailboxBucket(tx, agent, mailbox)
		if err != nil {
			return err
		}
		info, err = readState(b)
		unseen = firstUnseen(b)
		return err
	})
	return info, unseen, err
}
