package mailstore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
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
	Raw     []byte
	Flags   []string
	Date    time.Time // zero means now
}

// DeliverTx stores a message inside tx and returns its UID and the
// mailbox's UIDVALIDITY. The observer hears of it once tx is committed.
func (s *Store) DeliverTx(tx *store.Tx, d Delivery) (uidValidity, uid uint32, err error) {
	b, err := mailboxBucket(tx.Tx, d.Agent, d.Mailbox)
	if err != nil {
		return 0, 0, fmt.Errorf("deliver to %s %s: %w", d.Agent, d.Mailbox, err)
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
	meta, err := json.Marshal(messageMeta{Flags: d.Flags, Date: date.UnixNano(), Size: int64(len(d.Raw))})
	if err != nil {
		return 0, 0, err
	}
	if err := b.Bucket(bucketMeta).Put(uidKey(uid), meta); err != nil {
		return 0, 0, err
	}
	if err := b.Bucket(bucketRaw).Put(uidKey(uid), d.Raw); err != nil {
		return 0, 0, err
	}
	info.UIDNext++
	info.Messages++
	info.Size += int64(len(d.Raw))
	if err := writeState(b, info); err != nil {
		return 0, 0, err
	}
	agent, mailbox := d.Agent, info.Name
	tx.OnCommit(func() { s.observer.Appended(agent, mailbox, uid) })
	return info.UIDValidity, uid, nil
}

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
	var out []Message
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := mailboxBucket(tx, agent, mailbox)
		if err != nil {
			return err
		}
		mb := b.Bucket(bucketMeta)
		add := func(k, v []byte) error {
			var m messageMeta
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("message %d: %w", binary.BigEndian.Uint32(k), err)
			}
			out = append(out, m.message(binary.BigEndian.Uint32(k)))
			return nil
		}
		if uids == nil {
			return mb.ForEach(add)
		}
		for _, uid := range uids {
			k := uidKey(uid)
			if v := mb.Get(k); v != nil {
				if err := add(k, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return out, err
}

// Raw returns a copy of a message's bytes.
func (s *Store) Raw(agent, mailbox string, uid uint32) ([]byte, error) {
	var raw []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := mailboxBucket(tx, agent, mailbox)
		if err != nil {
			return err
		}
		v := b.Bucket(bucketRaw).Get(uidKey(uid))
		if v == nil {
			return fmt.Errorf("uid %d: %w", uid, ErrNoMessage)
		}
		raw = append([]byte(nil), v...)
		return nil
	})
	return raw, err
}
