package imapd

import (
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"

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
	if !criteriaNeedRaw(criteria) {
		for _, m := range metas {
			c := candidate{seq: seqOf[m.UID], msg: m}
			matched[m.UID] = c.match(criteria)
		}
	} else {
		byUID := make(map[uint32]mailstore.Message, len(metas))
		for _, m := range metas {
			byUID[m.UID] = m
		}
		// raw is valid only inside the callback, so the match is made there.
		err = sess.srv.ms.ForEachRaw(sess.agent, sess.sel.name, refUIDs(refs),
			func(uid uint32, raw []byte) error {
				if m, ok := byUID[uid]; ok {
					c := candidate{seq: seqOf[uid], msg: m, raw: raw}
					matched[uid] = c.match(criteria)
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	var out []msgRef
	for _, r := range refs {
		if matched[r.uid] {
			out = append(out, r)
		}
	}
	return out, nil
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

func criteriaNeedRaw(c *imap.SearchCriteria) bool {
	if len(c.Header) > 0 || len(c.Body) > 0 || len(c.Text) > 0 ||
		!c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		return true
	}
	for i := range c.Not {
		if criteriaNeedRaw(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		if criteriaNeedRaw(&c.Or[i][0]) || criteriaNeedRaw(&c.Or[i][1]) {
			return true
		}
	}
	return false
}

// candidate is one message being searched; its header is split into
// fields at most once.
type candidate struct {
	seq      uint32
	msg      mailstore.Message
	raw      []byte
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
		sent, ok := parseDate(firstValue(c.hdr(), "Date"))
		if !ok || !inDateRange(sent, cr.SentSince, cr.SentBefore) {
			return false
		}
	}
	for _, h := range cr.Header {
		if !fieldsContain(c.hdr(), h.Key, h.Value) {
			return false
		}
	}
	for _, s := range cr.Body {
		if !bodyContains(c.raw, s, false) {
			return false
		}
	}
	for _, s := range cr.Text {
		if !bodyContains(c.raw, s, true) {
			return false
		}
	}
	return true
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
// is searched as raw bytes.
func bodyContains(raw []byte, s string, withHeader bool) bool {
	needle := strings.ToLower(s)
	e := guard(func() *gomessage.Entity {
		e, err := gomessage.Read(bytes.NewReader(raw))
		if err != nil && !gomessage.IsUnknownCharset(err) && !gomessage.IsUnknownEncoding(err) {
			return nil
		}
		return e
	})
	if e == nil {
		return bytes.Contains(bytes.ToLower(raw), []byte(needle))
	}
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
			body, _ := io.ReadAll(io.LimitReader(part.Body, searchBodyMax))
			found = bytes.Contains(bytes.ToLower(body), []byte(needle))
			return nil
		})
	})
	return found
}
