// Package binenc is the compact binary form of stored values: fields in a
// fixed order, integers as varints, strings and bytes prefixed by their
// length. The ledger's journal entries and holds and the cached envelopes
// of messages are written with it.
package binenc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ErrTruncated reports a stored value that ends inside a field.
var ErrTruncated = errors.New("value ends inside a field")

// Encoder appends fields to a value.
type Encoder []byte

func (e *Encoder) Int(v int64)     { *e = binary.AppendVarint(*e, v) }
func (e *Encoder) Uint(v uint64)   { *e = binary.AppendUvarint(*e, v) }
func (e *Encoder) Bytes(b []byte)  { e.Uint(uint64(len(b))); *e = append(*e, b...) }
func (e *Encoder) String(s string) { e.Uint(uint64(len(s))); *e = append(*e, s...) }

// Time stores an instant as Unix seconds and nanoseconds, so any year
// survives; the zero time comes back as the zero time.
func (e *Encoder) Time(t time.Time) {
	e.Int(t.Unix())
	e.Uint(uint64(t.Nanosecond()))
}

// Decoder reads fields in the order they were appended; the first failure
// sticks and every later read returns zero values.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder reads the fields of data.
func NewDecoder(data []byte) *Decoder { return &Decoder{b: data} }

// Fail records err as the decoder's failure, unless one came first.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Err is the first failure, or nil.
func (d *Decoder) Err() error { return d.err }

func (d *Decoder) Uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = ErrTruncated
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *Decoder) Int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = ErrTruncated
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Bytes returns a field without copying it: it points into the value.
func (d *Decoder) Bytes() []byte {
	n := d.Uint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = ErrTruncated
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *Decoder) String() string { return string(d.Bytes()) }

func (d *Decoder) Time() time.Time {
	sec, nsec := d.Int(), d.Uint()
	if nsec >= uint64(time.Second) {
		d.Fail(fmt.Errorf("nanoseconds %d out of range", nsec))
	}
	if d.err != nil {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// Finish reports the first failure, or bytes left over after the last field.
func (d *Decoder) Finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes after the last field", len(d.b))
	}
	return d.err
}
