package mailstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/envelope"
	"agentmail/internal/store"
)

// A message whose body is large is stored in two pieces: its header section
// in the raw bucket, as small messages are stored whole, and its body in a
// blob file (internal/store) that the blob bucket names. The message is the
// one followed by the other. Copies of a message (INBOX and Sent, COPY)
// share the blob; each holds a reference to it.
//
// Each message also has its envelope and Subject values cached in the env
// bucket (internal/envelope), computed once at delivery.
var (
	bucketBlobRef = []byte("blob") // uid → blob name, messages with a blob body
	bucketEnv     = []byte("env")  // uid → envelope.Summary
)

// InlineBodyMax is the largest body kept inside the database; larger bodies
// go to blob files. Callers that stream a message decide where to put it.
const InlineBodyMax = 64 << 10

// blobOf returns the blob holding a message's body, if it has one.
func blobOf(b *bolt.Bucket, uid uint32) string {
	if bb := b.Bucket(bucketBlobRef); bb != nil {
		return string(bb.Get(uidKey(uid)))
	}
	return ""
}

// putExtras stores a new message's blob reference and envelope cache.
func putExtras(tx *store.Tx, b *bolt.Bucket, uid uint32, d Delivery) error {
	if d.Body.Name != "" {
		if err := tx.RefBlob(d.Body); err != nil {
			return err
		}
		if err := b.Bucket(bucketBlobRef).Put(uidKey(uid), []byte(d.Body.Name)); err != nil {
			return err
		}
	}
	env := d.Envelope
	if env == nil {
		env = envelope.FromHeader(d.Raw).Marshal()
	}
	return b.Bucket(bucketEnv).Put(uidKey(uid), env)
}

// dropExtras removes a message's blob reference and envelope cache.
func dropExtras(tx *store.Tx, b *bolt.Bucket, uid uint32) error {
	if name := blobOf(b, uid); name != "" {
		if err := tx.UnrefBlob(name); err != nil {
			return err
		}
		if err := b.Bucket(bucketBlobRef).Delete(uidKey(uid)); err != nil {
			return err
		}
	}
	return b.Bucket(bucketEnv).Delete(uidKey(uid))
}

// unrefMailboxBlobs drops the blob references of every message of the
// mailbox in b, which is about to be deleted.
func unrefMailboxBlobs(tx *store.Tx, b *bolt.Bucket) error {
	bb := b.Bucket(bucketBlobRef)
	if bb == nil {
		return nil
	}
	return bb.ForEach(func(_, v []byte) error { return tx.UnrefBlob(string(v)) })
}

// Content is a stored message opened for reading: Head followed by the
// blob file Body (nil when the message is stored whole in Head).
type Content struct {
	Head []byte
	Body *os.File
	Size int64
}

// Reader returns the whole message as one stream.
func (c Content) Reader() io.Reader {
	if c.Body == nil {
		return bytes.NewReader(c.Head)
	}
	return io.MultiReader(bytes.NewReader(c.Head), io.NewSectionReader(c.Body, 0,
		c.Size-int64(len(c.Head))))
}

// Close releases the body file.
func (c Content) Close() error {
	if c.Body == nil {
		return nil
	}
	return c.Body.Close()
}

// Open returns a message for reading without loading a blob body into
// memory; the caller closes it.
func (s *Store) Open(agent, mailbox string, uid uint32) (Content, error) {
	var c Content
	var blob string
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := mailboxBucket(tx, agent, mailbox)
		if err != nil {
			return err
		}
		v := b.Bucket(bucketRaw).Get(uidKey(uid))
		m, ok, err := getMeta(b.Bucket(bucketMeta), uid)
		if err != nil {
			return err
		}
		if v == nil || !ok {
			return fmt.Errorf("uid %d: %w", uid, ErrNoMessage)
		}
		c = Content{Head: bytes.Clone(v), Size: m.Size}
		blob = blobOf(b, uid)
		if blob != "" {
			// Opened inside the transaction: the file cannot be removed
			// before the commit that expunges the message, which this
			// transaction predates.
			c.Body, err = s.db.OpenBlob(blob)
			if errors.Is(err, os.ErrNotExist) {
				err = fmt.Errorf("uid %d: %w", uid, ErrNoMessage) // expunged just now
			}
		}
		return err
	})
	if err != nil {
		return Content{}, err
	}
	if c.Head == nil {
		c.Head = []byte{}
	}
	return c, nil
}

// envelopeTx returns a message's cached summary; ok is false for a message
// without one.
func envelopeTx(b *bolt.Bucket, uid uint32) ([]byte, bool) {
	eb := b.Bucket(bucketEnv)
	if eb == nil {
		return nil, false
	}
	v := eb.Get(uidKey(uid))
	return v, v != nil
}

// fillEnvelopes computes the envelope cache of every message of the mailbox
// in b that lacks one, for mailboxes written before the cache existed.
func fillEnvelopes(b *bolt.Bucket) error {
	eb, err := b.CreateBucketIfNotExists(bucketEnv)
	if err != nil {
		return err
	}
	if _, err := b.CreateBucketIfNotExists(bucketBlobRef); err != nil {
		return err
	}
	var uids []uint32
	var envs [][]byte
	err = b.Bucket(bucketRaw).ForEach(func(k, v []byte) error {
		if eb.Get(k) == nil {
			uids = append(uids, uidFromKey(k))
			envs = append(envs, envelope.FromHeader(v).Marshal())
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, uid := range uids {
		if err := eb.Put(uidKey(uid), envs[i]); err != nil {
			return err
		}
	}
	return nil
}

// VerifyBlobsTx checks that every blob reference of every message is
// counted in store_blobs, and nothing more: a count that does not match the
// references would remove a file still in use, or keep one forever.
func VerifyBlobsTx(tx *bolt.Tx) []string {
	refs := map[string]uint64{}
	all := tx.Bucket(bucketMailboxes)
	if all == nil {
		return nil
	}
	_ = all.ForEachBucket(func(agent []byte) error {
		ab := all.Bucket(agent)
		return ab.ForEachBucket(func(name []byte) error {
			if bb := ab.Bucket(name).Bucket(bucketBlobRef); bb != nil {
				_ = bb.ForEach(func(_, v []byte) error {
					refs[string(v)]++
					return nil
				})
			}
			return nil
		})
	})
	var problems []string
	err := store.ForEachBlobTx(tx, func(b store.Blob, n uint64) error {
		if refs[b.Name] != n {
			problems = append(problems, fmt.Sprintf("blob %s: %d references recorded, "+
				"%d messages refer to it", b.Name, n, refs[b.Name]))
		}
		delete(refs, b.Name)
		return nil
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	for name, n := range refs {
		problems = append(problems, fmt.Sprintf("blob %s: %d messages refer to it, "+
			"store_blobs does not hold it", name, n))
	}
	return problems
}
