package imapd

import (
	"errors"
	"slices"
	"sort"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"agentmail/mailstore"
)

// systemFlags are the flags every mailbox offers (RFC 9051 section 2.3.2).
var systemFlags = []imap.Flag{
	imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft,
}

// Select implements imapserver.Session (SELECT and EXAMINE). Its cost does
// not grow with the mailbox: the counts, keywords and first unseen message
// come from the mailbox's indexes, and the UIDs from the live state.
func (sess *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	sess.unselect()
	name, err := mailboxName(name)
	if err != nil {
		return nil, err
	}
	lm, err := sess.srv.acquire(sess.agent, name)
	if err != nil {
		return nil, sess.storeError("select", err)
	}

	lm.mu.Lock()
	// Read under mu, like the load: no announcement slips in between.
	info, unseenUID, err := sess.srv.ms.Summary(sess.agent, name)
	if lm.addKeywordsLocked(info.Keywords) {
		// Keywords first set by APPEND or COPY reach the others' FLAGS here.
		lm.tracker.QueueMailboxFlags(mailboxFlags(lm.keywords))
		lm.queuedLocked(nil, 1, 0)
	}
	if err != nil {
		lm.mu.Unlock()
		sess.srv.release(lm)
		return nil, sess.storeError("select", err)
	}
	sel := &selection{name: name, lm: lm, tracker: lm.tracker.NewSession(),
		readOnly: options.ReadOnly, wake: make(chan struct{}, 1)}
	lm.watchers[sel] = struct{}{}
	data := &imap.SelectData{
		NumMessages: uint32(len(lm.uids)),
		UIDNext:     imap.UID(lm.uidLast + 1),
		UIDValidity: lm.uidValidity,
		Flags:       mailboxFlags(info.Keywords),
	}
	if unseenUID != 0 {
		i, _ := slices.BinarySearch(lm.uids, unseenUID)
		if i < len(lm.uids) {
			data.FirstUnseenSeqNum = uint32(i + 1)
		}
	}
	lm.mu.Unlock()
	sess.setSelected(sel)

	data.PermanentFlags = append(slices.Clone(data.Flags), imap.FlagWildcard)
	if options.ReadOnly {
		// RFC 9051 section 6.3.3: no flag can be changed in EXAMINE.
		data.PermanentFlags = []imap.Flag{}
	}
	return data, nil
}

// mailboxFlags are the flags of the FLAGS response: the system flags and
// the keywords in use.
func mailboxFlags(keywords []string) []imap.Flag {
	flags := slices.Clone(systemFlags)
	for _, k := range keywords {
		flags = append(flags, imap.Flag(k))
	}
	return flags
}

// msgRef is a message the client named: its sequence number in the
// client's view and its UID.
type msgRef struct {
	seq uint32
	uid uint32
}

// resolve turns a sequence or UID set from the client into messages, in
// ascending order. Messages the client has not yet been told of (no
// sequence number in its view) and those already expunged are left out
// (RFC 9051 section 7.5.2 lets the server omit them). It costs the number
// of messages named, plus a binary search: while the session has no
// updates queued its view is the live one and numbers map directly.
//
// TODO: UID FETCH/STORE of a message delivered after the session's last
// poll skips it until the next command announces it with EXISTS; sending
// EXISTS first would need the update writer inside the command.
func (sel *selection) resolve(numSet imap.NumSet) []msgRef {
	if imap.IsSearchRes(numSet) {
		numSet = sel.searchRes
	}
	sel.lm.mu.Lock()
	defer sel.lm.mu.Unlock()

	v := sel.viewLocked()
	var out []msgRef
	switch set := numSet.(type) {
	case imap.SeqSet:
		for _, r := range staticSeqSet(set, v.lastSeq) {
			for c := r.Start; c <= min(r.Stop, v.lastSeq) && c != 0; c++ {
				if s := v.decode(c); s != 0 && int(s) <= v.known {
					out = append(out, msgRef{seq: c, uid: v.uids[s-1]})
				}
			}
		}
	case imap.UIDSet:
		var lastUID uint32
		if v.known > 0 {
			lastUID = v.uids[v.known-1]
		}
		known := v.uids[:v.known]
		for _, r := range staticUIDSet(set, lastUID) {
			i, _ := slices.BinarySearch(known, uint32(r.Start))
			for ; i < len(known) && known[i] <= uint32(r.Stop); i++ {
				if c := v.encode(uint32(i + 1)); c != 0 {
					out = append(out, msgRef{seq: c, uid: known[i]})
				}
			}
		}
	}
	if multiRange(numSet) {
		slices.SortFunc(out, func(a, b msgRef) int { return int(a.seq) - int(b.seq) })
		out = slices.CompactFunc(out, func(a, b msgRef) bool { return a.seq == b.seq })
	}
	return out
}

