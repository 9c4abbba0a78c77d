package marketplace_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"agentmail/billing"
	"agentmail/internal/store"
	"agentmail/marketplace"
)

// The marketplace model: what Submit, Void and ExpireDue must do to one
// buyer's requests to two sellers, as plain Go. A per_request seller with a
// free quota and a token_based seller with a minimum charge; the clock starts
// an hour before a month boundary so that quotas reset mid-sequence.

const modelTTL = time.Hour

var modelIDs = []string{"r1", "r2", "r3", "r4", "r5", "r6"}

type mSeller struct {
	addr, pricing string
	floor, hold   billing.Amount // max(base, minimum); what a request reserves
	freeQuota     int
	tokenBased    bool
}

var modelSellers = []mSeller{
	{addr: seller, pricing: `{"base_price":0.25,"free_quota":2}`, floor: 250_000,
		hold: 250_000, freeQuota: 2},
	{addr: seller2, pricing: `{"pricing_model":"token_based","token_price_input":0.1,` +
		`"token_price_output":2.5,"minimum_charge":0.01,"max_charge":1}`, floor: 10_000,
		hold: 1_000_000, tokenBased: true},
}

type mRequest struct {
	seller        *mSeller
	reserved      billing.Amount
	free, holding bool // holding: money still reserved in the ledger
	status        string
	usage         string
	charged       billing.Amount
	expires       time.Time
}

type marketMachine struct {
	m         *marketplace.Market
	ledger    *billing.Ledger
	clk       *testClock
	available billing.Amount // the buyer's
	proceeds  map[string]billing.Amount
	requests  map[string]*mRequest
	quota     map[string]int // seller SP YYYY-MM → free requests used
}

func (s *marketMachine) now() time.Time { return s.ledger.Now() }

func (r *mRequest) statusAt(now time.Time) string {
	if r.status == marketplace.StatusOpen && !now.Before(r.expires) {
		return marketplace.StatusExpired
	}
	return r.status
}

func (s *marketMachine) reserved() billing.Amount {
	var sum billing.Amount
	for _, r := range s.requests {
		if r.holding {
			sum += r.reserved
		}
	}
	return sum
}

// wantRefused fails unless err is a refusal whose text contains want.
func wantRefused(t *rapid.T, op string, err error, want string) {
	t.Helper()
	var r *marketplace.Refusal
	if !errors.As(err, &r) || !strings.Contains(r.Text, want) {
		t.Fatalf("%s: got %v, model says refused with %q", op, err, want)
	}
}

func (s *marketMachine) Request(t *rapid.T) {
	id := rapid.SampledFrom(modelIDs).Draw(t, "id")
	sel := &modelSellers[rapid.IntRange(0, 1).Draw(t, "seller")]
	var extra []string
	var limit *billing.Amount
	if rapid.IntRange(0, 3).Draw(t, "with cap") == 0 {
		c := billing.Amount(rapid.Int64Range(0, 1_200_000).Draw(t, "cap"))
		limit = &c
		extra = append(extra, marketplace.HeaderMaxCharge+": "+c.String())
	}
	raw := msg(buyer, sel.addr, "please", append([]string{reqID(id)}, extra...)...)
	res, err := s.m.Submit(marketplace.Submission{Sender: buyer,
		Recipients: []string{sel.addr}, Raw: raw})
	op := fmt.Sprintf("request %s to %s cap %v", id, sel.addr, extra)

	now := s.now()
	if prev := s.requests[id]; prev != nil {
		if prev.seller == sel && prev.statusAt(now) == marketplace.StatusOpen {
			if err != nil || !res.Repeat || res.Reserved != prev.reserved ||
				res.Free != prev.free {
				t.Fatalf("%s: %+v %v, model says a retry of %+v", op, res, err, *prev)
			}
			return
		}
		wantRefused(t, op, err, "already used")
		return
	}
	amount := sel.hold
	if limit != nil {
		if *limit < sel.floor {
			wantRefused(t, op, err, "below the seller's minimum")
			return
		}
		amount = min(amount, *limit)
	}
	quotaKey := sel.addr + " " + now.Format("2006-01")
	free := s.quota[quotaKey] < sel.freeQuota
	if free {
		amount = 0
	}
	if s.available < amount {
		wantRefused(t, op, err, fmt.Sprintf("request needs %s USD, available %s USD",
			amount, s.available))
		return
	}
	if err != nil || res.Repeat || res.Reserved != amount || res.Free != free {
		t.Fatalf("%s: %+v %v, model says reserve %s free %v", op, res, err, amount, free)
	}
	if free {
		s.quota[quotaKey]++
	}
	s.available -= amount
	s.requests[id] = &mRequest{seller: sel, reserved: amount, free: free, holding: amount > 0,
		status: marketplace.StatusOpen, expires: now.Add(modelTTL)}
}

