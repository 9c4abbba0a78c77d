package mailstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

var (
	// ErrNoMailbox is returned for a mailbox that does not exist.
	ErrNoMailbox = errors.New("no such mailbox")
	// ErrMailboxExists is returned when creating a mailbox that exists.
	ErrMailboxExists = errors.New("mailbox already exists")
	// ErrNoMessage is returned for a UID that is not in the mailbox.
	ErrNoMessage = errors.New("no such message")
)

var (
	bucketMailboxes = []byte("mailboxes") // agent → mailbox name → mailbox
	bucketCounters  = []byte("counters")
	keyState        = []byte("state")
	bucketMeta      = []byte("meta") // uid → messageMeta
	bucketRaw       = []byte("raw")  // uid → message bytes
	keyUIDValidity  = []byte("uidvalidity")
)

// mailboxSubBuckets are the buckets inside every mailbox's bucket.
var mailboxSubBuckets = [][]byte{bucketMeta, bucketRaw, bucketUnseen, bucketDeleted,
	bucketBlobRef, bucketEnv}

// Delimiter separates levels of the mailbox hierarchy.
const Delimiter = '/'

// Inbox is the name of the mailbox that receives mail.
const Inbox = "INBOX"

// Names of the standard folders, created with every agent.
const (
	Sent    = "Sent"
	Drafts  = "Drafts"
	Trash   = "Trash"
	Junk    = "Junk"
	Archive = "Archive"
)

var standardFolders = []struct{ name, specialUse string }{
	{Inbox, ""},
	{Sent, `\Sent`},
	{Drafts, `\Drafts`},
	{Trash, `\Trash`},
	{Junk, `\Junk`},
	{Archive, `\Archive`},
}

// MailboxInfo describes a mailbox.
type MailboxInfo struct {
	Name        string `json:"name"`
	UIDValidity uint32 `json:"uid_validity"`
	UIDNext     uint32 `json:"uid_next"`
	SpecialUse  string `json:"special_use,omitempty"`
	Subscribed  bool   `json:"subscribed"`
	Messages    uint32 `json:"messages"`
	Size        int64  `json:"size"`
	// Unseen counts messages without \Seen, Deleted those with \Deleted
	// and DeletedSize their octets; kept in step with every change.
	Unseen      uint32 `json:"unseen"`
	Deleted     uint32 `json:"deleted"`
	DeletedSize int64  `json:"deleted_size"`
	// Keywords are the keywords set on any message since the mailbox was
	// created or last reindexed, for the FLAGS response (at most
	// keywordsMax).
	Keywords []string `json:"keywords,omitempty"`
	// Version is the layout of this state and the mailbox's indexes.
	Version int `json:"v"`
}

// Message is a message's metadata.
type Message struct {
	UID          uint32    `json:"uid"`
	Flags        []string  `json:"flags,omitempty"`
	InternalDate time.Time `json:"internal_date"`
	Size         int64     `json:"size"`
}

// CanonicalName returns the stored form of a mailbox name: INBOX is
// case-insensitive (RFC 9051 section 5.1), every other name is kept as given.
func CanonicalName(name string) string {
	if strings.EqualFold(name, Inbox) {
		return Inbox
	}
	return name
}

func uidKey(uid uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, uid)
}

// agentBucket returns the bucket of an agent's mailboxes, or ErrNoAgent.
func agentBucket(tx *bolt.Tx, agent string) (*bolt.Bucket, error) {
	b := tx.Bucket(bucketMailboxes).Bucket([]byte(agent))
	if b == nil {
		return nil, fmt.Errorf("%s: %w", agent, ErrNoAgent)
	}
	return b, nil
}

// mailboxBucket returns a mailbox's bucket, or ErrNoMailbox.
func mailboxBucket(tx *bolt.Tx, agent, name string) (*bolt.Bucket, error) {
	ab, err := agentBucket(tx, agent)
	if err != nil {
		return nil, err
	}
	b := ab.Bucket([]byte(CanonicalName(name)))
	if b == nil {
		return nil, fmt.Errorf("%s: %w", name, ErrNoMailbox)
	}
	return b, nil
}

func readState(b *bolt.Bucket) (MailboxInfo, error) {
	var info MailboxInfo
	if err := json.Unmarshal(b.Get(keyState), &info); err != nil {
		return info, fmt.Errorf("mailbox state: %w", err)
	}
	return info, nil
}