// view is how a session's sequence numbers map onto the live UIDs.
type view struct {
	uids           []uint32
	known          int    // live messages the session has been told of: a prefix
	lastSeq        uint32 // the session's highest sequence number among them
	encode, decode func(uint32) uint32
}

func identity(n uint32) uint32 { return n }

// viewLocked describes the session's view; lm.mu must be held. Messages
// the session does not know of yet are always the newest, so they form a
// suffix of the live UIDs and a binary search finds where they start.
func (sel *selection) viewLocked() view {
	uids := sel.lm.uids
	if sel.pending == 0 {
		n := uint32(len(uids))
		return view{uids: uids, known: len(uids), lastSeq: n, encode: identity,
			decode: identity}
	}
	v := view{uids: uids, encode: sel.tracker.EncodeSeqNum, decode: sel.tracker.DecodeSeqNum}
	v.known = sort.Search(len(uids), func(i int) bool { return v.encode(uint32(i+1)) == 0 })
	if v.known > 0 {
		v.lastSeq = v.encode(uint32(v.known))
	}
	return v
}

// multiRange reports whether a set has several ranges, which may overlap
// or come in any order.
func multiRange(set imap.NumSet) bool {
	switch s := set.(type) {
	case imap.SeqSet:
		return len(s) > 1
	case imap.UIDSet:
		return len(s) > 1
	}
	return false
}

// staticSeqSet replaces "*" with the largest number (RFC 9051 section 9,
// seq-number).
func staticSeqSet(set imap.SeqSet, last uint32) imap.SeqSet {
	out := slices.Clone(set)
	for i := range out {
		out[i].Start, out[i].Stop = staticRange(out[i].Start, out[i].Stop, last)
	}
	return out
}

func staticUIDSet(set imap.UIDSet, last uint32) imap.UIDSet {
	out := slices.Clone(set)
	for i := range out {
		start, stop := staticRange(uint32(out[i].Start), uint32(out[i].Stop), last)
		out[i].Start, out[i].Stop = imap.UID(start), imap.UID(stop)
	}
	return out
}

func staticRange(start, stop, last uint32) (uint32, uint32) {
	if start == 0 {
		start = last
	}
	if stop == 0 {
		stop = last
	}
	if start > stop {
		start, stop = stop, start
	}
	return start, stop
}

func refUIDs(refs []msgRef) []uint32 {
	uids := make([]uint32, len(refs))
	for i, r := range refs {
		uids[i] = r.uid
	}
	return uids
}

// Expunge implements imapserver.Session (EXPUNGE, UID EXPUNGE, CLOSE). The
// EXPUNGE responses reach this session like any other through its tracker,
// which the library polls after the command.
func (sess *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	if sess.sel.readOnly {
		if *w == (imapserver.ExpungeWriter{}) {
			return nil // CLOSE of an EXAMINEd mailbox removes nothing
		}
		return errReadOnly
	}
	var only []uint32
	if uids != nil {
		only = refUIDs(sess.sel.resolve(*uids))
		if len(only) == 0 {
			return nil
		}
	}
	if _, err := sess.srv.ms.Expunge(sess.agent, sess.sel.name, only); err != nil {
		return sess.storeError("expunge", err)
	}
	return nil
}