// modelCharge is the contract's charge for the two sellers of the model.
func modelCharge(r *mRequest, in, out int64, declined bool) billing.Amount {
	if r.free || declined {
		return 0
	}
	formula := r.seller.floor // per_request: base_price
	if r.seller.tokenBased {
		pico := in*100_000 + out*2_500_000 // micro-units per million tokens, so 10^-12
		formula = max(billing.Amount((pico+500_000)/1_000_000), r.seller.floor)
	}
	return min(formula, r.reserved)
}

func (s *marketMachine) Respond(t *rapid.T) {
	id := rapid.SampledFrom(modelIDs).Draw(t, "id")
	sel := &modelSellers[rapid.IntRange(0, 1).Draw(t, "seller")]
	// Large enough, mostly, that the charge is above minimum_charge and its
	// rounding shows.
	in := rapid.Int64Range(0, 5_000_000).Draw(t, "tokens in")
	out := rapid.Int64Range(0, 600_000).Draw(t, "tokens out")
	if rapid.IntRange(0, 3).Draw(t, "small") > 0 {
		in, out = in+95_000, out+3_995
	}
	declined := rapid.IntRange(0, 4).Draw(t, "declined") == 0
	usage := fmt.Sprintf(`{"tokens_input": %d, "tokens_output": %d}`, in, out)
	if declined {
		usage = `{"declined": true}`
	}
	prev := s.requests[id]
	if prev != nil && prev.usage != "" && rapid.Bool().Draw(t, "same") {
		usage = prev.usage // the same response again
		declined = strings.Contains(usage, "declined")
		fmt.Sscanf(usage, `{"tokens_input": %d, "tokens_output": %d}`, &in, &out)
	}
	raw := msg(sel.addr, buyer, "done", reqID(id), usageHdr(usage))
	res, err := s.m.Submit(marketplace.Submission{Sender: sel.addr,
		Recipients: []string{buyer}, Raw: raw})
	op := fmt.Sprintf("response %s from %s usage %s", id, sel.addr, usage)

	r := s.requests[id]
	switch {
	case r == nil || r.seller != sel:
		wantRefused(t, op, err, "no open reservation")
		return
	case r.statusAt(s.now()) == marketplace.StatusExpired:
		wantRefused(t, op, err, "expired")
		return
	case r.status == marketplace.StatusVoided:
		wantRefused(t, op, err, "voided")
		return
	case r.status != marketplace.StatusOpen && r.usage == usage:
		if err != nil || !res.Repeat || res.Charged != r.charged {
			t.Fatalf("%s: %+v %v, model says a repeat charging %s", op, res, err, r.charged)
		}
		return
	case r.status != marketplace.StatusOpen:
		wantRefused(t, op, err, "different usage")
		return
	}
	charge := modelCharge(r, in, out, declined)
	if err != nil || res.Repeat || res.Charged != charge || res.Released != r.reserved-charge {
		t.Fatalf("%s: %+v %v, model says charge %s of %s", op, res, err, charge, r.reserved)
	}
	r.status, r.usage, r.charged, r.holding = marketplace.StatusSettled, usage, charge, false
	if declined {
		r.status = marketplace.StatusDeclined
	}
	s.available += r.reserved - charge
	s.proceeds[sel.addr] += charge
}

func (s *marketMachine) Void(t *rapid.T) {
	id := rapid.SampledFrom(modelIDs).Draw(t, "id")
	_, err := s.m.Void(buyer+"/"+id, "operator")
	r := s.requests[id]
	switch {
	case r == nil:
		if !errors.Is(err, marketplace.ErrNoReservation) {
			t.Fatalf("void %s: %v, model says no such reservation", id, err)
		}
	case r.statusAt(s.now()) != marketplace.StatusOpen:
		if err == nil {
			t.Fatalf("void %s: accepted, model says it is %s", id, r.statusAt(s.now()))
		}
	default:
		if err != nil {
			t.Fatalf("void %s: %v", id, err)
		}
		if r.holding {
			s.available += r.reserved
		}
		r.status, r.holding = marketplace.StatusVoided, false
	}
}

// Clock moves the ledger clock a random step, or to the last millisecond of
// the month, or to the first instant of the next.
func (s *marketMachine) Clock(t *rapid.T) {
	now := s.clk.Now()
	next := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	switch rapid.IntRange(0, 3).Draw(t, "clock mode") {
	case 0:
		if last := next.Add(-time.Millisecond); last.After(now) {
			s.clk.Advance(last.Sub(now))
		}
	case 1:
		s.clk.Advance(next.Sub(now))
	default:
		s.clk.Advance(time.Duration(rapid.Int64Range(0, int64(50*time.Minute)).Draw(t,
			"step")))
	}
}

