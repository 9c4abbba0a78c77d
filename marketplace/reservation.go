package marketplace

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"agentmail/billing"
	"agentmail/internal/store"
)

// StatusVoided marks a request whose reservation an operator voided.
const StatusVoided = "voided"

// ErrNoReservation is returned for a reservation id that names no request.
var ErrNoReservation = errors.New("no such reservation")

// ReservationID is how operators name a request's reservation:
// "buyer@domain/request-id".
func (r Request) ReservationID() string { return string(requestKey(r.Buyer, r.ID)) }

// ReservationFilter selects requests for an operator.
type ReservationFilter struct {
	OpenOnly bool
	Agent    string // buyer or seller
}

// reservationsMax bounds one listing.
const reservationsMax = 10000

// Reservations lists request records in reservation id order, at most
// reservationsMax: free requests from bucketRequests, paid ones from the
// memos of their holds.
func (m *Market) Reservations(f ReservationFilter) ([]Request, error) {
	now := m.ledger.Now()
	var free, paid []Request
	keep := func(list *[]Request, r Request) bool {
		r.Status = r.statusAt(now)
		if (f.Agent == "" || r.Buyer == f.Agent || r.Seller == f.Agent) &&
			(!f.OpenOnly || r.Status == StatusOpen) {
			*list = append(*list, r)
		}
		return len(*list) < reservationsMax
	}
	err := m.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRequests).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var r Request
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("request %s: %w", k, err)
			}
			if !keep(&free, r) {
				break
			}
		}
		return billing.EachHoldTx(tx, func(h billing.Hold) (bool, error) {
			r, ok, err := requestFromHold(tx, h)
			if err != nil || !ok {
				return err == nil, err
			}
			return keep(&paid, r), nil
		})
	})
	// Both lists are in key order; the first reservationsMax of their union
	// are among the first reservationsMax of each.
	out := append(free, paid...)
	slices.SortFunc(out, func(a, b Request) int {
		return strings.Compare(a.ReservationID(), b.ReservationID())
	})
	return out[:min(len(out), reservationsMax)], err
}

// Void returns all the money of an open reservation to its buyer and marks
// the request voided, with the operator's note. A response for it is then
// refused.
func (m *Market) Void(reservationID, note string) (Request, error) {
	if strings.TrimSpace(note) == "" {
		return Request{}, errors.New("void: a note saying why is required")
	}
	var r Request
	err := m.db.Update(func(tx *store.Tx) error {
		var ok bool
		var err error
		r, ok, err = m.getRequestTx(tx.Tx, []byte(reservationID))
		switch {
		case err != nil:
			return err
		case !ok:
			return fmt.Errorf("void %s: %w", reservationID, ErrNoReservation)
		case r.statusAt(m.ledger.Now()) != StatusOpen:
			return fmt.Errorf("void %s: reservation is %s, not open", reservationID,
				r.statusAt(m.ledger.Now()))
		}
		if r.HoldID != "" {
			h, err := m.ledger.VoidTx(tx, r.HoldID, note)
			if err != nil {
				return err
			}
			r.Resolved = h.Resolved
		} else {
			r.Resolved = m.ledger.Now()
		}
		r.Status, r.Released, r.Note = StatusVoided, r.Reserved, note
		return m.putRequestTx(tx.Tx, r)
	})
	return r, err
}
