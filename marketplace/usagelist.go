package marketplace

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/billing"
)

// Roles an agent plays in a request.
const (
	RoleBuyer  = "buyer"
	RoleSeller = "seller"
)

// UsageRow is one request as one of its parties sees it.
type UsageRow struct {
	RequestID    string         `json:"marketplace_request_id"`
	Role         string         `json:"role"`
	Counterparty string         `json:"counterparty"`
	Status       string         `json:"status"`
	Currency     string         `json:"currency"`
	Reserved     billing.Amount `json:"reserved"`
	Charged      billing.Amount `json:"charged"`
	Fee          billing.Amount `json:"fee"`
	Released     billing.Amount `json:"released"`
	Free         bool           `json:"free"`
	Capped       bool           `json:"capped,omitempty"`
	Usage        *Usage         `json:"usage"`
	Created      time.Time      `json:"created_at"`
	Expires      time.Time      `json:"expires_at"`
	Resolved     *time.Time     `json:"resolved_at"`
}

// UsagePageMax bounds one page of usage rows.
const UsagePageMax = 500

// ErrBadCursor is returned for a cursor this server did not issue.
var ErrBadCursor = errors.New("invalid cursor")

// UsageFilter selects usage rows; zero fields select everything.
type UsageFilter struct {
	Counterparty string
	Status       string
	RequestID    string
	Since, Until time.Time // by creation time
}

func (f UsageFilter) match(row UsageRow) bool {
	switch {
	case f.Counterparty != "" && row.Counterparty != f.Counterparty:
		return false
	case f.Status != "" && row.Status != f.Status:
		return false
	case f.RequestID != "" && row.RequestID != f.RequestID:
		return false
	case !f.Since.IsZero() && row.Created.Before(f.Since):
		return false
	case !f.Until.IsZero() && !row.Created.Before(f.Until):
		return false
	}
	return true
}

// UsageRows lists the requests agent took part in that match f, newest
// first. cursor is empty for the first page or a previous page's next cursor;
// next is empty on the last page.
//
// The rows come from two indexes read side by side: bucketByAgent, for
// requests the agent sold and free ones it bought, and the agent's ledger
// history, whose reservations are the paid requests it bought. Each is in
// the order its requests were made; the merge takes the newer head first.
// A cursor holds the position reached in each.
func (m *Market) UsageRows(agent string, f UsageFilter, cursor string, limit int) (
	rows []UsageRow, next string, err error) {
	if limit <= 0 || limit > UsagePageMax {
		limit = UsagePageMax
	}
	prefix := []byte(agent + " ")
	pos := usageCursor{index: append(bytes.Clone(prefix), 0xff)}
	if cursor != "" {
		if pos, err = parseUsageCursor(cursor, prefix); err != nil {
			return nil, "", err
		}
	}
	now := m.ledger.Now()
	err = m.db.View(func(tx *bolt.Tx) error {
		index := &indexStream{m: m, tx: tx, agent: agent, prefix: prefix, before: pos.index,
			pending: pendingIndexKeysTx(tx, prefix)}
		history := &historyStream{m: m, tx: tx, agent: agent, before: pos.history}
		if history.before == 0 { // the first page: the history as it is now
			history.before = billing.JournalEndTx(tx)
		}
		for {
			a, err := index.head()
			if err != nil {
				return err
			}
			var bound time.Time // the history need not be read past a's time
			if a != nil {
				bound = a.Created
			}
			b, err := history.head(bound)
			if err != nil {
				return err
			}
			var r *Request
			switch {
			case a == nil && b == nil:
				return nil
			case b == nil || (a != nil && a.Created.After(b.Created)):
				r = a
			default:
				r = b
			}
			row := r.rowFor(agent, now)
			if f.match(row) {
				if len(rows) == limit {
					next = usageCursor{index: index.position(), history: history.position()}.String()
					return nil
				}
				rows = append(rows, row)
			}
			if r == a {
				index.consume()
			} else {
				history.consume()
			}
		}
	})
	return rows, next, err
}

// usageCursor is where a page of usage rows ended in each index: the
// bucketByAgent key and the history sequence number below which the next
// page starts.
type usageCursor struct {
	index   []byte
	history uint64
}

// usageCursorVersion starts every cursor. A cursor of the form before store
// format 4, a bucketByAgent key alone, is refused as invalid: a client that
// was paging across the upgrade starts again from the first page.
const usageCursorVersion = 2

func (c usageCursor) String() string {
	b := binary.BigEndian.AppendUint64([]byte{usageCursorVersion}, c.history)
	return base64.RawURLEncoding.EncodeToString(append(b, c.index...))
}

func parseUsageCursor(s string, prefix []byte) (usageCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 9 || b[0] != usageCursorVersion || !bytes.HasPrefix(b[9:], prefix) {
		return usageCursor{}, fmt.Errorf("%w %q", ErrBadCursor, s)
	}
	return usageCursor{history: binary.BigEndian.Uint64(b[1:9]), index: b[9:]}, nil
}