func (s *marketMachine) Sweep(t *rapid.T) {
	n, err := s.m.ExpireDue()
	want := 0
	for _, r := range s.requests {
		if r.holding && !s.now().Before(r.expires) {
			want++
			s.available += r.reserved
			r.status, r.holding = marketplace.StatusExpired, false
		}
	}
	if err != nil || n != want {
		t.Fatalf("ExpireDue = %d, %v; model says %d", n, err, want)
	}
}

// FlushIndex moves the pending request index keys to their place; the usage
// rows Check compares with the model must not change for it.
func (s *marketMachine) FlushIndex(t *rapid.T) {
	if _, err := s.m.FlushIndex(); err != nil {
		t.Fatalf("FlushIndex: %v", err)
	}
}

func (s *marketMachine) Check(t *rapid.T) {
	balance := func(agent string) (a, r billing.Amount) {
		bs, err := s.ledger.Balances(agent)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			a, r = b.Available, b.Reserved
		}
		return a, r
	}
	if a, r := balance(buyer); a != s.available || r != s.reserved() {
		t.Fatalf("buyer available %s reserved %s, model %s and %s", a, r, s.available,
			s.reserved())
	}
	for _, sel := range modelSellers {
		if a, _ := balance(sel.addr); a != s.proceeds[sel.addr] {
			t.Fatalf("%s available %s, model %s", sel.addr, a, s.proceeds[sel.addr])
		}
	}
	rows, _, err := s.m.UsageRows(buyer, marketplace.UsageFilter{}, "", 0)
	if err != nil || len(rows) != len(s.requests) {
		t.Fatalf("buyer has %d usage rows (%v), model %d requests", len(rows), err,
			len(s.requests))
	}
	for _, row := range rows {
		r := s.requests[row.RequestID]
		if row.Status != r.statusAt(s.now()) || row.Charged != r.charged ||
			row.Reserved != r.reserved || row.Free != r.free {
			t.Fatalf("usage row %+v, model %+v at %v", row, *r, s.now())
		}
	}
	breaches, err := s.ledger.Verify()
	if err != nil || len(breaches) > 0 {
		t.Fatalf("Verify: %v %v", breaches, err)
	}
}

// openModelMarket is newEnv for a rapid check: its own directory, closed by
// the returned function, and no *testing.T inside.
func openModelMarket(t *rapid.T, clk *testClock) (*marketplace.Market, *billing.Ledger,
	func()) {
	dir, err := os.MkdirTemp("", "market-model")
	if err != nil {
		t.Fatal(err)
	}
	err = os.WriteFile(filepath.Join(dir, store.FileName), templateDB.data, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	done := func() { db.Close(); os.RemoveAll(dir) }
	ledger, _, m := openMarket(t, db, clk, marketplace.Config{ReservationTTL: modelTTL})
	return m, ledger, done
}

// TestMarketModel runs random requests, retries, responses (repeated, with
// other usage, declined), voids, clock steps and expiry sweeps against the
// model and checks balances, usage rows and Verify after every step.
func TestMarketModel(t *testing.T) {
	templateDB.once.Do(func() { templateDB.data, templateDB.err = buildTemplate() })
	if templateDB.err != nil {
		t.Fatal(templateDB.err)
	}
	rapid.Check(t, func(t *rapid.T) {
		clk := &testClock{now: time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC)}
		m, ledger, done := openModelMarket(t, clk)
		defer done()
		wallet := billing.Amount(rapid.Int64Range(0, 4_000_000).Draw(t, "wallet"))
		if rapid.IntRange(0, 3).Draw(t, "poor") > 0 {
			wallet += 1_000_000
		}
		if wallet > 0 {
			_, err := ledger.Credit(billing.Transfer{Agent: buyer, Currency: "USD",
				Amount: wallet})
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, sel := range modelSellers {
			p, err := marketplace.ParsePricing([]byte(sel.pricing))
			if err != nil {
				t.Fatal(err)
			}
			if err := m.SetPricing(sel.addr, p); err != nil {
				t.Fatal(err)
			}
		}
		s := &marketMachine{m: m, ledger: ledger, clk: clk, available: wallet,
			proceeds: map[string]billing.Amount{}, requests: map[string]*mRequest{},
			quota: map[string]int{}}
		t.Repeat(rapid.StateMachineActions(s))
	})
}
