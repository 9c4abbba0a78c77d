package mailstore

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

// ErrInboxDelete is returned when deleting INBOX, which RFC 9051 section
// 6.3.4 forbids.
var ErrInboxDelete = errors.New("INBOX cannot be deleted")

// DeleteMailbox removes a mailbox and its messages. Mailboxes below it in
// the hierarchy stay (RFC 9051 section 6.3.4).
func (s *Store) DeleteMailbox(agent, name string) error {
	name = CanonicalName(name)
	if name == Inbox {
		return ErrInboxDelete
	}
	return s.db.Update(func(tx *store.Tx) error {
		ab, err := agentBucket(tx.Tx, agent)
		if err != nil {
			return err
		}
		b := ab.Bucket([]byte(name))
		if b == nil {
			return fmt.Errorf("delete %s: %w", name, ErrNoMailbox)
		}
		if err := unrefMailboxBlobs(tx, b); err != nil {
			return fmt.Errorf("delete %s: %w", name, err)
		}
		if err := ab.DeleteBucket([]byte(name)); err != nil {
			return fmt.Errorf("delete %s: %w", name, err)
		}
		tx.OnCommit(func() { s.observer.MailboxGone(agent, name) })
		return nil
	})
}

// RenameMailbox renames a mailbox and every mailbox below it (RFC 9051
// section 6.3.6). Messages keep their UIDs and the mailbox its UIDVALIDITY,
// which has never named anything else. Renaming INBOX moves its messages
// into a new mailbox and leaves INBOX empty.
func (s *Store) RenameMailbox(agent, oldName, newName string) error {
	oldName, newName = CanonicalName(oldName), CanonicalName(newName)
	if err := CheckMailboxName(newName); err != nil {
		return err
	}
	if newName == Inbox {
		return fmt.Errorf("rename to %s: %w", Inbox, ErrMailboxExists)
	}
	if strings.HasPrefix(newName, oldName+string(Delimiter)) {
		return fmt.Errorf("rename %s into its own inferior %s", oldName, newName)
	}
	return s.db.Update(func(tx *store.Tx) error {
		ab, err := agentBucket(tx.Tx, agent)
		if err != nil {
			return err
		}
		if ab.Bucket([]byte(oldName)) == nil {
			return fmt.Errorf("rename %s: %w", oldName, ErrNoMailbox)
		}
		if oldName == Inbox {
			return s.renameInboxTx(tx, agent, newName)
		}
		pairs := renamePairs(ab, oldName, newName)
		for _, p := range pairs {
			if ab.Bucket([]byte(p[1])) != nil {
				return fmt.Errorf("rename to %s: %w", p[1], ErrMailboxExists)
			}
		}
		for _, p := range pairs {
			if err := renameBucket(ab, p[0], p[1]); err != nil {
				return fmt.Errorf("rename %s: %w", p[0], err)
			}
			gone := p[0]
			tx.OnCommit(func() { s.observer.MailboxGone(agent, gone) })
		}
		return nil
	})
}

// renamePairs lists old and new names of a mailbox and its inferiors.
func renamePairs(ab *bolt.Bucket, oldName, newName string) [][2]string {
	pairs := [][2]string{{oldName, newName}}
	prefix := oldName + string(Delimiter)
	_ = ab.ForEachBucket(func(k []byte) error {
		if rest, ok := strings.CutPrefix(string(k), prefix); ok {
			pairs = append(pairs, [2]string{string(k), newName + string(Delimiter) + rest})
		}
		return nil
	})
	return pairs
}

// renameBucket copies a mailbox bucket under a new name and drops the old
// one; bbolt cannot rename a bucket in place.
// TODO: this copies every message, O(mailbox size) in one commit; a level
// of indirection (name → mailbox id) would make renames cheap.
func renameBucket(ab *bolt.Bucket, oldName, newName string) error {
	ob := ab.Bucket([]byte(oldName))
	info, err := readState(ob)
	if err != nil {
		return err
	}
	nb, err := ab.CreateBucket([]byte(newName))
	if err != nil {
		return err
	}
	for _, sub := range mailboxSubBuckets {
		dst, err := nb.CreateBucket(sub)
		if err != nil {
			return err
		}
		err = ob.Bucket(sub).ForEach(func(k, v []byte) error {
			return dst.Put(bytes.Clone(k), bytes.Clone(v))
		})
		if err != nil {
			return err
		}
	}
	info.Name = newName
	if err := writeState(nb, info); err != nil {
		return err
	}
	return ab.DeleteBucket([]byte(oldName))
}

// renameInboxTx creates newName and moves every message of INBOX into it
// (RFC 3501 section 6.3.5); INBOX stays, empty, with its UIDVALIDITY.
func (s *Store) renameInboxTx(tx *store.Tx, agent, newName string) error {
	ab, err := agentBucket(tx.Tx, agent)
	if err != nil {
		return err
	}
	if ab.Bucket([]byte(newName)) != nil {
		return fmt.Errorf("rename to %s: %w", newName, ErrMailboxExists)
	}
	if err := s.createMailboxTx(tx, agent, newName, ""); err != nil {
		return err
	}
	ib := ab.Bucket([]byte(Inbox))
	var uids []uint32
	_ = ib.Bucket(bucketMeta).ForEach(func(k, _ []byte) error {
		uids = append(uids, uidFromKey(k))
		return nil
	})
	res, err := s.copyTx(tx, agent, ib, uids, newName, true)
	if err != nil {
		return err
	}
	_, err = s.removeTx(tx, agent, ib, res.SourceUIDs)
	return err
}

// Status returns a mailbox's description with its flag counts, which the
// mailbox keeps current: the cost does not grow with its size.
func (s *Store) Status(agent, name string) (MailboxInfo, error) {
	return s.Mailbox(agent, name)
}
