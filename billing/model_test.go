package billing_test

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"pgregory.net/rapid"

	"agentmail/billing"
	"agentmail/internal/store"
)

// The reference model: plain maps that say what the ledger must answer and
// hold after every operation. It knows nothing of journals or bbolt.

var (
	modelAgents     = []string{"a0@localhost", "a1@localhost", "a2@localhost"}
	modelCurrencies = []string{"USD", "EUR"}
	modelRefs       = []string{"ref-a", "ref-b", "ref-c"}
)

type walletKey struct{ agent, currency string }

type modelHold struct {
	id, payer, payee, currency string
	amount                     billing.Amount
	expires                    time.Time
	status                     billing.HoldStatus
	charged, fee               billing.Amount
}

// modelRef is what an idempotency reference was first used for.
type modelRef struct {
	kind, agent, currency string
	amount                billing.Amount
	seq                   uint64
}

type ledgerModel struct {
	available map[walletKey]billing.Amount
	reserved  map[walletKey]billing.Amount
	platform  map[string]billing.Amount
	holds     map[string]*modelHold
	holdOrder []string // ids in creation order, for drawing existing ones
	refs      map[string]modelRef
}

func newLedgerModel() *ledgerModel {
	return &ledgerModel{available: map[walletKey]billing.Amount{},
		reserved: map[walletKey]billing.Amount{}, platform: map[string]billing.Amount{},
		holds: map[string]*modelHold{}, refs: map[string]modelRef{}}
}

// money is all the money of a currency inside the system: the negative of
// the world account.
func (m *ledgerModel) money(currency string) billing.Amount {
	sum := m.platform[currency]
	for k, v := range m.available {
		if k.currency == currency {
			sum += v
		}
	}
	for k, v := range m.reserved {
		if k.currency == currency {
			sum += v
		}
	}
	return sum
}

// outcome is how an operation must end.
type outcome int

const (
	outcomeOK outcome = iota
	outcomeFunds
	outcomeHoldExists
	outcomeNoHold
	outcomeResolved
	outcomeRefConflict
	outcomeOverflow
	outcomeInvalid // refused for bad input, with no sentinel
)

var outcomeNames = []string{"ok", "insufficient funds", "hold exists", "no hold",
	"hold resolved", "ref conflict", "overflow", "invalid input"}

func (o outcome) String() string { return outcomeNames[o] }

// wantOutcome fails unless err is the refusal the model predicts.
func wantOutcome(t *rapid.T, op string, err error, want outcome) {
	t.Helper()
	var got outcome
	switch {
	case err == nil:
		got = outcomeOK
	case errors.Is(err, billing.ErrInsufficientFunds):
		got = outcomeFunds
	case errors.Is(err, billing.ErrHoldExists):
		got = outcomeHoldExists
	case errors.Is(err, billing.ErrNoHold):
		got = outcomeNoHold
	case errors.Is(err, billing.ErrHoldResolved):
		got = outcomeResolved
	case errors.Is(err, billing.ErrRefConflict):
		got = outcomeRefConflict
	case errors.Is(err, billing.ErrOverflow):
		got = outcomeOverflow
	default:
		got = outcomeInvalid
	}
	if got != want {
		t.Fatalf("%s: got %s (%v), model says %s", op, got, err, want)
	}
}

// wantFunds checks the numbers an insufficient-funds refusal reports.
func wantFunds(t *rapid.T, op string, err error, need, avail billing.Amount, cur string) {
	t.Helper()
	var fe *billing.FundsError
	if !errors.As(err, &fe) {
		t.Fatalf("%s: %v is not a *FundsError", op, err)
	}
	if fe.Need != need || fe.Available != avail || fe.Currency != cur {
		t.Fatalf("%s: FundsError %+v, model says need %s available %s %s", op, fe, need,
			avail, cur)
	}
}

// ledgerMachine drives a real ledger and the model side by side.
type ledgerMachine struct {
	l     *billing.Ledger
	clk   *testClock
	m     *ledgerModel
	holdN int
}

func (s *ledgerMachine) now() time.Time { return s.l.Now() }

func (s *ledgerMachine) update(fn func(tx *store.Tx) error) error {
	return s.l.DB().Update(fn)
}

