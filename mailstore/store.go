package mailstore

import (
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

// Store is the mail side of the database.
type Store struct {
	db       *store.DB
	observer Observer
	auth     authCache

	quotaBytes int64 // 0: no quota

	bcryptCost int
	dummyOnce  sync.Once
	dummy      []byte
}

// Observer learns of committed changes to mailboxes. Its methods run in the
// database's writer goroutine, in commit order, and must return quickly.
type Observer interface {
	// Appended reports a new message; UIDs of one mailbox arrive ascending.
	Appended(agent, mailbox string, uid uint32)
	// Expunged reports removed messages.
	Expunged(agent, mailbox string, uids []uint32)
	// FlagsChanged reports a message's new flags.
	FlagsChanged(agent, mailbox string, uid uint32, flags []string)
	// MailboxGone reports that a mailbox was deleted or renamed away.
	MailboxGone(agent, mailbox string)
}

// Open prepares the mail buckets in db. obs may be nil.
func Open(db *store.DB, obs Observer) (*Store, error) {
	err := db.Update(func(tx *store.Tx) error {
		for _, name := range [][]byte{bucketAgents, bucketMailboxes, bucketCounters} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return upgradeTx(tx)
	})
	if err != nil {
		return nil, err
	}
	if obs == nil {
		obs = nopObserver{}
	}
	return &Store{db: db, observer: obs}, nil
}

// SetObserver replaces the observer; call it before serving.
func (s *Store) SetObserver(obs Observer) { s.observer = obs }

// DB returns the database the store lives in.
func (s *Store) DB() *store.DB { return s.db }

// View runs fn in a read transaction.
func (s *Store) View(fn func(*bolt.Tx) error) error { return s.db.View(fn) }

type nopObserver struct{}

func (nopObserver) Appended(string, string, uint32)               {}
func (nopObserver) Expunged(string, string, []uint32)             {}
func (nopObserver) FlagsChanged(string, string, uint32, []string) {}
func (nopObserver) MailboxGone(string, string)                    {}
