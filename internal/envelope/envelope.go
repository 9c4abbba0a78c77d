// Package envelope computes a message's IMAP ENVELOPE (RFC 9051 section
// 7.5.2) from its header section and keeps it in a compact binary form, so
// that the mail store can cache it at delivery and FETCH ENVELOPE and
// SEARCH SUBJECT need not read and parse every message again, as Dovecot
// answers them from its index cache.
//
// It reads the header the way the rest of agentmail does (rawmsg.ScanHeader):
// a malformed line is skipped rather than ending the header, the first of
// repeated fields wins, and values that do not parse are left out.
package envelope

import (
	"encoding/binary"
	"errors"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"

	"agentmail/internal/rawmsg"
)

// Summary is what the cache keeps of one message: its envelope and the raw
// values of every Subject field, which SEARCH SUBJECT matches (RFC 9051
// section 6.4.4).
type Summary struct {
	Envelope *imap.Envelope
	Subjects []string
}

// FromHeader computes the summary of a message from its header section (the
// whole message will do; only the header is read).
func FromHeader(raw []byte) Summary {
	fields, _ := rawmsg.ScanHeader(raw)
	var h textproto.Header
	var subjects []string
	// Add puts a field before earlier ones of the same name; adding in
	// reverse keeps the message's order. Date is parsed here, faster.
	for i := len(fields) - 1; i >= 0; i-- {
		if !strings.EqualFold(fields[i].Name, "Date") {
			h.Add(fields[i].Name, fields[i].Value)
		}
	}
	for _, f := range fields {
		if strings.EqualFold(f.Name, "Subject") {
			subjects = append(subjects, f.Value)
		}
	}
	env := extract(h)
	if env == nil {
		env = &imap.Envelope{}
	}
	for _, f := range fields {
		if strings.EqualFold(f.Name, "Date") {
			env.Date, _ = ParseDate(f.Value)
			break
		}
	}
	return Summary{Envelope: env, Subjects: subjects}
}

// extract runs the library's parser on header values that may be anything a
// sender got accepted; a panic in it yields nil.
func extract(h textproto.Header) (env *imap.Envelope) {
	defer func() {
		if recover() != nil {
			env = nil
		}
	}()
	return imapserver.ExtractEnvelope(h)
}

// dateLayouts are the forms of RFC 5322 section 3.3 that nearly every
// message uses; they are tried before net/mail's parser, which tries many
// more forms and costs more than the rest of an envelope together.
var dateLayouts = []string{
	"Mon, 02 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"02 Jan 2006 15:04:05 -0700",
}

// ParseDate reads a Date field; ok is false when it cannot.
func ParseDate(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	t, err := mail.ParseDate(v)
	return t, err == nil
}

// The binary form: 0x01, the date (length-prefixed time.MarshalBinary,
// empty for none), subject, message id, then the six address lists (From,
// Sender, Reply-To, To, Cc, Bcc; each a count and per address name, mailbox
// and host), In-Reply-To ids and the Subject values. Strings are a uvarint
// length and bytes; counts are uvarints.
const formBinary = 0x01

// countMax bounds every list read back, so a corrupt value cannot make a
// reader allocate without limit.
const countMax = 1 << 16

var errCorrupt = errors.New("corrupt envelope cache")

// Marshal encodes a summary.
func (s Summary) Marshal() []byte {
	env := s.Envelope
	out := []byte{formBinary}
	var date []byte
	if !env.Date.IsZero() {
		date, _ = env.Date.MarshalBinary()
	}
	out = appendString(out, string(date))
	out = appendString(out, env.Subject)
	out = appendString(out, env.MessageID)
	for _, list := range [][]imap.Address{env.From, env.Sender, env.ReplyTo, env.To,
		env.Cc, env.Bcc} {
		out = binary.AppendUvarint(out, uint64(len(list)))
		for _, a := range list {
			out = appendString(appendString(appendString(out, a.Name), a.Mailbox), a.Host)
		}
	}
	out = appendStrings(out, env.InReplyTo)
	return appendStrings(out, s.Subjects)
}

// Unmarshal decodes what Marshal wrote.
func Unmarshal(v []byte) (Summary, error) {
	if len(v) == 0 || v[0] != formBinary {
		return Summary{}, errCorrupt
	}
	d := decoder{buf: v[1:]}
	env := &imap.Envelope{}
	if date := d.string(); date != "" {
		if err := env.Date.UnmarshalBinary([]byte(date)); err != nil {
			return Summary{}, errCorrupt
		}
	}
	env.Subject = d.string()
	env.MessageID = d.string()
	for _, list := range []*[]imap.Address{&env.From, &env.Sender, &env.ReplyTo, &env.To,
		&env.Cc, &env.Bcc} {
		n := d.count()
		for range n {
			*list = append(*list, imap.Address{Name: d.string(), Mailbox: d.string(),
				Host: d.string()})
		}
	}
	env.InReplyTo = d.strings()
	s := Summary{Envelope: env, Subjects: d.strings()}
	if d.bad {
		return Summary{}, errCorrupt
	}
	return s, nil
}

func appendString(out []byte, s string) []byte {
	return append(binary.AppendUvarint(out, uint64(len(s))), s...)
}

func appendStrings(out []byte, list []string) []byte {
	out = binary.AppendUvarint(out, uint64(len(list)))
	for _, s := range list {
		out = appendString(out, s)
	}
	return out
}

type decoder struct {
	buf []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	n, w := binary.Uvarint(d.buf)
	if w <= 0 {
		d.bad = true
		return 0
	}
	d.buf = d.buf[w:]
	return n
}

func (d *decoder) count() int {
	n := d.uvarint()
	if n > countMax {
		d.bad = true
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.buf)) {
		d.bad = true
		return ""
	}
	s := string(d.buf[:n])
	d.buf = d.buf[n:]
	return s
}

func (d *decoder) strings() []string {
	n := d.count()
	var out []string
	for range n {
		out = append(out, d.string())
	}
	return out
}