// indexStream reads an agent's index keys, in bucketByAgent and still
// pending, newest first, below before, which consume moves past the head.
type indexStream struct {
	m       *Market
	tx      *bolt.Tx
	agent   string
	prefix  []byte
	before  []byte
	pending [][]byte // the agent's pending keys, sorted
	cur     *Request
	curKey  []byte
	done    bool
}

// below returns the agent's greatest index key below s.before, or nil.
func (s *indexStream) below() []byte {
	c := s.tx.Bucket(bucketByAgent).Cursor()
	k, _ := c.Seek(s.before)
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k != nil && !bytes.HasPrefix(k, s.prefix) {
		k = nil
	}
	i, _ := slices.BinarySearchFunc(s.pending, s.before, bytes.Compare)
	if i > 0 && bytes.Compare(s.pending[i-1], k) > 0 {
		k = s.pending[i-1]
	}
	return k
}

func (s *indexStream) head() (*Request, error) {
	for s.cur == nil && !s.done {
		k := s.below()
		if k == nil {
			s.done = true
			return nil, nil
		}
		r, ok, err := s.m.getRequestTx(s.tx, k[len(s.prefix)+9:])
		if err != nil || !ok {
			return nil, fmt.Errorf("usage index %q: request record missing: %v", k, err)
		}
		s.curKey = bytes.Clone(k)
		if r.HoldID != "" && r.Buyer == s.agent {
			// A paid request the agent bought comes from its history; an
			// index written before that kept a key for it as well.
			s.consume()
			continue
		}
		s.cur = &r
	}
	return s.cur, nil
}

func (s *indexStream) consume() { s.before, s.cur = s.curKey, nil }

// position is where the next page starts, once head has been read: at the
// head, so that a request made after the first page never appears in a
// later one.
func (s *indexStream) position() []byte {
	if s.cur != nil {
		return append(bytes.Clone(s.curKey), 0)
	}
	return s.prefix // exhausted: nothing sorts below it
}

// historyStream reads the paid requests an agent bought from the
// reservations in its ledger history, newest first, below the sequence
// number before, which consume moves past the head.
type historyStream struct {
	m      *Market
	tx     *bolt.Tx
	agent  string
	before uint64
	cur    *Request
	curSeq uint64
	done   bool
}

// head reads on to the next paid request the agent bought, but not past
// entries older than bound: the other index's head is newer than those and
// goes first, so a seller, whose history holds no reservations of its own,
// reads only the entries newer than the rows it is shown. A zero bound
// reads to the end.
func (s *historyStream) head(bound time.Time) (*Request, error) {
	if s.cur != nil || s.done {
		return s.cur, nil
	}
	reachedEnd := true
	err := billing.EachHistoryTx(s.tx, s.agent, s.before, func(e billing.Entry) (bool, error) {
		if e.Time.Before(bound) {
			reachedEnd = false
			return false, nil
		}
		if e.Kind != billing.KindReserve || e.HoldID == "" {
			s.before = e.Seq // passed over for good
			return true, nil
		}
		h, ok, err := s.m.ledger.GetHoldTx(s.tx, e.HoldID)
		if err != nil || !ok {
			return false, fmt.Errorf("reservation %d: hold %s missing: %v", e.Seq, e.HoldID, err)
		}
		r, ok, err := requestFromHold(s.tx, h)
		if err != nil || !ok || r.Buyer != s.agent {
			s.before = e.Seq // a hold of the ledger's own, not a request
			return err == nil, err
		}
		s.cur, s.curSeq = &r, e.Seq
		return false, nil
	})
	s.done = reachedEnd && s.cur == nil
	return s.cur, err
}

func (s *historyStream) consume() { s.before, s.cur = s.curSeq, nil }

// position is as indexStream.position for the history.
func (s *historyStream) position() uint64 {
	switch {
	case s.cur != nil:
		return s.curSeq + 1
	case s.done:
		return 1 // sequence numbers start at 1
	}
	return s.before
}

func (r Request) rowFor(agent string, now time.Time) UsageRow {
	row := UsageRow{RequestID: r.ID, Role: RoleBuyer, Counterparty: r.Seller,
		Status: r.statusAt(now), Currency: r.Currency, Reserved: r.Reserved,
		Charged: r.Charged, Fee: r.Fee, Released: r.Released, Free: r.Free, Capped: r.Capped,
		Usage: r.Usage, Created: r.Created, Expires: r.Expires}
	if agent == r.Seller && agent != r.Buyer {
		row.Role, row.Counterparty = RoleSeller, r.Buyer
	}
	if !r.Resolved.IsZero() {
		t := r.Resolved
		row.Resolved = &t
	}
	if row.Status == StatusExpired && r.Status == StatusOpen {
		row.Released = r.Reserved // the sweeper is about to return it
	}
	return row
}