// drawAmount is usually small, so that wallets run dry and refusals happen,
// and now and then near AmountMax, so that the overflow guards are reached.
func drawAmount(t *rapid.T, label string) billing.Amount {
	switch rapid.IntRange(0, 9).Draw(t, label+" kind") {
	case 0:
		return billing.AmountMax - billing.Amount(rapid.Int64Range(0, 2).Draw(t, label))
	case 1:
		return billing.Amount(rapid.Int64Range(-1, 0).Draw(t, label))
	}
	return billing.Amount(rapid.Int64Range(1, 3_000_000).Draw(t, label))
}

func (s *ledgerMachine) transfer(t *rapid.T, kind string) {
	agent := rapid.SampledFrom(modelAgents).Draw(t, "agent")
	cur := rapid.SampledFrom(modelCurrencies).Draw(t, "currency")
	amount := drawAmount(t, "amount")
	ref := ""
	if rapid.Bool().Draw(t, "with ref") {
		ref = rapid.SampledFrom(modelRefs).Draw(t, "ref")
	}
	tr := billing.Transfer{Agent: agent, Currency: cur, Amount: amount, Ref: ref, Note: "model"}
	var e billing.Entry
	err := s.update(func(tx *store.Tx) (err error) {
		if kind == billing.KindCredit {
			e, err = s.l.CreditTx(tx, tr)
		} else {
			e, err = s.l.DebitTx(tx, tr)
		}
		return err
	})
	op := fmt.Sprintf("%s %s %s %s ref %q", kind, agent, amount, cur, ref)

	m := s.m
	key := walletKey{agent, cur}
	if amount <= 0 {
		wantOutcome(t, op, err, outcomeInvalid)
		return
	}
	if prev, ok := m.refs[ref]; ok && ref != "" {
		same := prev.kind == kind && prev.agent == agent && prev.currency == cur &&
			prev.amount == amount
		if !same {
			wantOutcome(t, op, err, outcomeRefConflict)
			return
		}
		wantOutcome(t, op, err, outcomeOK)
		if e.Seq != prev.seq {
			t.Fatalf("%s: repeat answered entry %d, want the first %d", op, e.Seq, prev.seq)
		}
		return
	}
	switch {
	case kind == billing.KindDebit && m.available[key] < amount:
		wantOutcome(t, op, err, outcomeFunds)
		wantFunds(t, op, err, amount, m.available[key], cur)
		return
	case kind == billing.KindCredit &&
		(m.available[key]+amount > billing.AmountMax || m.money(cur)+amount > billing.AmountMax):
		wantOutcome(t, op, err, outcomeOverflow)
		return
	}
	wantOutcome(t, op, err, outcomeOK)
	if kind == billing.KindCredit {
		m.available[key] += amount
	} else {
		m.available[key] -= amount
	}
	if ref != "" {
		m.refs[ref] = modelRef{kind, agent, cur, amount, e.Seq}
	}
}

func (s *ledgerMachine) Credit(t *rapid.T) { s.transfer(t, billing.KindCredit) }

func (s *ledgerMachine) Debit(t *rapid.T) { s.transfer(t, billing.KindDebit) }

func (s *ledgerMachine) Transfer(t *rapid.T) {
	from := rapid.SampledFrom(modelAgents).Draw(t, "from")
	to := rapid.SampledFrom(modelAgents).Draw(t, "to")
	cur := rapid.SampledFrom(modelCurrencies).Draw(t, "currency")
	amount := drawAmount(t, "amount")
	err := s.update(func(tx *store.Tx) error {
		_, err := s.l.TransferTx(tx, from, to, billing.Transfer{Currency: cur, Amount: amount})
		return err
	})
	op := fmt.Sprintf("transfer %s → %s %s %s", from, to, amount, cur)
	src, dst := walletKey{from, cur}, walletKey{to, cur}
	switch {
	case from == to || amount <= 0:
		wantOutcome(t, op, err, outcomeInvalid)
	case s.m.available[src] < amount:
		wantOutcome(t, op, err, outcomeFunds)
		wantFunds(t, op, err, amount, s.m.available[src], cur)
	default:
		wantOutcome(t, op, err, outcomeOK)
		s.m.available[src] -= amount
		s.m.available[dst] += amount
	}
}

// drawHoldID is a fresh id, or now and then one already used.
func (s *ledgerMachine) drawHoldID(t *rapid.T, fresh bool) string {
	if len(s.m.holdOrder) > 0 && !fresh {
		return rapid.SampledFrom(s.m.holdOrder).Draw(t, "hold id")
	}
	s.holdN++
	return fmt.Sprintf("h%d", s.holdN)
}

