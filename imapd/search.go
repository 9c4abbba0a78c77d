package imapd

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"

	"agentmail/internal/envelope"
	"agentmail/internal/rawmsg"
	"agentmail/mailstore"
)

// searchBodyMax bounds how much of one part SEARCH BODY/TEXT reads.
const searchBodyMax = 16 << 20

// searchChunk is how many messages Search reads at a time: their bytes
// are looked at inside one short read transaction and never copied, so
// SEARCH of a large mailbox needs little memory.
const searchChunk = 512

// Search implements imapserver.Session: every key of RFC 9051 section
// 6.4.4 that imap.SearchCriteria carries, plus ESEARCH results and
// SEARCHRES (RFC 5182).
func (sess *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria,
	options *imap.SearchOptions) (*imap.SearchData, error) {
	refs := sess.sel.resolve(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}})
	sess.staticCriteria(criteria, refs)
	data := &imap.SearchData{}
	var seqs imap.SeqSet
	var uids imap.UIDSet
	for len(refs) > 0 {
		n := min(len(refs), searchChunk)
		matched, err := sess.searchChunk(refs[:n], criteria)
		if err != nil {
			return nil, sess.storeError("search", err)
		}
		refs = refs[n:]
		for _, r := range matched {
			uids.AddNum(imap.UID(r.uid))
			seqs.AddNum(r.seq)
			num := r.seq
			if kind == imapserver.NumKindUID {
				num = r.uid
			}
			if data.Min == 0 || num < data.Min {
				data.Min = num
			}
			data.Max = max(data.Max, num)
			data.Count++
		}
	}
	data.All = seqs
	if kind == imapserver.NumKindUID {
		data.All = uids
	}
	if data.All == nil || isEmpty(data.All) {
		data.All = emptySet(kind)
	}
	if options.ReturnSave {
		sess.sel.searchRes = uids
	}
	return data, nil
}

// searchChunk returns the messages among refs that match, ascending.
func (sess *session) searchChunk(refs []msgRef, criteria *imap.SearchCriteria) ([]msgRef,
	error) {
	metas, err := sess.srv.ms.Messages(sess.agent, sess.sel.name, refUIDs(refs))
	if err != nil {
		return nil, err
	}
	seqOf := make(map[uint32]uint32, len(refs))
	for _, r := range refs {
		seqOf[r.uid] = r.seq
	}
	matched := make(map[uint32]bool, len(metas))
	switch {
	case criteriaNeedRaw(criteria):
		err = sess.searchRaw(refs, metas, seqOf, criteria, matched)
	case criteriaNeedSummary(criteria):
		err = sess.searchSummaries(refs, metas, seqOf, criteria, matched)
	default:
		for _, m := range metas {
			c := candidate{seq: seqOf[m.UID], msg: m}
			matched[m.UID] = c.match(criteria)
		}
	}
	if err != nil {
		return nil, err
	}
	var out []msgRef
	for _, r := range refs {
		if matched[r.uid] {
			out = append(out, r)
		}
	}
	return out, nil
}

// searchRaw matches criteria that read the messages themselves.
func (sess *session) searchRaw(refs []msgRef, metas []mailstore.Message,
	seqOf map[uint32]uint32, criteria *imap.SearchCriteria, matched map[uint32]bool) error {
	{
		byUID := make(map[uint32]mailstore.Message, len(metas))
		for _, m := range metas {
			byUID[m.UID] = m
		}
		// raw is valid only inside the callback, so the match is made there.
		return sess.srv.ms.ForEachRaw(sess.agent, sess.sel.name, refUIDs(refs),
			func(uid uint32, raw []byte, blob string) error {
				m, ok := byUID[uid]
				if !ok {
					return nil
				}
				c := candidate{seq: seqOf[uid], msg: m, raw: raw}
				if blob != "" {
					f, err := sess.srv.ms.OpenBlob(blob)
					if err != nil {
						return err
					}
					defer f.Close()
					c.body = f
				}
				matched[uid] = c.match(criteria)
				return nil
			})
	}
}

