package marketplace

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/billing"
	"agentmail/internal/store"
)

var (
	bucketRequests = []byte("mp_requests") // buyer / request id → free Request
	// bucketByAgent indexes each agent's requests for its usage rows, except
	// a buyer's paid ones: their reservation is already in the buyer's
	// ledger history, which the rows are also read from (usagelist.go).
	bucketByAgent = []byte("mp_by_agent") // agent SP created ns SP request key → nil
	bucketQuota   = []byte("mp_quota")    // buyer SP seller SP YYYY-MM → count
)

// Request states. An open request whose expiry has passed reads as expired
// even before the sweeper has returned its money.
const (
	StatusOpen     = "open"
	StatusSettled  = "settled"
	StatusDeclined = "declined"
	StatusExpired  = "expired"
)

// Request is the marketplace's record of one paid request.
type Request struct {
	ID       string         `json:"marketplace_request_id"`
	Buyer    string         `json:"buyer"`
	Seller   string         `json:"seller"`
	Currency string         `json:"currency"`
	Reserved billing.Amount `json:"reserved"`
	Free     bool           `json:"free"`
	HoldID   string         `json:"hold_id,omitempty"`
	Status   string         `json:"status"`
	Usage    *Usage         `json:"usage,omitempty"`
	Charged  billing.Amount `json:"charged"`
	Fee      billing.Amount `json:"fee,omitempty"`
	Released billing.Amount `json:"released"`
	Capped   bool           `json:"capped,omitempty"`
	Note     string         `json:"note,omitempty"`
	Created  time.Time      `json:"created"`
	Expires  time.Time      `json:"expires"`
	Resolved time.Time      `json:"resolved,omitzero"`
	Pricing  Pricing        `json:"pricing"`

	// pricingJSON is Pricing as stored, when it was read from storage, so
	// that writing the record back need not encode it again; pricingRef
	// names its snapshot (see snapshotPricingTx), once there is one.
	pricingJSON json.RawMessage
	pricingRef  []byte
}

// requestMemo is a paid request's record as its hold's memo keeps it: only
// what the hold does not already say. The hold gives the buyer (its payer),
// the seller (its payee), the currency, the amount reserved and the times
// the reservation was made and expires. The pricing the request was
// reserved under is named by its snapshot's reference. Memos written before
// store format 4 hold the whole Request with its pricing; both read the same
// way.
type requestMemo struct {
	ID       string          `json:"marketplace_request_id"`
	Status   string          `json:"status"`
	Usage    *Usage          `json:"usage,omitempty"`
	Charged  billing.Amount  `json:"charged,omitzero"`
	Fee      billing.Amount  `json:"fee,omitzero"`
	Released billing.Amount  `json:"released,omitzero"`
	Capped   bool            `json:"capped,omitempty"`
	Note     string          `json:"note,omitempty"`
	Resolved time.Time       `json:"resolved,omitzero"`
	Pricing  json.RawMessage `json:"pricing,omitempty"` // before format 4
	// PricingRef names the pricing's snapshot in bucketPricingSnapshots.
	PricingRef []byte `json:"pricing_ref,omitempty"`
}

func (r Request) memo(tx *bolt.Tx) (json.RawMessage, error) {
	ref := r.pricingRef
	if ref == nil {
		pricing := r.pricingJSON
		if pricing == nil {
			var err error
			if pricing, err = json.Marshal(r.Pricing); err != nil {
				return nil, err
			}
		}
		var err error
		if ref, err = snapshotPricingTx(tx, pricing); err != nil {
			return nil, err
		}
	}
	return json.Marshal(requestMemo{ID: r.ID, Status: r.Status, Usage: r.Usage,
		Charged: r.Charged, Fee: r.Fee, Released: r.Released, Capped: r.Capped,
		Note: r.Note, Resolved: r.Resolved, PricingRef: ref})
}

// bucketPricingSnapshots keeps, once, every pricing a paid request was
// reserved under, by reference: the first 16 bytes of the SHA-256 of its
// JSON. Requests to a seller share the snapshot of its pricing, so their
// records stay small: a hold with its memo takes a third of the page space
// it took with the pricing inside.
var bucketPricingSnapshots = []byte("mp_pricing_snapshots")