func writeState(b *bolt.Bucket, info MailboxInfo) error {
	data, err := json.Marshal(info)
	if err != nil {
		return err
	}
	return b.Put(keyState, data)
}

// nextUIDValidity hands out UIDVALIDITY values that never repeat, so a
// mailbox deleted and created again is never mistaken for the old one
// (RFC 9051 section 2.3.1.1).
func nextUIDValidity(tx *bolt.Tx) uint32 {
	b := tx.Bucket(bucketCounters)
	v := uint32(time.Now().Unix())
	if prev := b.Get(keyUIDValidity); prev != nil {
		if last := binary.BigEndian.Uint32(prev); last >= v {
			v = last + 1
		}
	}
	_ = b.Put(keyUIDValidity, uidKey(v))
	return v
}

// CheckMailboxName refuses names that cannot be stored or listed sanely.
func CheckMailboxName(name string) error {
	switch {
	case name == "":
		return errors.New("empty mailbox name")
	case len(name) > 255:
		return errors.New("mailbox name longer than 255 bytes")
	case strings.HasPrefix(name, string(Delimiter)) || strings.HasSuffix(name, string(Delimiter)):
		return fmt.Errorf("mailbox name %q starts or ends with %q", name, Delimiter)
	case strings.Contains(name, "//"):
		return fmt.Errorf("mailbox name %q has an empty level", name)
	case strings.ContainsAny(name, "*%\r\n\x00"):
		return fmt.Errorf("mailbox name %q contains a wildcard or control character", name)
	}
	return nil
}

func (s *Store) createMailboxTx(tx *store.Tx, agent, name, specialUse string) error {
	name = CanonicalName(name)
	if err := CheckMailboxName(name); err != nil {
		return err
	}
	ab, err := tx.Bucket(bucketMailboxes).CreateBucketIfNotExists([]byte(agent))
	if err != nil {
		return err
	}
	if ab.Bucket([]byte(name)) != nil {
		return fmt.Errorf("%s: %w", name, ErrMailboxExists)
	}
	b, err := ab.CreateBucket([]byte(name))
	if err != nil {
		return err
	}
	for _, sub := range mailboxSubBuckets {
		if _, err := b.CreateBucket(sub); err != nil {
			return err
		}
	}
	return writeState(b, MailboxInfo{
		Version:     stateVersion,
		Name:        name,
		UIDValidity: nextUIDValidity(tx.Tx),
		UIDNext:     1,
		SpecialUse:  specialUse,
		Subscribed:  true,
	})
}

// CreateMailbox creates a mailbox for agent. specialUse may be empty.
func (s *Store) CreateMailbox(agent, name, specialUse string) error {
	return s.db.Update(func(tx *store.Tx) error {
		if _, err := agentBucket(tx.Tx, agent); err != nil {
			return err
		}
		return s.createMailboxTx(tx, agent, name, specialUse)
	})
}

// Mailboxes lists an agent's mailboxes in name order.
func (s *Store) Mailboxes(agent string) ([]MailboxInfo, error) {
	var out []MailboxInfo
	err := s.db.View(func(tx *bolt.Tx) error {
		ab, err := agentBucket(tx, agent)
		if err != nil {
			return err
		}
		return ab.ForEachBucket(func(k []byte) error {
			info, err := readState(ab.Bucket(k))
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			out = append(out, info)
			return nil
		})
	})
	return out, err
}

// Mailbox returns one mailbox's description.
func (s *Store) Mailbox(agent, name string) (MailboxInfo, error) {
	var info MailboxInfo
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := mailboxBucket(tx, agent, name)
		if err != nil {
			return err
		}
		info, err = readState(b)
		return err
	})
	return info, err
}

// SetSubscribed records whether the agent subscribes to a mailbox.
func (s *Store) SetSubscribed(agent, name string, subscribed bool) error {
	return s.db.Update(func(tx *store.Tx) error {
		b, err := mailboxBucket(tx.Tx, agent, name)
		if err != nil {
			return err
		}
		info, err := readState(b)
		if err != nil {
			return err
		}
		info.Subscribed = subscribed
		return writeState(b, info)
	})
}