func (s *ledgerMachine) Reserve(t *rapid.T) {
	id := s.drawHoldID(t, rapid.IntRange(0, 9).Draw(t, "reuse") > 0)
	payer := rapid.SampledFrom(modelAgents).Draw(t, "payer")
	payee := rapid.SampledFrom(modelAgents).Draw(t, "payee") // may be the payer
	cur := rapid.SampledFrom(modelCurrencies).Draw(t, "currency")
	amount := billing.Amount(rapid.Int64Range(0, 2_000_000).Draw(t, "amount"))
	ttl := time.Duration(rapid.Int64Range(1, int64(time.Hour)).Draw(t, "ttl"))
	spec := billing.HoldSpec{ID: id, Payer: payer, Payee: payee, Currency: cur,
		Amount: amount, TTL: ttl}
	var h billing.Hold
	now := s.now()
	err := s.update(func(tx *store.Tx) (err error) {
		h, err = s.l.HoldTx(tx, spec)
		return err
	})
	op := fmt.Sprintf("reserve %s %s %s %s → %s ttl %s", id, amount, cur, payer, payee, ttl)
	key := walletKey{payer, cur}
	switch {
	case amount <= 0:
		wantOutcome(t, op, err, outcomeInvalid)
		return
	case s.m.holds[id] != nil:
		wantOutcome(t, op, err, outcomeHoldExists)
		return
	case s.m.available[key] < amount:
		wantOutcome(t, op, err, outcomeFunds)
		wantFunds(t, op, err, amount, s.m.available[key], cur)
		return
	}
	wantOutcome(t, op, err, outcomeOK)
	mh := &modelHold{id: id, payer: payer, payee: payee, currency: cur, amount: amount,
		expires: now.Add(ttl), status: billing.HoldOpen}
	if h.ID != id || h.Amount != amount || h.Status != billing.HoldOpen ||
		!h.Expires.Equal(mh.expires) {
		t.Fatalf("%s: answered %+v, model expires %v", op, h, mh.expires)
	}
	s.m.holds[id] = mh
	s.m.holdOrder = append(s.m.holdOrder, id)
	s.m.available[key] -= amount
	s.m.reserved[key] += amount
}

// resolve settles (charge > 0), declines (charge 0) or voids a hold in the
// model, or says why it cannot.
func (s *ledgerMachine) resolveModel(id string) (*modelHold, outcome) {
	h := s.m.holds[id]
	switch {
	case h == nil:
		return nil, outcomeNoHold
	case h.status != billing.HoldOpen:
		return h, outcomeResolved
	}
	return h, outcomeOK
}

// pickHold is usually an open hold, sometimes any hold, now and then none.
func (s *ledgerMachine) pickHold(t *rapid.T) string {
	var open []string
	for _, id := range s.m.holdOrder {
		if s.m.holds[id].status == billing.HoldOpen {
			open = append(open, id)
		}
	}
	switch n := rapid.IntRange(0, 19).Draw(t, "pick"); {
	case n == 0 || len(s.m.holdOrder) == 0:
		return "no-such-hold"
	case n < 4 || len(open) == 0:
		return rapid.SampledFrom(s.m.holdOrder).Draw(t, "hold id")
	}
	return rapid.SampledFrom(open).Draw(t, "open hold id")
}

func (s *ledgerMachine) settle(t *rapid.T, decline bool) {
	id := s.pickHold(t)
	var amount billing.Amount
	if h := s.m.holds[id]; h != nil {
		amount = h.amount
	}
	// charge ≤ hold and fee ≤ charge, or now and then one past the bound.
	charge := billing.Amount(rapid.Int64Range(0, int64(amount)+1).Draw(t, "charge"))
	fee := billing.Amount(rapid.Int64Range(0, int64(charge)+1).Draw(t, "fee"))
	if decline {
		charge, fee = 0, 0
	}
	var got billing.Hold
	err := s.update(func(tx *store.Tx) (err error) {
		got, err = s.l.SettleTx(tx, id, charge, fee)
		return err
	})
	op := fmt.Sprintf("settle %s charge %s fee %s", id, charge, fee)
	h, want := s.resolveModel(id)
	if want == outcomeOK && (charge > h.amount || fee > charge) {
		want = outcomeInvalid
	}
	wantOutcome(t, op, err, want)
	if want != outcomeOK {
		return
	}
	h.status, h.charged, h.fee = billing.HoldSettled, charge, fee
	if got.Status != billing.HoldSettled || got.Charged != charge || got.Fee != fee ||
		got.Released != h.amount-charge {
		t.Fatalf("%s: answered %+v", op, got)
	}
	s.m.reserved[walletKey{h.payer, h.currency}] -= h.amount
	s.m.available[walletKey{h.payer, h.currency}] += h.amount - charge
	s.m.available[walletKey{h.payee, h.currency}] += charge - fee
	s.m.platform[h.currency] += fee
}