// searchSummaries matches criteria that need only the envelope cached at
// delivery (SUBJECT, SENTSINCE, SENTBEFORE), without reading any message.
func (sess *session) searchSummaries(refs []msgRef, metas []mailstore.Message,
	seqOf map[uint32]uint32, criteria *imap.SearchCriteria, matched map[uint32]bool) error {
	byUID := make(map[uint32]mailstore.Message, len(metas))
	for _, m := range metas {
		byUID[m.UID] = m
	}
	err := sess.srv.ms.ForEachEnvelope(sess.agent, sess.sel.name, refUIDs(refs),
		func(uid uint32, v []byte) error {
			m, ok := byUID[uid]
			if !ok {
				return nil
			}
			sum, err := envelope.Unmarshal(v)
			if err != nil {
				return nil // left for searchRaw below
			}
			c := candidate{seq: seqOf[uid], msg: m, sum: &sum}
			matched[uid] = c.match(criteria)
			delete(byUID, uid)
			return nil
		})
	if err != nil || len(byUID) == 0 {
		return err
	}
	// Messages without a usable cache are read as before.
	var rest []mailstore.Message
	for _, m := range metas {
		if _, ok := byUID[m.UID]; ok {
			rest = append(rest, m)
		}
	}
	var restRefs []msgRef
	for _, r := range refs {
		if _, ok := byUID[r.uid]; ok {
			restRefs = append(restRefs, r)
		}
	}
	return sess.searchRaw(restRefs, rest, seqOf, criteria, matched)
}

func isEmpty(set imap.NumSet) bool {
	switch s := set.(type) {
	case imap.SeqSet:
		return len(s) == 0
	case imap.UIDSet:
		return len(s) == 0
	}
	return true
}

func emptySet(kind imapserver.NumKind) imap.NumSet {
	if kind == imapserver.NumKindUID {
		return imap.UIDSet{}
	}
	return imap.SeqSet{}
}

// staticCriteria replaces "*" and "$" in the criteria's sets with what they
// stand for now.
func (sess *session) staticCriteria(c *imap.SearchCriteria, refs []msgRef) {
	var lastSeq, lastUID uint32
	if n := len(refs); n > 0 {
		lastSeq, lastUID = refs[n-1].seq, refs[n-1].uid
	}
	var seqSets []imap.SeqSet
	for _, s := range c.SeqNum {
		if imap.IsSearchRes(s) {
			c.UID = append(c.UID, sess.sel.searchRes)
			continue
		}
		seqSets = append(seqSets, staticSeqSet(s, lastSeq))
	}
	c.SeqNum = seqSets
	for i, s := range c.UID {
		if imap.IsSearchRes(s) {
			c.UID[i] = sess.sel.searchRes
			continue
		}
		c.UID[i] = staticUIDSet(s, lastUID)
	}
	for i := range c.Not {
		sess.staticCriteria(&c.Not[i], refs)
	}
	for i := range c.Or {
		sess.staticCriteria(&c.Or[i][0], refs)
		sess.staticCriteria(&c.Or[i][1], refs)
	}
}

// criteriaNeedRaw reports whether matching reads the messages: a header
// other than Subject, or the body.
func criteriaNeedRaw(c *imap.SearchCriteria) bool {
	return anyCriteria(c, func(c *imap.SearchCriteria) bool {
		for _, h := range c.Header {
			if !strings.EqualFold(h.Key, "Subject") {
				return true
			}
		}
		return len(c.Body) > 0 || len(c.Text) > 0
	})
}

// criteriaNeedSummary reports whether matching needs the envelope cache.
func criteriaNeedSummary(c *imap.SearchCriteria) bool {
	return anyCriteria(c, func(c *imap.SearchCriteria) bool {
		return len(c.Header) > 0 || !c.SentSince.IsZero() || !c.SentBefore.IsZero()
	})
}