// Store implements imapserver.Session. This session's own FETCH responses
// are written here; the others learn of the change through the tracker.
func (sess *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet,
	flags *imap.StoreFlags, _ *imap.StoreOptions) error {
	if sess.sel.readOnly {
		return errReadOnly
	}
	refs := sess.sel.resolve(numSet)
	if len(refs) == 0 {
		return nil
	}
	op := map[imap.StoreFlagsOp]mailstore.FlagOp{
		imap.StoreFlagsAdd: mailstore.FlagsAdd,
		imap.StoreFlagsDel: mailstore.FlagsRemove,
		imap.StoreFlagsSet: mailstore.FlagsReplace,
	}[flags.Op]
	msgs, err := sess.srv.ms.StoreFlags(sess.agent, sess.sel.name, refUIDs(refs), op,
		storableFlags(flags.Flags), sess.sel.tracker)
	if err != nil {
		return sess.storeError("store", err)
	}
	if flags.Silent {
		return nil
	}
	_, byUID := numSet.(imap.UIDSet)
	seqOf := make(map[uint32]uint32, len(refs))
	for _, r := range refs {
		seqOf[r.uid] = r.seq
	}
	for _, m := range msgs {
		rw := w.CreateMessage(seqOf[m.UID])
		if byUID {
			rw.WriteUID(imap.UID(m.UID))
		}
		rw.WriteFlags(imapFlags(m.Flags))
		if err := rw.Close(); err != nil {
			return err
		}
	}
	return nil
}

// storableFlags canonicalizes system flags' case and drops \Recent, which
// clients cannot set (RFC 3501 section 2.3.2) and IMAP4rev2 removed.
func storableFlags(flags []imap.Flag) []string {
	var out []string
	for _, f := range flags {
		s := string(f)
		if mailstore.HasFlag([]string{`\Recent`}, s) {
			continue
		}
		for _, sf := range systemFlags {
			if mailstore.HasFlag([]string{string(sf)}, s) {
				s = string(sf)
			}
		}
		if !mailstore.HasFlag(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Copy implements imapserver.Session, answering with COPYUID (RFC 4315
// section 3).
func (sess *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	res, err := sess.copy(numSet, dest, false)
	if err != nil {
		return nil, err
	}
	return copyData(res), nil
}

// Move implements imapserver.SessionMove (RFC 6851): COPYUID first, then
// the EXPUNGE responses, which come through the tracker when the library
// polls after the command.
func (sess *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	if sess.sel.readOnly {
		return errReadOnly
	}
	res, err := sess.copy(numSet, dest, true)
	if err != nil {
		return err
	}
	return w.WriteCopyData(copyData(res))
}

func (sess *session) copy(numSet imap.NumSet, dest string,
	move bool) (mailstore.CopyResult, error) {
	dest, err := mailboxName(dest)
	if err != nil {
		return mailstore.CopyResult{}, err
	}
	if move && dest == sess.sel.name {
		return mailstore.CopyResult{}, &imap.Error{Type: imap.StatusResponseTypeNo,
			Code: imap.ResponseCodeCannot, Text: "Source and destination are the same mailbox"}
	}
	if _, err := sess.srv.ms.Mailbox(sess.agent, dest); errors.Is(err, mailstore.ErrNoMailbox) {
		// RFC 9051 section 6.4.7: TRYCREATE when the target is missing.
		return mailstore.CopyResult{}, &imap.Error{Type: imap.StatusResponseTypeNo,
			Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	}
	uids := refUIDs(sess.sel.resolve(numSet))
	res, err := sess.srv.ms.Copy(sess.agent, sess.sel.name, uids, dest, move)
	if err != nil {
		return res, sess.storeError("copy", err)
	}
	return res, nil
}

// copyData is nil when nothing was copied: COPYUID cannot carry empty sets.
func copyData(res mailstore.CopyResult) *imap.CopyData {
	if len(res.SourceUIDs) == 0 {
		return nil
	}
	data := &imap.CopyData{UIDValidity: res.UIDValidity}
	for i := range res.SourceUIDs {
		data.SourceUIDs.AddNum(imap.UID(res.SourceUIDs[i]))
		data.DestUIDs.AddNum(imap.UID(res.DestUIDs[i]))
	}
	return data
}
