package mailstore

import (
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

// Each mailbox keeps two indexes beside its messages, so that SELECT,
// STATUS and EXPUNGE cost the same in a mailbox of ten messages as in one of
// a hundred thousand: the UIDs without \Seen and the UIDs with \Deleted.
// Their sizes, and the keywords in use, are counted in the mailbox state.
var (
	bucketUnseen  = []byte("unseen")  // uid → empty, messages without \Seen
	bucketDeleted = []byte("deleted") // uid → empty, messages with \Deleted
)

// FlagSeen marks a message as read (RFC 9051 section 2.3.2).
const FlagSeen = `\Seen`

// stateVersion is the layout of a mailbox's state and indexes; Open
// rebuilds the indexes of mailboxes written by an older version. Version 2
// added the blob and env buckets (blob.go).
const stateVersion = 2

// keywordsMax bounds the keywords a mailbox announces in FLAGS. Messages
// may carry more; those are stored but not announced.
const keywordsMax = 256

// IsKeyword reports whether a flag is a keyword: system flags and flag
// extensions begin with a backslash, keywords never do (RFC 9051 section
// 2.3.2).
func IsKeyword(flag string) bool {
	return flag != "" && !strings.HasPrefix(flag, `\`)
}

// account adds (sign +1) or removes (sign -1) a message's share of the
// mailbox's counters and indexes.
func account(b *bolt.Bucket, info *MailboxInfo, uid uint32, flags []string, size int64,
	sign int) error {
	k := uidKey(uid)
	if !HasFlag(flags, FlagSeen) {
		if err := setIndex(b.Bucket(bucketUnseen), k, sign > 0); err != nil {
			return err
		}
		info.Unseen = addCount(info.Unseen, sign)
	}
	if HasFlag(flags, FlagDeleted) {
		if err := setIndex(b.Bucket(bucketDeleted), k, sign > 0); err != nil {
			return err
		}
		info.Deleted = addCount(info.Deleted, sign)
		info.DeletedSize += int64(sign) * size
	}
	if sign > 0 {
		info.addKeywords(flags)
	}
	return nil
}

func setIndex(b *bolt.Bucket, k []byte, on bool) error {
	if on {
		return b.Put(k, nil)
	}
	return b.Delete(k)
}

// addCount changes a counter by sign; a counter never goes below zero.
func addCount(n uint32, sign int) uint32 {
	if sign < 0 && n == 0 {
		return 0
	}
	return uint32(int64(n) + int64(sign))
}

// addKeywords remembers the keywords among flags, up to keywordsMax.
func (info *MailboxInfo) addKeywords(flags []string) {
	for _, f := range flags {
		if IsKeyword(f) && !HasFlag(info.Keywords, f) && len(info.Keywords) < keywordsMax {
			info.Keywords = append(info.Keywords, f)
		}
	}
}

// reindexTx rebuilds a mailbox's indexes and counters from its messages.
func reindexTx(b *bolt.Bucket) error {
	info, err := readState(b)
	if err != nil {
		return err
	}
	if err := fillEnvelopes(b); err != nil {
		return err
	}
	for _, name := range [][]byte{bucketUnseen, bucketDeleted} {
		if b.Bucket(name) != nil {
			if err := b.DeleteBucket(name); err != nil {
				return err
			}
		}
		if _, err := b.CreateBucket(name); err != nil {
			return err
		}
	}
	info.Unseen, info.Deleted, info.DeletedSize, info.Keywords = 0, 0, 0, nil
	info.Messages, info.Size = 0, 0
	err = b.Bucket(bucketMeta).ForEach(func(k, v []byte) error {
		m, err := decodeMeta(uidFromKey(k), v)
		if err != nil {
			return err
		}
		info.Messages++
		info.Size += m.Size
		return account(b, &info, uidFromKey(k), m.Flags, m.Size, +1)
	})
	if err != nil {
		return err
	}
	info.Version = stateVersion
	return writeState(b, info)
}

// upgradeTx reindexes every mailbox whose state predates stateVersion. The
// names are listed first: buckets are not changed while being iterated.
func upgradeTx(tx *store.Tx) error {
	var stale [][2]string
	all := tx.Bucket(bucketMailboxes)
	err := all.ForEachBucket(func(agent []byte) error {
		ab := all.Bucket(agent)
		return ab.ForEachBucket(func(name []byte) error {
			info, err := readState(ab.Bucket(name))
			if err == nil && info.Version < stateVersion {
				stale = append(stale, [2]string{string(agent), string(name)})
			}
			return err
		})
	})
	if err != nil {
		return err
	}
	for _, s := range stale {
		if err := reindexTx(all.Bucket([]byte(s[0])).Bucket([]byte(s[1]))); err != nil {
			return fmt.Errorf("reindex %s %s: %w", s[0], s[1], err)
		}
	}
	return nil
}

// firstUnseen returns the lowest UID without \Seen, or 0.
func firstUnseen(b *bolt.Bucket) uint32 {
	k, _ := b.Bucket(bucketUnseen).Cursor().First()
	return uidFromKey(k)
}
