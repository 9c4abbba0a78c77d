package mailstore

import (
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

// FlagOp says how StoreFlags combines the given flags with a message's own.
type FlagOp int

const (
	// FlagsAdd adds the flags to those the message has.
	FlagsAdd FlagOp = iota
	// FlagsRemove removes the flags from those the message has.
	FlagsRemove
	// FlagsReplace makes the flags exactly the given ones.
	FlagsReplace
)

// OriginObserver is an Observer that also learns which caller caused a flag
// change, so that a session can skip telling itself what it already knows.
// StoreFlags uses FlagsChangedBy instead of FlagsChanged when the observer
// implements it.
type OriginObserver interface {
	Observer
	FlagsChangedBy(agent, mailbox string, uid uint32, flags []string, origin any)
}

// StoreFlags changes the flags of the given UIDs and returns every one of
// them that exists with its resulting flags, in the order of uids. Flags
// compare without regard to case. Only messages whose flags changed are
// written and announced; origin is handed to an OriginObserver.
func (s *Store) StoreFlags(agent, mailbox string, uids []uint32, op FlagOp, flags []string,
	origin any) ([]Message, error) {
	var out []Message
	err := s.db.Update(func(tx *store.Tx) error {
		out = out[:0]
		b, err := mailboxBucket(tx.Tx, agent, mailbox)
		if err != nil {
			return fmt.Errorf("store flags in %s: %w", mailbox, err)
		}
		info, err := readState(b)
		if err != nil {
			return err
		}
		changed := false
		mb := b.Bucket(bucketMeta)
		for _, uid := range uids {
			m, ok, err := getMeta(mb, uid)
			if err != nil {
				return fmt.Errorf("store flags on uid %d: %w", uid, err)
			}
			if !ok {
				continue
			}
			next := ApplyFlags(m.Flags, op, flags)
			if !sameFlags(m.Flags, next) {
				if err := reflag(b, &info, uid, m, next); err != nil {
					return err
				}
				m.Flags, changed = next, true
				s.announceFlags(tx, agent, info.Name, uid, next, origin)
			}
			out = append(out, m.message(uid))
		}
		if !changed {
			return nil
		}
		return writeState(b, info)
	})
	return out, err
}

// reflag stores a message's new flags and moves it between the indexes.
func reflag(b *bolt.Bucket, info *MailboxInfo, uid uint32, m messageMeta,
	next []string) error {
	if err := account(b, info, uid, m.Flags, m.Size, -1); err != nil {
		return err
	}
	if err := account(b, info, uid, next, m.Size, +1); err != nil {
		return err
	}
	m.Flags = next
	return putMeta(b.Bucket(bucketMeta), uid, m)
}

func (s *Store) announceFlags(tx *store.Tx, agent, mailbox string, uid uint32,
	flags []string, origin any) {
	tx.OnCommit(func() {
		if o, ok := s.observer.(OriginObserver); ok {
			o.FlagsChangedBy(agent, mailbox, uid, flags, origin)
			return
		}
		s.observer.FlagsChanged(agent, mailbox, uid, flags)
	})
}

// ApplyFlags returns cur changed by op with flags, without duplicates
// (compared without regard to case). cur is not modified.
func ApplyFlags(cur []string, op FlagOp, flags []string) []string {
	var out []string
	if op != FlagsReplace {
		for _, f := range cur {
			if op == FlagsRemove && HasFlag(flags, f) {
				continue
			}
			out = append(out, f)
		}
	}
	if op == FlagsRemove {
		return out
	}
	for _, f := range flags {
		if !HasFlag(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// HasFlag reports whether flags holds flag, compared without regard to case.
func HasFlag(flags []string, flag string) bool {
	return slices.ContainsFunc(flags, func(f string) bool { return strings.EqualFold(f, flag) })
}

func sameFlags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, f := range a {
		if !HasFlag(b, f) {
			return false
		}
	}
	return true
}
