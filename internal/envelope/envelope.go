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
	"errors"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"

	"agentmail/internal/binenc"
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
	out := binenc.Encoder{formBinary}
	var date []byte
	if !env.Date.IsZero() {
		date, _ = env.Date.MarshalBinary()
	}
	out.Bytes(date)
	out.String(env.Subject)
	out.String(env.MessageID)
	for _, list := range [][]imap.Address{env.From, env.Sender, env.ReplyTo, env.To,
		env.Cc, env.Bcc} {
		out.Uint(uint64(len(list)))
		for _, a := range list {
			out.String(a.Name)
			out.String(a.Mailbox)
			out.String(a.Host)
		}
	}
	appendStrings(&out, env.InReplyTo)
	appendStrings(&out, s.Subjects)
	return out
}

// Unmarshal decodes what Marshal wrote.
func Unmarshal(v []byte) (Summary, error) {
	if len(v) == 0 || v[0] != formBinary {
		return Summary{}, errCorrupt
	}
	d := binenc.NewDecoder(v[1:])
	env := &imap.Envelope{}
	if date := d.Bytes(); len(date) > 0 {
		if err := env.Date.UnmarshalBinary(date); err != nil {
			return Summary{}, errCorrupt
		}
	}
	env.Subject = d.String()
	env.MessageID = d.String()
	for _, list := range []*[]imap.Address{&env.From, &env.Sender, &env.ReplyTo, &env.To,
		&env.Cc, &env.Bcc} {
		n := count(d)
		for range n {
			*list = append(*list, imap.Address{Name: d.String(), Mailbox: d.String(),
				Host: d.String()})
		}
	}
	env.InReplyTo = readStrings(d)
	s := Summary{Envelope: env, Subjects: readStrings(d)}
	if d.Err() != nil {
		return Summary{}, errCorrupt
	}
	return s, nil
}

func appendStrings(out *binenc.Encoder, list []string) {
	out.Uint(uint64(len(list)))
	for _, s := range list {
		out.String(s)
	}
}

// count reads a list's length, at most countMax.
func count(d *binenc.Decoder) int {
	n := d.Uint()
	if n > countMax {
		d.Fail(errCorrupt)
		return 0
	}
	return int(n)
}

func readStrings(d *binenc.Decoder) []string {
	n := count(d)
	var out []string
	for range n {
		out = append(out, d.String())
	}
	return out
}