// snapshotPricingTx stores a pricing's JSON unless it is stored already and
// returns its reference.
func snapshotPricingTx(tx *bolt.Tx, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	ref := sum[:16]
	b := tx.Bucket(bucketPricingSnapshots)
	switch v := b.Get(ref); {
	case v == nil:
		return ref, b.Put(ref, bytes.Clone(data))
	case !bytes.Equal(v, data):
		return nil, fmt.Errorf("pricing snapshot %x holds another pricing", ref)
	}
	return ref, nil
}

// requestFromHold reads the request a hold's memo records; ok is false for
// a hold without one.
func requestFromHold(tx *bolt.Tx, h billing.Hold) (r Request, ok bool, err error) {
	if len(h.Memo) == 0 {
		return r, false, nil
	}
	var rec struct {
		Request
		PricingJSON json.RawMessage `json:"pricing"` // shadows Request.Pricing
		PricingRef  []byte          `json:"pricing_ref"`
	}
	if err := json.Unmarshal(h.Memo, &rec); err != nil {
		return r, false, fmt.Errorf("request %s: %w", h.ID, err)
	}
	r = rec.Request
	r.Buyer, r.Seller, r.Currency, r.Reserved, r.HoldID = h.Payer, h.Payee, h.Currency,
		h.Amount, h.ID
	if r.Created.IsZero() { // a whole record, from before format 4, keeps its own
		r.Created, r.Expires = h.Created, h.Expires
	}
	if rec.PricingRef != nil {
		rec.PricingJSON = bytes.Clone(tx.Bucket(bucketPricingSnapshots).Get(rec.PricingRef))
		if rec.PricingJSON == nil {
			return r, false, fmt.Errorf("request %s: pricing snapshot %x missing", h.ID,
				rec.PricingRef)
		}
	}
	if r.Pricing, err = decodedPricing.get(r.Seller, rec.PricingJSON, false); err != nil {
		return r, false, fmt.Errorf("request %s: pricing: %w", h.ID, err)
	}
	r.pricingJSON, r.pricingRef = rec.PricingJSON, rec.PricingRef
	return r, true, nil
}

// requestKey is a request's key and, as text, its reservation id:
// "buyer@domain/request-id". Addresses never contain '/', so the first one
// splits the two.
func requestKey(buyer, id string) []byte { return []byte(buyer + "/" + id) }

// statusAt is the request's state as of now.
func (r Request) statusAt(now time.Time) string {
	if r.Status == StatusOpen && !now.Before(r.Expires) {
		return StatusExpired
	}
	return r.Status
}

// getRequestTx reads a request record: a paid request's is the memo of its
// hold, which has the same key; a free request's is in bucketRequests.
func (m *Market) getRequestTx(tx *bolt.Tx, key []byte) (r Request, ok bool, err error) {
	data := tx.Bucket(bucketRequests).Get(key)
	if data == nil {
		h, held, err := m.ledger.GetHoldTx(tx, string(key))
		if err != nil || !held {
			return r, false, err
		}
		return requestFromHold(tx, h)
	}
	return r, true, json.Unmarshal(data, &r)
}

// putRequestTx writes a request record where getRequestTx reads it. Keeping
// a paid request in its hold saves the commit a leaf page per request.
func (m *Market) putRequestTx(tx *bolt.Tx, r Request) error {
	if r.HoldID != "" {
		memo, err := r.memo(tx)
		if err != nil {
			return err
		}
		return m.ledger.SetMemoTx(tx, r.HoldID, memo)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketRequests).Put(requestKey(r.Buyer, r.ID), data)
}