func (s *ledgerMachine) Settle(t *rapid.T) { s.settle(t, false) }

func (s *ledgerMachine) Decline(t *rapid.T) { s.settle(t, true) }

func (s *ledgerMachine) Void(t *rapid.T) {
	id := s.pickHold(t)
	err := s.update(func(tx *store.Tx) error {
		_, err := s.l.VoidTx(tx, id, "operator says so")
		return err
	})
	h, want := s.resolveModel(id)
	wantOutcome(t, "void "+id, err, want)
	if want == outcomeOK {
		s.returnHold(h, billing.HoldVoided)
	}
}

func (s *ledgerMachine) returnHold(h *modelHold, status billing.HoldStatus) {
	h.status = status
	s.m.reserved[walletKey{h.payer, h.currency}] -= h.amount
	s.m.available[walletKey{h.payer, h.currency}] += h.amount
}

// Clock moves the ledger clock by a random step, sometimes exactly onto the
// next expiry or a nanosecond short of it, then sweeps.
func (s *ledgerMachine) Clock(t *rapid.T) {
	next, ok := s.l.NextExpiry()
	switch mode := rapid.IntRange(0, 3).Draw(t, "clock mode"); {
	case mode == 0 && ok && next.After(s.clk.Now()):
		s.clk.Advance(next.Sub(s.clk.Now()))
	case mode == 1 && ok && next.After(s.clk.Now()):
		s.clk.Advance(next.Sub(s.clk.Now()) - 1)
	default:
		s.clk.Advance(time.Duration(rapid.Int64Range(0, int64(40*time.Minute)).Draw(t, "step")))
	}
	s.Expire(t)
}