// anyCriteria reports whether f holds for c or any criteria nested in it.
func anyCriteria(c *imap.SearchCriteria, f func(*imap.SearchCriteria) bool) bool {
	if f(c) {
		return true
	}
	for i := range c.Not {
		if anyCriteria(&c.Not[i], f) {
			return true
		}
	}
	for i := range c.Or {
		if anyCriteria(&c.Or[i][0], f) || anyCriteria(&c.Or[i][1], f) {
			return true
		}
	}
	return false
}

// candidate is one message being searched; its header is split into
// fields at most once. raw is the message, or its header section when body
// holds the rest; sum, when set, is its cached envelope summary and raw is
// not read.
type candidate struct {
	seq      uint32
	msg      mailstore.Message
	raw      []byte
	body     io.ReaderAt
	sum      *envelope.Summary
	fields   []rawmsg.Field
	splitHdr bool
}

func (c *candidate) match(cr *imap.SearchCriteria) bool {
	for _, s := range cr.SeqNum {
		if !s.Contains(c.seq) {
			return false
		}
	}
	for _, s := range cr.UID {
		if !s.Contains(imap.UID(c.msg.UID)) {
			return false
		}
	}
	if !inDateRange(c.msg.InternalDate, cr.Since, cr.Before) {
		return false
	}
	for _, f := range cr.Flag {
		if !mailstore.HasFlag(c.msg.Flags, string(f)) {
			return false
		}
	}
	for _, f := range cr.NotFlag {
		if mailstore.HasFlag(c.msg.Flags, string(f)) {
			return false
		}
	}
	if cr.Larger > 0 && c.msg.Size <= cr.Larger {
		return false
	}
	if cr.Smaller > 0 && c.msg.Size >= cr.Smaller {
		return false
	}
	return c.matchContent(cr) && c.matchLogic(cr)
}

func (c *candidate) matchLogic(cr *imap.SearchCriteria) bool {
	for i := range cr.Not {
		if c.match(&cr.Not[i]) {
			return false
		}
	}
	for i := range cr.Or {
		if !c.match(&cr.Or[i][0]) && !c.match(&cr.Or[i][1]) {
			return false
		}
	}
	return true
}

func (c *candidate) matchContent(cr *imap.SearchCriteria) bool {
	if !cr.SentSince.IsZero() || !cr.SentBefore.IsZero() {
		// RFC 9051 section 6.4.4: SENTBEFORE/SENTSINCE use the Date header.
		sent, ok := c.sentDate()
		if !ok || !inDateRange(sent, cr.SentSince, cr.SentBefore) {
			return false
		}
	}
	for _, h := range cr.Header {
		if c.sum != nil && strings.EqualFold(h.Key, "Subject") {
			if !valuesContain(c.sum.Subjects, h.Value) {
				return false
			}
		} else if !fieldsContain(c.hdr(), h.Key, h.Value) {
			return false
		}
	}
	for _, s := range cr.Body {
		if !bodyContains(c.reader(), s, false) {
			return false
		}
	}
	for _, s := range cr.Text {
		if !bodyContains(c.reader(), s, true) {
			return false
		}
	}
	return true
}

// sentDate reads the Date field, from the cache when there is one.
func (c *candidate) sentDate() (time.Time, bool) {
	if c.sum != nil {
		return c.sum.Envelope.Date, !c.sum.Envelope.Date.IsZero()
	}
	return parseDate(firstValue(c.hdr(), "Date"))
}

// reader returns the whole message as a stream.
func (c *candidate) reader() io.Reader {
	if c.body == nil {
		return bytes.NewReader(c.raw)
	}
	return io.MultiReader(bytes.NewReader(c.raw), io.NewSectionReader(c.body, 0,
		c.msg.Size-int64(len(c.raw))))
}

// hdr returns the header fields, read the way the rest of agentmail reads
// them (rawmsg.ScanHeader): past malformed lines, never refusing.
func (c *candidate) hdr() []rawmsg.Field {
	if !c.splitHdr {
		c.fields, _ = rawmsg.ScanHeader(c.raw)
		c.splitHdr = true
	}
	return c.fields
}

