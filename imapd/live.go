package imapd

import (
	"container/list"
	"fmt"
	"slices"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"agentmail/mailstore"
)

// keywordsMax bounds the keywords announced in FLAGS, as mailstore bounds
// those it remembers.
const keywordsMax = 256

type mailboxKey struct{ agent, mailbox string }

// A mailbox no session has selected any more keeps its live state, kept
// current like any other, until liveIdleMax others were left after it, so
// that the next SELECT, often by the same agent, need not read every UID
// again. liveIdleUIDsMax bounds the memory those idle states hold.
const (
	liveIdleMax     = 64
	liveIdleUIDsMax = 1 << 20
)

// liveMailbox is the in-memory state of a mailbox that at least one session
// has selected, or did lately: its UIDs in ascending order, whose positions are the
// server's sequence numbers, and the tracker that queues changes for each
// session. The Observer methods keep it current; they run in the database
// writer, so everything done under mu is quick and touches no storage.
type liveMailbox struct {
	key  mailboxKey
	refs int           // guarded by Server.liveMu
	idle *list.Element // in Server.idle while refs is 0; guarded by Server.liveMu

	mu          sync.Mutex
	loaded      bool
	uidValidity uint32
	uidLast     uint32 // highest UID ever assigned, loaded or announced
	uids        []uint32
	tracker     *imapserver.MailboxTracker
	keywords    []string                // announced in FLAGS, at most keywordsMax
	watchers    map[*selection]struct{} // every selection of this mailbox
	gone        chan struct{}           // closed once the mailbox is deleted or renamed
}

// acquire returns the live state of a mailbox, loading it on first use. The
// caller must release it.
func (s *Server) acquire(agent, mailbox string) (*liveMailbox, error) {
	key := mailboxKey{agent, mailbox}
	s.liveMu.Lock()
	lm := s.live[key]
	if lm == nil {
		lm = &liveMailbox{key: key, gone: make(chan struct{})}
		s.live[key] = lm
	}
	if lm.idle != nil {
		s.idle.Remove(lm.idle)
		lm.idle = nil
	}
	lm.refs++
	s.liveMu.Unlock()

	lm.mu.Lock()
	err := s.loadLocked(lm)
	lm.mu.Unlock()
	if err != nil {
		s.release(lm)
		return nil, err
	}
	return lm, nil
}

// loadLocked reads the mailbox's UIDs once, with lm.mu held. Loading under
// mu closes the race with commits: an announcement made before the load
// waits for mu and is then ignored when the snapshot already holds it; one
// made after is applied on top.
func (s *Server) loadLocked(lm *liveMailbox) error {
	if lm.loaded {
		return nil
	}
	info, uids, err := s.ms.Snapshot(lm.key.agent, lm.key.mailbox)
	if err != nil {
		return fmt.Errorf("load %s: %w", lm.key.mailbox, err)
	}
	lm.uids = uids
	lm.keywords = slices.Clone(info.Keywords)
	lm.uidValidity = info.UIDValidity
	lm.uidLast = info.UIDNext - 1
	lm.tracker = imapserver.NewMailboxTracker(uint32(len(uids)))
	lm.watchers = make(map[*selection]struct{})
	lm.loaded = true
	return nil
}

// release drops a reference. The state outlives its last user among the
// idle ones, the oldest of which are forgotten.
func (s *Server) release(lm *liveMailbox) {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	lm.refs--
	if lm.refs > 0 || s.live[lm.key] != lm {
		return
	}
	lm.mu.Lock()
	loaded := lm.loaded
	lm.mu.Unlock()
	if !loaded { // a load that failed: nothing worth keeping
		delete(s.live, lm.key)
		return
	}
	lm.idle = s.idle.PushFront(lm)
	// Newest first: the ones past either bound are forgotten.
	n, uids := 0, 0
	for e := s.idle.Front(); e != nil; {
		idle := e.Value.(*liveMailbox)
		e = e.Next()
		idle.mu.Lock()
		uids += len(idle.uids)
		idle.mu.Unlock()
		if n++; n > liveIdleMax || uids > liveIdleUIDsMax {
			s.forgetIdleLocked(idle)
		}
	}
}

// forgetIdleLocked drops the state of an idle mailbox, with liveMu held.
func (s *Server) forgetIdleLocked(lm *liveMailbox) {
	s.idle.Remove(lm.idle)
	lm.idle = nil
	if s.live[lm.key] == lm {
		delete(s.live, lm.key)
	}
}

// lookup returns the live state of a mailbox, or nil when none is selected.
func (s *Server) lookup(agent, mailbox string) *liveMailbox {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	return s.live[mailboxKey{agent, mailbox}]
}