// requestTx reserves and delivers a paid request. Every refusal is decided
// before anything is written.
func (m *Market) requestTx(tx *store.Tx, buyer, seller string, in marketplaceData,
	msg delivery, res *Result) (*Refusal, error) {
	now := m.ledger.Now()
	key := requestKey(buyer, in.requestID)
	prev, seen, err := m.getRequestTx(tx.Tx, key)
	if err != nil {
		return nil, err
	}
	if seen {
		if prev.Seller == seller && prev.statusAt(now) == StatusOpen {
			*res = Result{Kind: KindRequest, RequestID: in.requestID, Repeat: true,
				Currency: prev.Currency, Reserved: prev.Reserved, Free: prev.Free}
			return nil, nil
		}
		return refusePolicy("request id %s already used (%s, to %s)", in.requestID,
			prev.statusAt(now), prev.Seller), nil
	}

	p, pricingJSON, err := pricingTx(tx.Tx, seller)
	if errors.Is(err, ErrNoPricing) {
		return refusePolicy("%s is not a seller: it has published no pricing", seller), nil
	}
	if err != nil {
		return nil, err
	}
	if !p.IsEnabled() {
		return refusePolicy("%s has disabled its pricing and takes no paid requests", seller), nil
	}
	amount := p.Floor()
	if p.Model != PerRequest && p.MaxCharge != nil {
		amount = *p.MaxCharge
	}
	if in.maxCharge != nil {
		if *in.maxCharge < p.Floor() {
			return refusePolicy("%s %s %s is below the seller's minimum %s %s",
				HeaderMaxCharge, in.maxCharge, p.Currency, p.Floor(), p.Currency), nil
		}
		amount = min(amount, *in.maxCharge)
	}

	quotaKey := []byte(fmt.Sprintf("%s %s %s", buyer, seller, now.Format("2006-01")))
	used := readCount(tx.Tx.Bucket(bucketQuota).Get(quotaKey))
	free := p.FreeQuota > 0 && used < uint64(p.FreeQuota)
	if free {
		amount = 0
	}
	if avail := billing.AvailableTx(tx.Tx, buyer, p.Currency); avail < amount {
		return refusePolicy("insufficient funds: request needs %s %s, available %s %s",
			amount, p.Currency, avail, p.Currency), nil
	}

	// Checks are done; from here on, everything is written.
	r := Request{ID: in.requestID, Buyer: buyer, Seller: seller, Currency: p.Currency,
		Reserved: amount, Free: free, Status: StatusOpen, Created: now,
		Expires: now.Add(m.cfg.ReservationTTL), Pricing: p, pricingJSON: pricingJSON}
	if amount > 0 {
		// The record goes in as the hold's memo, written with the hold.
		r.HoldID = string(key)
		memo, err := r.memo(tx.Tx)
		if err != nil {
			return nil, err
		}
		_, err = m.ledger.HoldTx(tx, billing.HoldSpec{ID: r.HoldID, Payer: buyer,
			Payee: seller, Currency: p.Currency, Amount: amount, TTL: m.cfg.ReservationTTL,
			At: now, Memo: memo})
		if err != nil {
			return nil, err
		}
	} else if err := m.putRequestTx(tx.Tx, r); err != nil {
		return nil, err
	}
	if free {
		if err := tx.Bucket(bucketQuota).Put(quotaKey, writeCount(used+1)); err != nil {
			return nil, err
		}
	}
	if err := m.indexRequestTx(tx.Tx, r); err != nil {
		return nil, err
	}
	stamp := stampValue("amount", amount.String(), "currency", r.Currency,
		"expires", r.Expires.Truncate(time.Second).Format(time.RFC3339), "buyer", buyer,
		"request_id", r.ID)
	if free {
		stamp += "; free=true"
	}
	*res = Result{Kind: KindRequest, RequestID: r.ID, Currency: r.Currency,
		Reserved: amount, Free: free}
	return nil, m.deliverTx(tx, buyer, []string{seller}, msg.withStamp(HeaderReservation, stamp))
}

