package mailstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

// messageMeta is the stored form of a message's metadata.
type messageMeta struct {
	Flags []string `json:"f,omitempty"`
	Date  int64    `json:"d"` // internal date, Unix nanoseconds
	Size  int64    `json:"s"`
}

func (m messageMeta) message(uid uint32) Message {
	return Message{UID: uid, Flags: m.Flags, InternalDate: time.Unix(0, m.Date).UTC(), Size: m.Size}
}

// Delivery is one message to be put in one mailbox.
type Delivery struct {
	Agent   string
	Mailbox string
	// Raw is the message, or with Body its header section only.
	Raw []byte
	// Body, when named, is a finished blob holding the rest of the
	// message after Raw; the delivery takes a reference to it.
	Body  store.Blob
	Flags []string
	Date  time.Time // zero means now
	// Envelope is the message's envelope.Summary in binary form, when the
	// caller computed it once for several deliveries; nil computes it.
	Envelope []byte

	// moved is set for the copies MOVE makes: they leave the agent's
	// storage use unchanged, so the quota does not apply.
	moved bool
}

// DeliverTx stores a message inside tx and returns its UID and the
// mailbox's UIDVALIDITY. The observer hears of it once tx is committed.
// It returns an error wrapping ErrOverQuota, and writes nothing, when the
// message would take the agent over its quota.
func (s *Store) DeliverTx(tx *store.Tx, d Delivery) (uidValidity, uid uint32, err error) {
	b, err := mailboxBucket(tx.Tx, d.Agent, d.Mailbox)
	if err != nil {
		return 0, 0, fmt.Errorf("deliver to %s %s: %w", d.Agent, d.Mailbox, err)
	}
	if !d.moved {
		if err := s.checkQuotaTx(tx.Tx, d.Agent, d.size()); err != nil {
			return 0, 0, fmt.Errorf("deliver to %s %s: %w", d.Agent, d.Mailbox, err)
		}
	}
	info, err := readState(b)
	if err != nil {
		return 0, 0, err
	}
	uid = info.UIDNext
	date := d.Date
	if date.IsZero() {
		date = time.Now()
	}
	m := messageMeta{Flags: d.Flags, Date: date.UnixNano(), Size: d.size()}
	if err := putMeta(b.Bucket(bucketMeta), uid, m); err != nil {
		return 0, 0, err
	}
	if err := b.Bucket(bucketRaw).Put(uidKey(uid), d.Raw); err != nil {
		return 0, 0, err
	}
	if err := putExtras(tx, b, uid, d); err != nil {
		return 0, 0, err
	}
	info.UIDNext++
	info.Messages++
	info.Size += m.Size
	if err := account(b, &info, uid, m.Flags, m.Size, +1); err != nil {
		return 0, 0, err
	}
	if err := writeState(b, info); err != nil {
		return 0, 0, err
	}
	agent, mailbox := d.Agent, info.Name
	tx.OnCommit(func() { s.observer.Appended(agent, mailbox, uid) })
	return info.UIDValidity, uid, nil
}

func (d Delivery) size() int64 { return int64(len(d.Raw)) + d.Body.Size }

// Append stores one message in its own commit.
func (s *Store) Append(d Delivery) (uidValidity, uid uint32, err error) {
	err = s.db.Update(func(tx *store.Tx) error {
		uidValidity, uid, err = s.DeliverTx(tx, d)
		return err
	})
	return uidValidity, uid, err
}

// UIDs returns the UIDs of a mailbox in ascending order.
func (s *Store) UIDs(agent, mailbox string) ([]uint32, error) {
	var uids []uint32
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := mailboxBucket(tx, agent, mailbox)
		if err != nil {
			return err
		}
		mb := b.Bucket(bucketMeta)
		uids = make([]uint32, 0, mb.Stats().KeyN)
		return mb.ForEach(func(k, _ []byte) error {
			uids = append(uids, binary.BigEndian.Uint32(k))
			return nil
		})
	})
	return uids, err
}

// Messages returns the metadata of the given UIDs that still exist, in
// ascending UID order. A nil uids means every message.
func (s *Store) Messages(agent, mailbox string, uids []uint32) ([]Message, error) {
	out := make([]Message, 0, len(uids))
	err := s.db.View(func(tx *bolt.Tx) error {
		out = out[:0]
		b, err := mailboxBucket(tx, agent, mailbox)
		if err != nil {
			return err
		}
		add := func(k, v []byte) error {
			m, err := decodeMeta(uidFromKey(k), v)
			if err != nil {
				return err
			}
			out = append(out, m.message(uidFromKey(k)))
			return nil
		}
		mb := b.Bucket(bucketMeta)
		if uids == nil {
			return mb.ForEach(add)
		}
		return forEachUID(mb.Cursor(), sortedUIDs(uids), add)
	})
	return out, err
}

// forEachUID calls fn for each of the ascending uids present under c. Runs
// of nearby UIDs, as a FETCH of a range names, are read by stepping the
// cursor rather than searching from the root for each.
func forEachUID(c *bolt.Cursor, uids []uint32, fn func(k, v []byte) error) error {
	const stepMax = 16 // beyond this gap a fresh search is cheaper
	if len(uids) == 0 {
		return nil
	}
	k, v := c.Seek(uidKey(uids[0]))
	for _, uid := range uids {
		for steps := 0; k != nil && uidFromKey(k) < uid; steps++ {
			if steps == stepMax {
				k, v = c.Seek(uidKey(uid))
				break
			}
			k, v = c.Next()
		}
		if k == nil {
			return nil
		}
		if uidFromKey(k) == uid {
			if err := fn(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// sortedUIDs returns uids ascending without duplicates, copying only when
// they are not already.
func sortedUIDs(uids []uint32) []uint32 {
	ascending := true
	for i := 1; i < len(uids) && ascending; i++ {
		ascending = uids[i] > uids[i-1]
	}
	if ascending {
		return uids
	}
	out := slices.Clone(uids)
	slices.Sort(out)
	return slices.Compact(out)
}

// Raw returns a copy of a message's bytes, a blob body included; Open
// reads a large message without holding it whole.
func (s *Store) Raw(agent, mailbox string, uid uint32) ([]byte, error) {
	c, err := s.Open(agent, mailbox, uid)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if c.Body == nil {
		return c.Head, nil
	}
	raw := make([]byte, 0, c.Size)
	buf := bytes.NewBuffer(raw)
	if _, err := buf.ReadFrom(c.Reader()); err != nil {
		return nil, fmt.Errorf("uid %d: read blob: %w", uid, err)
	}
	return buf.Bytes(), nil
}
