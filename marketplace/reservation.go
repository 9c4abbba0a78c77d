package marketplace

import (
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

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

// Reservations lists request records, oldest first, at most reservationsMax.
func (m *Market) Reservations(f ReservationFilter) ([]Request, error) {
	now := m.ledger.Now()
	var out []Request
	err := m.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRequests).Cursor()
		for k, _ := c.First(); k != nil && len(out) < reservationsMax; k, _ = c.Next() {
			r, _, err := getRequestTx(tx, k)
			if err != nil {
				return err
			}
			if f.Agent != "" && r.Buyer != f.Agent && r.Seller != f.Agent {
				continue
			}
			r.Status = r.statusAt(now)
			if f.OpenOnly && r.Status != StatusOpen {
				continue
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
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
		r, ok, err = getRequestTx(tx.Tx, []byte(reservationID))
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
		return putRequestTx(tx.Tx, r)
	})
	return r, err
}