// responseTx settles a request from its seller's usage report and delivers
// the response to the buyer.
func (m *Market) responseTx(tx *store.Tx, seller, buyer string, in marketplaceData,
	msg delivery, res *Result) (*Refusal, error) {
	now := m.ledger.Now()
	r, ok, err := m.getRequestTx(tx.Tx, requestKey(buyer, in.requestID))
	if err != nil {
		return nil, err
	}
	if !ok || r.Seller != seller {
		return refusePolicy("no open reservation for request id %s from %s to %s",
			in.requestID, buyer, seller), nil
	}
	switch r.statusAt(now) {
	case StatusExpired:
		return refusePolicy("the reservation for request id %s expired at %s",
			r.ID, r.Expires.Format(time.RFC3339)), nil
	case StatusVoided:
		return refusePolicy("the reservation for request id %s was voided: %s", r.ID, r.Note), nil
	case StatusSettled, StatusDeclined:
		if r.Usage != nil && r.Usage.canonical() == in.usage.canonical() {
			*res = Result{Kind: KindResponse, RequestID: r.ID, Repeat: true,
				Currency: r.Currency, Reserved: r.Reserved, Charged: r.Charged,
				Released: r.Released, Free: r.Free}
			return nil, nil
		}
		return refusePolicy("request id %s is already settled with a different usage", r.ID), nil
	}
	if err := in.usage.checkFor(r.Pricing); err != nil {
		return refuseData("%v", err), nil
	}

	charge := Charge{}
	if !r.Free {
		charge = ComputeCharge(r.Pricing, *in.usage, r.Reserved)
	}
	fee := PlatformFee(charge.Amount, m.cfg.PlatformFeeMicroPercent)
	if r.HoldID != "" {
		if _, err := m.ledger.SettleTx(tx, r.HoldID, charge.Amount, fee); err != nil {
			return nil, err
		}
	}
	r.Fee = fee
	r.Status = StatusSettled
	if in.usage.Declined {
		r.Status = StatusDeclined
	}
	r.Usage, r.Charged, r.Released, r.Capped = in.usage, charge.Amount, r.Reserved-charge.Amount,
		charge.Capped
	r.Resolved = now
	if err := m.putRequestTx(tx.Tx, r); err != nil {
		return nil, err
	}
	stamp := stampValue("charged", r.Charged.String(), "released", r.Released.String(),
		"currency", r.Currency, "seller", seller, "request_id", r.ID)
	if m.cfg.PlatformFeeMicroPercent > 0 {
		stamp += "; fee=" + r.Fee.String()
	}
	if r.Status == StatusDeclined {
		stamp += "; declined=true"
	}
	if r.Capped {
		stamp += "; capped=true"
	}
	*res = Result{Kind: KindResponse, RequestID: r.ID, Currency: r.Currency,
		Reserved: r.Reserved, Charged: r.Charged, Fee: r.Fee, Released: r.Released,
		Free: r.Free}
	return nil, m.deliverTx(tx, seller, []string{buyer}, msg.withStamp(HeaderSettlement, stamp))
}

func (m *Market) indexRequestTx(tx *bolt.Tx, r Request) error {
	agents := []string{r.Buyer, r.Seller}
	if r.HoldID != "" {
		agents = agents[1:] // the buyer's history has the reservation
	}
	for _, agent := range agents {
		k := binary.BigEndian.AppendUint64([]byte(agent+" "), uint64(r.Created.UnixNano()))
		k = append(append(k, ' '), requestKey(r.Buyer, r.ID)...)
		if err := putIndexKeyTx(tx, k); err != nil {
			return err
		}
	}
	return nil
}

func readCount(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func writeCount(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// ExpireDue returns the money of every reservation past its expiry, oldest
// first, and marks their requests expired. It returns how many it expired.
func (m *Market) ExpireDue() (int, error) {
	if at, ok := m.ledger.NextExpiry(); !ok || at.After(m.ledger.Now()) {
		return 0, nil
	}
	var n int
	err := m.db.Update(func(tx *store.Tx) error {
		holds, err := m.ledger.ExpireDueTx(tx, expireBatchMax)
		if err != nil {
			return err
		}
		n = len(holds)
		for _, h := range holds {
			r, ok, err := m.getRequestTx(tx.Tx, []byte(h.ID))
			if err != nil || !ok {
				return fmt.Errorf("expire %s: request record missing: %v", h.ID, err)
			}
			r.Status, r.Released, r.Resolved = StatusExpired, h.Amount, h.Resolved
			if err := m.putRequestTx(tx.Tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// expireBatchMax bounds how many reservations one commit expires.
const expireBatchMax = 1000

// RunExpiry expires due reservations, and moves the request index keys
// that wait in bucketIndexPending and the ledger's newest history to their
// indexes, every interval until stop is closed.
func (m *Market) RunExpiry(interval time.Duration, stop <-chan struct{}, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if _, err := m.ledger.IndexHistory(); err != nil {
				onErr(fmt.Errorf("index ledger history: %w", err))
			}
			if _, err := m.ledger.IndexHolds(); err != nil {
				onErr(fmt.Errorf("index reservations by id: %w", err))
			}
			drain(m.FlushIndex, indexFlushMax, func(err error) {
				onErr(fmt.Errorf("move request index keys: %w", err))
			})
			drain(m.ExpireDue, expireBatchMax, onErr)
		}
	}
}

// drain calls step, which does at most max things a commit, until it does
// fewer or fails.
func drain(step func() (int, error), max int, onErr func(error)) {
	for {
		n, err := step()
		if err != nil {
			onErr(err)
		}
		if err != nil || n < max {
			return
		}
	}
}
