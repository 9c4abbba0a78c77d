package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// FormatVersion is the data format this build reads and writes. Raise it
// whenever a bucket's layout or a stored value's encoding changes, and
// register the step that rewrites the previous version in upgrades.
//
// Versions:
//   - 0: no store_meta bucket; every store written before versions existed.
//   - 1: store_meta/format_version records the version; nothing else changed.
//   - 2: store_blobs counts references to blob files (large message bodies);
//     message metadata may be in mailstore's binary form, and every mailbox
//     has the blob and env buckets (mailstore fills them at its Open).
//   - 3: the ledger keeps its balances and its per-agent index in one bucket
//     keyed by agent (billing registers the step that rewrites them).
//   - 4: the ledger writes journal entries and holds in a binary form (and
//     still reads the JSON of earlier versions), keeps the balances in a
//     bucket of their own and writes the per-agent history index in
//     batches (billing registers the step that moves the balances).
//   - 5: the ledger keeps holds in the order they were made and finds them
//     by id through an index written in batches (billing registers the step
//     that moves the holds).
const FormatVersion uint64 = 5

var (
	bucketStoreMeta  = []byte("store_meta")
	keyFormatVersion = []byte("format_version") // big-endian uint64
)

// ErrNewerFormat is returned when the data was written by a newer agentmail.
var ErrNewerFormat = errors.New("data format is newer than this agentmail understands")

// upgrades[v] rewrites a version-v store as version v+1. Each step runs in
// the same transaction as the version bump after it, and all steps from the
// stored version to FormatVersion share one transaction: an upgrade is done
// completely or not at all.
var upgrades = map[uint64]func(*bolt.Tx) error{
	0: upgradeFrom0,
	1: upgradeFrom1,
	2: upgradeFrom2,
	3: upgradeFrom3,
	4: upgradeFrom4,
}

// registered[v] are the steps that packages owning buckets on top of the
// store (the ledger) add to the rewrite of version v; they run after the
// store's own step, in the same transaction, in the order registered.
var registered = map[uint64][]func(*bolt.Tx) error{}

// RegisterUpgrade adds a package's step to the rewrite of a version-from
// store. It must be called from an init function, before any Open; a
// package's step must leave a store without its buckets alone.
func RegisterUpgrade(from uint64, step func(*bolt.Tx) error) {
	if from >= FormatVersion {
		panic(fmt.Sprintf("store: upgrade registered from format %d, current is %d",
			from, FormatVersion))
	}
	registered[from] = append(registered[from], step)
}

// upgradeFrom0 has nothing to rewrite: format 1 only adds store_meta, which
// the version bump creates.
func upgradeFrom0(*bolt.Tx) error { return nil }

// upgradeFrom1 adds store_blobs; a version-1 store has no blob files. The
// mailboxes' new buckets are mailstore's to fill, as it does for any
// mailbox whose state predates its layout.
func upgradeFrom1(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucketBlobs)
	return err
}

// upgradeFrom2 has nothing of the store's own to rewrite: format 3 changes
// only the ledger's buckets, which billing's registered step converts.
func upgradeFrom2(*bolt.Tx) error { return nil }

// upgradeFrom3 has nothing of the store's own to rewrite: format 4 changes
// only the ledger's values, which billing reads in both forms, and its
// balances, which billing's registered step moves.
func upgradeFrom3(*bolt.Tx) error { return nil }

// upgradeFrom4 has nothing of the store's own to rewrite: format 5 changes
// only where the ledger keeps its holds, which billing's registered step
// moves.
func upgradeFrom4(*bolt.Tx) error { return nil }

// ReadFormatVersion returns the format version recorded in tx. A store
// without store_meta is version 0 when it holds any bucket; an empty file
// (fresh is true) has no version yet.
func ReadFormatVersion(tx *bolt.Tx) (version uint64, fresh bool, err error) {
	meta := tx.Bucket(bucketStoreMeta)
	if meta == nil {
		k, _ := tx.Cursor().First()
		return 0, k == nil, nil
	}
	v := meta.Get(keyFormatVersion)
	if len(v) != 8 {
		return 0, false, fmt.Errorf("store_meta/format_version: %d bytes, want 8", len(v))
	}
	return binary.BigEndian.Uint64(v), false, nil
}

// CheckFormatVersion refuses a version this build cannot read.
func CheckFormatVersion(version uint64) error {
	if version > FormatVersion {
		return fmt.Errorf("%w: data format %d, this agentmail reads up to %d; "+
			"run a newer agentmail or restore a backup written by this one",
			ErrNewerFormat, version, FormatVersion)
	}
	return nil
}

// migrate brings the file to FormatVersion before any other transaction
// runs. It returns the version the file had, which equals FormatVersion when
// nothing was done.
func migrate(b *bolt.DB) (from uint64, err error) {
	current := false
	err = b.View(func(tx *bolt.Tx) error {
		v, fresh, err := ReadFormatVersion(tx)
		current = err == nil && !fresh && v == FormatVersion
		return nil
	})
	if err != nil || current {
		return FormatVersion, err
	}
	err = b.Update(func(tx *bolt.Tx) error {
		version, fresh, err := ReadFormatVersion(tx)
		if err != nil {
			return err
		}
		if fresh {
			version = FormatVersion
		}
		from = version
		if err := CheckFormatVersion(version); err != nil {
			return err
		}
		for v := version; v < FormatVersion; v++ {
			step, ok := upgrades[v]
			if !ok {
				return fmt.Errorf("no upgrade registered from data format %d", v)
			}
			for _, step := range append([]func(*bolt.Tx) error{step}, registered[v]...) {
				if err := step(tx); err != nil {
					return fmt.Errorf("upgrade data format %d to %d: %w", v, v+1, err)
				}
			}
		}
		if _, err := tx.CreateBucketIfNotExists(bucketBlobs); err != nil {
			return err
		}
		return writeFormatVersion(tx, FormatVersion)
	})
	return from, err
}

func writeFormatVersion(tx *bolt.Tx, version uint64) error {
	meta, err := tx.CreateBucketIfNotExists(bucketStoreMeta)
	if err != nil {
		return fmt.Errorf("create store_meta: %w", err)
	}
	return meta.Put(keyFormatVersion, binary.BigEndian.AppendUint64(nil, version))
}
