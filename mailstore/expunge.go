package mailstore

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

// FlagDeleted marks a message for removal by Expunge (RFC 9051 section 2.3.2).
const FlagDeleted = `\Deleted`

// Expunge removes the messages flagged \Deleted, only among uids when uids is
// not nil (UID EXPUNGE, RFC 4315 section 2.1), and returns the removed UIDs
// in ascending order.
func (s *Store) Expunge(agent, mailbox string, uids []uint32) ([]uint32, error) {
	var gone []uint32
	err := s.db.Update(func(tx *store.Tx) error {
		gone = gone[:0]
		b, err := mailboxBucket(tx.Tx, agent, mailbox)
		if err != nil {
			return fmt.Errorf("expunge %s: %w", mailbox, err)
		}
		gone, err = s.removeTx(tx, agent, b, deletedUIDs(b.Bucket(bucketDeleted), uids))
		return err
	})
	return gone, err
}

// deletedUIDs lists, ascending, the UIDs flagged \Deleted, among only if
// only is not nil. The index makes it cost the number of such messages, not
// the size of the mailbox.
func deletedUIDs(db *bolt.Bucket, only []uint32) []uint32 {
	var out []uint32
	if only != nil {
		for _, uid := range only {
			if db.Get(uidKey(uid)) != nil {
				out = append(out, uid)
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	_ = db.ForEach(func(k, _ []byte) error {
		out = append(out, uidFromKey(k))
		return nil
	})
	return out
}

// removeTx deletes the given UIDs (those present) from the mailbox in b,
// keeps its counters right and announces the removal after the commit.
func (s *Store) removeTx(tx *store.Tx, agent string, b *bolt.Bucket,
	uids []uint32) ([]uint32, error) {
	info, err := readState(b)
	if err != nil {
		return nil, err
	}
	mb, rb := b.Bucket(bucketMeta), b.Bucket(bucketRaw)
	var gone []uint32
	for _, uid := range uids {
		m, ok, err := getMeta(mb, uid)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if err := account(b, &info, uid, m.Flags, m.Size, -1); err != nil {
			return nil, err
		}
		if err := mb.Delete(uidKey(uid)); err != nil {
			return nil, err
		}
		if err := rb.Delete(uidKey(uid)); err != nil {
			return nil, err
		}
		if err := dropExtras(tx, b, uid); err != nil {
			return nil, err
		}
		info.Messages--
		info.Size -= m.Size
		gone = append(gone, uid)
	}
	if len(gone) == 0 {
		return nil, nil
	}
	if err := writeState(b, info); err != nil {
		return nil, err
	}
	name := info.Name
	tx.OnCommit(func() { s.observer.Expunged(agent, name, gone) })
	return gone, nil
}

func uidFromKey(k []byte) uint32 {
	if len(k) != 4 {
		return 0
	}
	return uint32(k[0])<<24 | uint32(k[1])<<16 | uint32(k[2])<<8 | uint32(k[3])
}

// CopyResult describes a COPY or MOVE: the destination's UIDVALIDITY and
// the source UIDs with the UIDs their copies got, pairwise (RFC 4315
// section 3, COPYUID).
type CopyResult struct {
	UIDValidity uint32
	SourceUIDs  []uint32
	DestUIDs    []uint32
}

// Copy copies the given UIDs (those that exist, in ascending order) from
// src to dst with their flags and internal dates, in one commit. With move
// set, the originals are removed in the same commit (RFC 6851 section 3.3).
func (s *Store) Copy(agent, src string, uids []uint32, dst string, move bool) (CopyResult, error) {
	var res CopyResult
	sorted := slices.Clone(uids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	err := s.db.Update(func(tx *store.Tx) error {
		res = CopyResult{}
		sb, err := mailboxBucket(tx.Tx, agent, src)
		if err != nil {
			return fmt.Errorf("copy from %s: %w", src, err)
		}
		db, err := mailboxBucket(tx.Tx, agent, dst)
		if err != nil {
			return fmt.Errorf("copy to %s: %w", dst, err)
		}
		dstInfo, err := readState(db)
		if err != nil {
			return err
		}
		if move && CanonicalName(src) == CanonicalName(dst) {
			return fmt.Errorf("move within %s: source and destination are the same", src)
		}
		res, err = s.copyTx(tx, agent, sb, sorted, dst, move)
		res.UIDValidity = dstInfo.UIDValidity
		if err != nil || !move {
			return err
		}
		_, err = s.removeTx(tx, agent, sb, res.SourceUIDs)
		return err
	})
	return res, err
}

// copyTx copies messages of the mailbox in sb to dst; moved says the
// originals are about to be removed, so storage use does not grow.
func (s *Store) copyTx(tx *store.Tx, agent string, sb *bolt.Bucket, uids []uint32,
	dst string, moved bool) (CopyResult, error) {
	var res CopyResult
	mb, rb := sb.Bucket(bucketMeta), sb.Bucket(bucketRaw)
	for _, uid := range uids {
		m, ok, err := getMeta(mb, uid)
		if err != nil {
			return res, err
		}
		if !ok {
			continue
		}
		// The bytes are copied out of the memory map: a Put in the same
		// transaction may remap it.
		raw := bytes.Clone(rb.Get(uidKey(uid)))
		if raw == nil {
			raw = []byte{}
		}
		d := Delivery{Agent: agent, Mailbox: dst, Raw: raw, Flags: m.Flags, moved: moved}
		d.Date = m.message(uid).InternalDate
		if name := blobOf(sb, uid); name != "" {
			d.Body = store.Blob{Name: name, Size: m.Size - int64(len(raw))}
		}
		if env, ok := envelopeTx(sb, uid); ok {
			d.Envelope = bytes.Clone(env)
		}
		_, newUID, err := s.DeliverTx(tx, d)
		if err != nil {
			return res, err
		}
		res.SourceUIDs = append(res.SourceUIDs, uid)
		res.DestUIDs = append(res.DestUIDs, newUID)
	}
	return res, nil
}