// Appended implements mailstore.Observer.
func (s *Server) Appended(agent, mailbox string, uid uint32) {
	lm := s.lookup(agent, mailbox)
	if lm == nil {
		return
	}
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if !lm.loaded || uid <= lm.uidLast {
		return
	}
	lm.uidLast = uid
	lm.uids = append(lm.uids, uid)
	// One EXISTS per message: SessionTracker.EncodeSeqNum only handles
	// increments of one.
	// TODO: a COPY or delivery of n messages sends n EXISTS; and a new
	// keyword arriving with APPEND or COPY reaches other sessions' FLAGS
	// only at the next SELECT or STORE, as the observer is not told flags.
	lm.tracker.QueueNumMessages(uint32(len(lm.uids)))
	lm.queuedLocked(nil, 1, 0)
}

// queuedLocked records that n updates, expunges of them EXPUNGEs, were
// queued for every selection but source, and wakes the idle ones. The
// library's own SessionTracker.Idle misses updates queued before it
// starts waiting, so sessions idle on their own wake channel and poll
// after every wake.
func (lm *liveMailbox) queuedLocked(source *imapserver.SessionTracker, n, expunges int) {
	for sel := range lm.watchers {
		if source != nil && sel.tracker == source {
			continue
		}
		sel.pending += n
		sel.expunges += expunges
		select {
		case sel.wake <- struct{}{}:
		default:
		}
	}
}

// Expunged implements mailstore.Observer.
func (s *Server) Expunged(agent, mailbox string, uids []uint32) {
	lm := s.lookup(agent, mailbox)
	if lm == nil {
		return
	}
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if !lm.loaded {
		return
	}
	// The positions are found first and the slice compacted once, so a
	// large EXPUNGE costs one pass, not one shift per message. Each
	// EXPUNGE carries the sequence number as of the ones before it
	// (RFC 9051 section 7.5.1).
	gone := make([]int, 0, len(uids))
	for _, uid := range uids {
		if i, found := slices.BinarySearch(lm.uids, uid); found {
			gone = append(gone, i)
		}
	}
	if len(gone) == 0 {
		return
	}
	slices.Sort(gone)
	gone = slices.Compact(gone)
	for k, i := range gone {
		lm.tracker.QueueExpunge(uint32(i - k + 1))
	}
	lm.uids = removePositions(lm.uids, gone)
	lm.queuedLocked(nil, len(gone), len(gone))
}

// removePositions removes the elements at the given ascending positions,
// in place.
func removePositions(uids []uint32, positions []int) []uint32 {
	out := uids[:positions[0]]
	for k, i := range positions {
		end := len(uids)
		if k+1 < len(positions) {
			end = positions[k+1]
		}
		out = append(out, uids[i+1:end]...)
	}
	return out
}

// FlagsChanged implements mailstore.Observer.
func (s *Server) FlagsChanged(agent, mailbox string, uid uint32, flags []string) {
	s.FlagsChangedBy(agent, mailbox, uid, flags, nil)
}

// FlagsChangedBy implements mailstore.OriginObserver: the session whose
// tracker is origin answers its own STORE and is not told again.
func (s *Server) FlagsChangedBy(agent, mailbox string, uid uint32, flags []string, origin any) {
	lm := s.lookup(agent, mailbox)
	if lm == nil {
		return
	}
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if !lm.loaded {
		return
	}
	i, found := slices.BinarySearch(lm.uids, uid)
	if !found {
		return
	}
	source, _ := origin.(*imapserver.SessionTracker)
	if lm.addKeywordsLocked(flags) {
		// A new keyword is announced with FLAGS before the FETCH that
		// carries it, to every session (RFC 9051 section 7.3.5).
		lm.tracker.QueueMailboxFlags(mailboxFlags(lm.keywords))
		lm.queuedLocked(nil, 1, 0)
	}
	lm.tracker.QueueMessageFlags(uint32(i+1), imap.UID(uid), imapFlags(flags), source)
	lm.queuedLocked(source, 1, 0)
}

// addKeywordsLocked adds the keywords among flags to those announced and
// reports whether any was new.
func (lm *liveMailbox) addKeywordsLocked(flags []string) bool {
	added := false
	for _, f := range flags {
		if mailstore.IsKeyword(f) && !mailstore.HasFlag(lm.keywords, f) &&
			len(lm.keywords) < keywordsMax {
			lm.keywords = append(lm.keywords, f)
			added = true
		}
	}
	return added
}

// MailboxGone implements mailstore.Observer. Sessions that have the mailbox
// selected are disconnected at their next command or while idle.
func (s *Server) MailboxGone(agent, mailbox string) {
	s.liveMu.Lock()
	lm := s.live[mailboxKey{agent, mailbox}]
	delete(s.live, mailboxKey{agent, mailbox})
	if lm != nil && lm.idle != nil {
		s.idle.Remove(lm.idle)
		lm.idle = nil
	}
	s.liveMu.Unlock()
	if lm == nil {
		return
	}
	lm.mu.Lock()
	defer lm.mu.Unlock()
	select {
	case <-lm.gone:
	default:
		close(lm.gone)
	}
}

func imapFlags(flags []string) []imap.Flag {
	out := make([]imap.Flag, len(flags))
	for i, f := range flags {
		out[i] = imap.Flag(f)
	}
	return out
}