// inDateRange compares dates only, ignoring time and zone (RFC 9051
// section 6.4.4: SINCE, BEFORE, SENTSINCE, SENTBEFORE).
func inDateRange(t, since, before time.Time) bool {
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !since.IsZero() && day.Before(since) {
		return false
	}
	return before.IsZero() || day.Before(before)
}

// headerContains reports whether a field contains s, without regard to
// case; an empty s matches any field that is present.
func headerContains(fields gomessage.HeaderFields, s string) bool {
	s = strings.ToLower(s)
	for fields.Next() {
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		if strings.Contains(strings.ToLower(v), s) {
			return true
		}
	}
	return false
}

// bodyContains searches the decoded text parts of a message, and its
// header fields when withHeader (TEXT). A message go-message cannot parse
// is searched as raw bytes. The message is read as a stream, a part at most
// searchBodyMax bytes of it.
func bodyContains(msg io.Reader, s string, withHeader bool) bool {
	needle := strings.ToLower(s)
	br := bufio.NewReader(msg)
	head := &recorder{}
	e := guard(func() *gomessage.Entity {
		e, err := gomessage.Read(io.TeeReader(br, head))
		if err != nil && !gomessage.IsUnknownCharset(err) && !gomessage.IsUnknownEncoding(err) {
			return nil
		}
		return e
	})
	if e == nil {
		return readerContains(io.MultiReader(&head.buf, br), needle, -1)
	}
	head.stop()
	found := false
	_ = guard(func() error {
		return e.Walk(func(_ []int, part *gomessage.Entity, err error) error {
			if err != nil || found {
				return nil
			}
			if withHeader && headerContains(part.Header.Fields(), needle) {
				found = true
				return nil
			}
			if part.MultipartReader() != nil {
				return nil
			}
			typ, _, _ := part.Header.ContentType()
			if typ != "" && !strings.HasPrefix(typ, "text/") && !strings.HasPrefix(typ, "message/") {
				return nil
			}
			found = readerContains(part.Body, needle, searchBodyMax)
			return nil
		})
	})
	return found
}

// valuesContain reports whether any header value contains s, decoded and
// without regard to case; an empty s matches any value.
func valuesContain(values []string, s string) bool {
	s = strings.ToLower(s)
	for _, v := range values {
		if strings.Contains(strings.ToLower(fieldText(v)), s) {
			return true
		}
	}
	return false
}

// searchWindow is how much of a stream readerContains holds at a time.
const searchWindow = 64 << 10

// windowPool keeps readerContains from allocating a window per message part.
var windowPool = sync.Pool{New: func() any { return new([]byte) }}

// readerContains reports whether the first limit bytes of r (all of it
// when limit < 0) contain the lower-case needle, without regard to case,
// holding at most searchWindow plus the needle's length at a time.
func readerContains(r io.Reader, needle string, limit int64) bool {
	if limit >= 0 {
		r = io.LimitReader(r, limit)
	}
	if needle == "" {
		return true
	}
	keep := len(needle) - 1
	bp := windowPool.Get().(*[]byte)
	defer windowPool.Put(bp)
	if cap(*bp) < searchWindow+keep {
		*bp = make([]byte, 0, searchWindow+keep)
	}
	buf := (*bp)[:0]
	for {
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if bytes.Contains(bytes.ToLower(buf), []byte(needle)) {
			return true
		}
		if err != nil {
			return false
		}
		tail := max(len(buf)-keep, 0)
		buf = append(buf[:0], buf[tail:]...)
	}
}

// recorder keeps what the parser read until stop, so that a message it
// refuses can be searched from its first byte.
type recorder struct {
	buf     bytes.Buffer
	stopped bool
}

func (r *recorder) Write(p []byte) (int, error) {
	if !r.stopped {
		r.buf.Write(p)
	}
	return len(p), nil
}

func (r *recorder) stop() { r.stopped, r.buf = true, bytes.Buffer{} }
