package store

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func storedVersion(t *testing.T, path string) (uint64, bool) {
	t.Helper()
	b, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var v uint64
	var fresh bool
	if err := b.View(func(tx *bolt.Tx) (err error) {
		v, fresh, err = ReadFormatVersion(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v, fresh
}

// writeRaw creates a bbolt file by hand, as an older or newer agentmail
// would have left it.
func writeRaw(t *testing.T, dir string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	b, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func TestFormatVersion(t *testing.T) {
	t.Run("a new store records the current version", func(t *testing.T) {
		dir := t.TempDir()
		db, err := Open(dir, Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		if db.UpgradedFrom() != FormatVersion {
			t.Errorf("UpgradedFrom %d on a new store", db.UpgradedFrom())
		}
		db.Close()
		if v, fresh := storedVersion(t, Path(dir)); v != FormatVersion || fresh {
			t.Errorf("stored version %d (fresh %v), want %d", v, fresh, FormatVersion)
		}
	})
	t.Run("version 0 is upgraded and its data kept", func(t *testing.T) {
		dir := t.TempDir()
		writeRaw(t, dir, func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("agents"))
			if err != nil {
				return err
			}
			return b.Put([]byte("a@localhost"), []byte("{}"))
		})
		if v, _ := storedVersion(t, Path(dir)); v != 0 {
			t.Fatalf("hand-made file reads as version %d", v)
		}
		db, err := Open(dir, Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		if db.UpgradedFrom() != 0 {
			t.Errorf("UpgradedFrom %d, want 0", db.UpgradedFrom())
		}
		err = db.View(func(tx *bolt.Tx) error {
			if tx.Bucket([]byte("agents")).Get([]byte("a@localhost")) == nil {
				return errors.New("data lost in the upgrade")
			}
			return nil
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := storedVersion(t, Path(dir)); v != FormatVersion {
			t.Errorf("after upgrade: version %d", v)
		}
	})
	t.Run("a newer version is refused and left alone", func(t *testing.T) {
		dir := t.TempDir()
		writeRaw(t, dir, func(tx *bolt.Tx) error {
			return writeFormatVersion(tx, FormatVersion+1)
		})
		_, err := Open(dir, Options{NoSync: true})
		if !errors.Is(err, ErrNewerFormat) {
			t.Fatalf("Open of a newer format: %v", err)
		}
		if v, _ := storedVersion(t, Path(dir)); v != FormatVersion+1 {
			t.Errorf("refused file rewritten to version %d", v)
		}
	})
	t.Run("a malformed version is an error", func(t *testing.T) {
		dir := t.TempDir()
		writeRaw(t, dir, func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(bucketStoreMeta)
			if err != nil {
				return err
			}
			return b.Put(keyFormatVersion, binary.BigEndian.AppendUint32(nil, 1))
		})
		if _, err := Open(dir, Options{NoSync: true}); err == nil {
			t.Fatal("Open accepted a 4-byte format version")
		}
	})
}

// Every version before the current one has a registered upgrade step.
func TestEveryOlderFormatHasAnUpgrade(t *testing.T) {
	for v := range FormatVersion {
		if upgrades[v] == nil {
			t.Errorf("no upgrade step from format %d", v)
		}
	}
}