// Expire sweeps due holds, at most a random few per commit, and checks they
// are the model's due holds, oldest first.
func (s *ledgerMachine) Expire(t *rapid.T) {
	limit := rapid.IntRange(1, 4).Draw(t, "limit")
	now := s.now()
	var got []billing.Hold
	err := s.update(func(tx *store.Tx) (err error) {
		got, err = s.l.ExpireDueTx(tx, limit)
		return err
	})
	if err != nil {
		t.Fatalf("expire at %v: %v", now, err)
	}
	var due []*modelHold
	for _, h := range s.m.holds {
		if h.status == billing.HoldOpen && !h.expires.After(now) {
			due = append(due, h)
		}
	}
	slices.SortFunc(due, func(a, b *modelHold) int {
		if c := a.expires.Compare(b.expires); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	due = due[:min(limit, len(due))]
	var gotIDs, wantIDs []string
	for _, h := range got {
		gotIDs = append(gotIDs, h.ID)
	}
	for _, h := range due {
		wantIDs = append(wantIDs, h.id)
		s.returnHold(h, billing.HoldExpired)
	}
	if !slices.Equal(gotIDs, wantIDs) {
		t.Fatalf("expire at %v (limit %d): expired %v, model says %v", now, limit, gotIDs,
			wantIDs)
	}
}

// Check compares every balance, every hold and the totals with the model and
// runs Verify.
// IndexHistory moves the journal's newest entries into the history index:
// every agent's history, read page by page, must be the same before and
// after, newest first without repeats.
func (s *ledgerMachine) IndexHistory(t *rapid.T) {
	pageLen := rapid.IntRange(1, 4).Draw(t, "page length")
	histories := func() map[string][]uint64 {
		out := map[string][]uint64{}
		for _, a := range modelAgents {
			var seqs []uint64
			for before := uint64(0); ; {
				es, next, err := s.l.History(a, billing.HistoryFilter{}, before, pageLen)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range es {
					if len(seqs) > 0 && e.Seq >= seqs[len(seqs)-1] {
						t.Fatalf("%s history: entry %d after %d", a, e.Seq, seqs[len(seqs)-1])
					}
					seqs = append(seqs, e.Seq)
				}
				if next == 0 {
					break
				}
				before = next
			}
			out[a] = seqs
		}
		return out
	}
	before := histories()
	if _, err := s.l.IndexHistory(); err != nil {
		t.Fatal(err)
	}
	if after := histories(); !reflect.DeepEqual(before, after) {
		t.Fatalf("histories changed by indexing:\n before %v\n after  %v", before, after)
	}
}

// IndexHolds moves the newest holds into the id index: every hold, listed
// in id order, must be the same before and after, and found by its id (which
// Check asserts).
func (s *ledgerMachine) IndexHolds(t *rapid.T) {
	list := func() []billing.Hold {
		var out []billing.Hold
		err := s.l.DB().View(func(tx *bolt.Tx) error {
			return billing.EachHoldTx(tx, func(h billing.Hold) (bool, error) {
				out = append(out, h)
				return true, nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := list()
	if len(before) != len(s.m.holds) {
		t.Fatalf("%d holds listed, model has %d", len(before), len(s.m.holds))
	}
	if !slices.IsSortedFunc(before, func(a, b billing.Hold) int { return strings.Compare(a.ID, b.ID) }) {
		t.Fatalf("holds not in id order: %v", before)
	}
	if _, err := s.l.IndexHolds(); err != nil {
		t.Fatal(err)
	}
	if after := list(); !reflect.DeepEqual(before, after) {
		t.Fatalf("holds changed by indexing:\n before %v\n after  %v", before, after)
	}
}

func (s *ledgerMachine) Check(t *rapid.T) {
	for _, a := range modelAgents {
		bs, err := s.l.Balances(a)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]billing.Balance{}
		for _, b := range bs {
			got[b.Currency] = b
		}
		for _, cur := range modelCurrencies {
			k := walletKey{a, cur}
			if got[cur].Available != s.m.available[k] || got[cur].Reserved != s.m.reserved[k] {
				t.Fatalf("%s %s: available %s reserved %s, model %s and %s", a, cur,
					got[cur].Available, got[cur].Reserved, s.m.available[k], s.m.reserved[k])
			}
		}
	}
	totals, err := s.l.Totals()
	if err != nil {
		t.Fatal(err)
	}
	for _, tot := range totals {
		if tot.Platform != s.m.platform[tot.Currency] ||
			tot.World != -billing.Delta(s.m.money(tot.Currency)) {
			t.Fatalf("totals %+v, model platform %s money %s", tot,
				s.m.platform[tot.Currency], s.m.money(tot.Currency))
		}
	}
	_ = s.l.DB().View(func(tx *bolt.Tx) error {
		for id, mh := range s.m.holds {
			h, ok, err := s.l.GetHoldTx(tx, id)
			if err != nil || !ok || h.Status != mh.status || h.Amount != mh.amount {
				t.Fatalf("hold %s: %+v %v %v, model %+v", id, h, ok, err, *mh)
			}
			if mh.status == billing.HoldSettled && (h.Charged != mh.charged || h.Fee != mh.fee) {
				t.Fatalf("hold %s: charged %s fee %s, model %s and %s", id, h.Charged, h.Fee,
					mh.charged, mh.fee)
			}
		}
		return nil
	})
	breaches, err := s.l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if len(breaches) > 0 {
		t.Fatalf("Verify: %v", breaches)
	}
}

// TestLedgerModel runs random sequences of ledger operations and clock steps
// against the reference model. -rapid.checks and -rapid.steps make it
// longer; the default keeps the suite fast.
func TestLedgerModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		dir, err := os.MkdirTemp("", "ledger-model")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		db, err := store.Open(dir, store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		clk := newTestClock()
		// Start off the microsecond grid so truncation by Ledger.Now matters.
		clk.Advance(time.Duration(rapid.Int64Range(0, 999).Draw(t, "start ns")))
		l, err := billing.Open(db, clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		s := &ledgerMachine{l: l, clk: clk, m: newLedgerModel()}
		for _, a := range modelAgents { // wallets start with some money
			for _, cur := range modelCurrencies {
				amount := billing.Amount(rapid.Int64Range(0, 5_000_000).Draw(t, "seed"))
				if amount == 0 {
					continue
				}
				tr := billing.Transfer{Agent: a, Currency: cur, Amount: amount}
				if _, err := l.Credit(tr); err != nil {
					t.Fatal(err)
				}
				s.m.available[walletKey{a, cur}] = amount
			}
		}
		t.Repeat(rapid.StateMachineActions(s))
	})
}
