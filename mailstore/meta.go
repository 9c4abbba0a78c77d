package mailstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Message metadata is read for every message a FETCH or SEARCH names, so
// it is stored in a compact binary form rather than JSON, which cost more
// than everything else in FETCH 1:* FLAGS:
//
//	0x01, internal date (int64, Unix ns), size (int64), then per flag its
//	length (uvarint) and bytes; integers big-endian.
//
// Metadata written as JSON by earlier versions begins with '{' and is
// still read; it is rewritten in the binary form when its flags change.
//
// Store format 2 (internal/store) is the first to say so: an older
// agentmail refuses such a file up front.
const metaBinary = 0x01

// metaFlagsMax bounds the flags one message keeps, and so the size of its
// metadata.
const metaFlagsMax = 1000

var errMetaCorrupt = errors.New("corrupt message metadata")

// getMeta reads a message's metadata; ok is false when the UID is absent.
func getMeta(mb *bolt.Bucket, uid uint32) (m messageMeta, ok bool, err error) {
	v := mb.Get(uidKey(uid))
	if v == nil {
		return m, false, nil
	}
	m, err = decodeMeta(uid, v)
	return m, err == nil, err
}

// decodeMeta reads either stored form of a message's metadata.
func decodeMeta(uid uint32, v []byte) (messageMeta, error) {
	var m messageMeta
	if len(v) > 0 && v[0] == metaBinary {
		if err := m.unmarshal(v[1:]); err != nil {
			return m, fmt.Errorf("message %d: %w", uid, err)
		}
		return m, nil
	}
	if err := json.Unmarshal(v, &m); err != nil {
		return m, fmt.Errorf("message %d: %w", uid, err)
	}
	return m, nil
}

func (m *messageMeta) unmarshal(v []byte) error {
	if len(v) < 16 {
		return errMetaCorrupt
	}
	m.Date = int64(binary.BigEndian.Uint64(v))
	m.Size = int64(binary.BigEndian.Uint64(v[8:]))
	v = v[16:]
	for len(v) > 0 {
		n, w := binary.Uvarint(v)
		if w <= 0 || n > uint64(len(v)-w) || len(m.Flags) == metaFlagsMax {
			return errMetaCorrupt
		}
		m.Flags = append(m.Flags, string(v[w:w+int(n)]))
		v = v[w+int(n):]
	}
	return nil
}

func (m messageMeta) marshal() []byte {
	out := make([]byte, 0, 17+16*len(m.Flags))
	out = append(out, metaBinary)
	out = binary.BigEndian.AppendUint64(out, uint64(m.Date))
	out = binary.BigEndian.AppendUint64(out, uint64(m.Size))
	for _, f := range m.Flags {
		out = binary.AppendUvarint(out, uint64(len(f)))
		out = append(out, f...)
	}
	return out
}

func putMeta(mb *bolt.Bucket, uid uint32, m messageMeta) error {
	if len(m.Flags) > metaFlagsMax {
		return fmt.Errorf("message %d: more than %d flags", uid, metaFlagsMax)
	}
	return mb.Put(uidKey(uid), m.marshal())
}
