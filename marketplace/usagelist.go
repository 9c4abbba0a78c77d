package marketplace

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
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
func (m *Market) UsageRows(agent string, f UsageFilter, cursor string, limit int) (
	rows []UsageRow, next string, err error) {
	if limit <= 0 || limit > UsagePageMax {
		limit = UsagePageMax
	}
	prefix := []byte(agent + " ")
	start := append(bytes.Clone(prefix), 0xff)
	if cursor != "" {
		k, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !bytes.HasPrefix(k, prefix) {
			return nil, "", fmt.Errorf("%w %q", ErrBadCursor, cursor)
		}
		start = k
	}
	now := m.ledger.Now()
	err = m.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketByAgent).Cursor()
		k, _ := c.Seek(start)
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			reqKey := k[len(prefix)+9:]
			r, ok, err := getRequestTx(tx, reqKey)
			if err != nil || !ok {
				return fmt.Errorf("usage index %q: request record missing: %v", k, err)
			}
			row := r.rowFor(agent, now)
			if !f.match(row) {
				continue
			}
			if len(rows) == limit {
				next = base64.RawURLEncoding.EncodeToString(append(bytes.Clone(k), 0))
				return nil
			}
			rows = append(rows, row)
		}
		return nil
	})
	return rows, next, err
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
