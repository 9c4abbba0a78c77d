package billing_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"agentmail/billing"
	"agentmail/internal/store"
)

const (
	buyer  = "buyer@localhost"
	seller = "seller@localhost"
)

func TestCreditDebit(t *testing.T) {
	l, _ := newLedger(t)
	credit(t, l, buyer, "10")
	wantBalance(t, l, buyer, "10", "0")

	_, err := l.Debit(billing.Transfer{Agent: buyer, Currency: "USD", Amount: usd(t, "2.5")})
	if err != nil {
		t.Fatal(err)
	}
	wantBalance(t, l, buyer, "7.5", "0")

	_, err = l.Debit(billing.Transfer{Agent: buyer, Currency: "USD", Amount: usd(t, "7.500001")})
	var fe *billing.FundsError
	if !errors.As(err, &fe) || !errors.Is(err, billing.ErrInsufficientFunds) {
		t.Fatalf("overdraw: got %v, want *FundsError", err)
	}
	if fe.Need != usd(t, "7.500001") || fe.Available != usd(t, "7.5") || fe.Currency != "USD" {
		t.Errorf("FundsError = %+v", fe)
	}
	wantBalance(t, l, buyer, "7.5", "0")
	wantVerified(t, l)
}

func TestTransferRefusals(t *testing.T) {
	l, _ := newLedger(t)
	credit(t, l, buyer, "1")
	tests := []struct {
		name string
		do   func() error
	}{
		{"credit zero", func() error {
			_, err := l.Credit(billing.Transfer{Agent: buyer, Currency: "USD"})
			return err
		}},
		{"credit negative", func() error {
			_, err := l.Credit(billing.Transfer{Agent: buyer, Currency: "USD", Amount: -1})
			return err
		}},
		{"credit above AmountMax", func() error {
			_, err := l.Credit(billing.Transfer{Agent: buyer, Currency: "USD",
				Amount: billing.AmountMax + 1})
			return err
		}},
		{"credit pushing wallet past AmountMax", func() error {
			_, err := l.Credit(billing.Transfer{Agent: buyer, Currency: "USD",
				Amount: billing.AmountMax})
			return err
		}},
		{"credit bad currency", func() error {
			_, err := l.Credit(billing.Transfer{Agent: buyer, Currency: "usd", Amount: 1})
			return err
		}},
		{"debit bad currency", func() error {
			_, err := l.Debit(billing.Transfer{Agent: buyer, Currency: "XX", Amount: 1})
			return err
		}},
		{"debit zero", func() error {
			_, err := l.Debit(billing.Transfer{Agent: buyer, Currency: "USD"})
			return err
		}},
		{"debit other currency", func() error {
			_, err := l.Debit(billing.Transfer{Agent: buyer, Currency: "EUR", Amount: 1})
			return err
		}},
	}
	for _, tt := range tests {
		if err := tt.do(); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
		wantBalance(t, l, buyer, "1", "0")
	}
	wantVerified(t, l)
}

func TestCreditIdempotentRef(t *testing.T) {
	l, _ := newLedger(t)
	tr := billing.Transfer{Agent: buyer, Currency: "USD", Amount: usd(t, "5"), Ref: "topup-1"}
	first, err := l.Credit(tr)
	if err != nil {
		t.Fatal(err)
	}
	again, err := l.Credit(tr)
	if err != nil {
		t.Fatalf("repeat credit: %v", err)
	}
	if again.Seq != first.Seq {
		t.Errorf("repeat credit made entry %d, want the first entry %d", again.Seq, first.Seq)
	}
	wantBalance(t, l, buyer, "5", "0")

	conflicts := []billing.Transfer{
		{Agent: buyer, Currency: "USD", Amount: usd(t, "6"), Ref: "topup-1"},
		{Agent: seller, Currency: "USD", Amount: usd(t, "5"), Ref: "topup-1"},
		{Agent: buyer, Currency: "EUR", Amount: usd(t, "5"), Ref: "topup-1"},
	}
	for _, c := range conflicts {
		if _, err := l.Credit(c); !errors.Is(err, billing.ErrRefConflict) {
			t.Errorf("credit %+v: got %v, want ErrRefConflict", c, err)
		}
	}
	// A debit under a credit's reference is different content too.
	_, err = l.Debit(billing.Transfer{Agent: buyer, Currency: "USD", Amount: usd(t, "5"),
		Ref: "topup-1"})
	if !errors.Is(err, billing.ErrRefConflict) {
		t.Errorf("debit with a credit's ref: got %v, want ErrRefConflict", err)
	}
	wantBalance(t, l, buyer, "5", "0")
	wantBalance(t, l, seller, "0", "0")
	hist, _, _ := l.History(buyer, billing.HistoryFilter{}, 0, 100)
	if len(hist) != 1 {
		t.Errorf("history has %d entries, want 1", len(hist))
	}
	wantVerified(t, l)
}

// A retried debit must answer the first entry even when the wallet no longer
// holds the amount: the money already left once.
func TestDebitIdempotentRefAfterSpend(t *testing.T) {
	l, _ := newLedger(t)
	credit(t, l, buyer, "10")
	tr := billing.Transfer{Agent: buyer, Currency: "USD", Amount: usd(t, "8"), Ref: "payout-1"}
	first, err := l.Debit(tr)
	if err != nil {
		t.Fatal(err)
	}
	again, err := l.Debit(tr)
	if err != nil {
		t.Errorf("retrying debit ref %q after it succeeded answers %v; want the first "+
			"entry %d (DebitTx checks funds before the idempotency reference)", tr.Ref, err,
			first.Seq)
	}
	if again.Seq != first.Seq {
		t.Errorf("repeat debit made entry %d, want %d", again.Seq, first.Seq)
	}
	wantBalance(t, l, buyer, "2", "0")
	wantVerified(t, l)
}

func TestHoldSettle(t *testing.T) {
	l, _ := newLedger(t)
	credit(t, l, buyer, "10")

	h, err := hold(l, billing.HoldSpec{ID: "h1", Payer: buyer, Payee: seller, Currency: "USD",
		Amount: usd(t, "1"), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != billing.HoldOpen || h.Amount != usd(t, "1") {
		t.Errorf("hold = %+v", h)
	}
	wantBalance(t, l, buyer, "9", "1")
	wantVerified(t, l)

	h, err = settle(l, "h1", usd(t, "0.3"))
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != billing.HoldSettled || h.Charged != usd(t, "0.3") ||
		h.Released != usd(t, "0.7") {
		t.Errorf("settled hold = %+v", h)
	}
	wantBalance(t, l, buyer, "9.7", "0")
	wantBalance(t, l, seller, "0.3", "0")
	wantVerified(t, l)

	if _, err := settle(l, "h1", usd(t, "0.3")); !errors.Is(err, billing.ErrHoldResolved) {
		t.Errorf("second settle: got %v, want ErrHoldResolved", err)
	}
	if _, err := void(l, "h1"); !errors.Is(err, billing.ErrHoldResolved) {
		t.Errorf("void after settle: got %v, want ErrHoldResolved", err)
	}
	wantBalance(t, l, buyer, "9.7", "0")
	wantBalance(t, l, seller, "0.3", "0")
	wantVerified(t, l)
}

func TestSettleBounds(t *testing.T) {
	tests := []struct {
		charge  string
		buyer   string
		seller  string
		wantErr bool
	}{
		{charge: "0", buyer: "10", seller: "0"},
		{charge: "1", buyer: "9", seller: "1"},
		{charge: "0.000001", buyer: "9.999999", seller: "0.000001"},
		{charge: "1.000001", buyer: "9", wantErr: true},
	}
	for _, tt := range tests {
		l, _ := newLedger(t)
		credit(t, l, buyer, "10")
		_, err := hold(l, billing.HoldSpec{ID: "h", Payer: buyer, Payee: seller,
			Currency: "USD", Amount: usd(t, "1"), TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		_, err = settle(l, "h", usd(t, tt.charge))
		if (err != nil) != tt.wantErr {
			t.Errorf("settle %s: err %v, want error %v", tt.charge, err, tt.wantErr)
		}
		if tt.wantErr {
			wantBalance(t, l, buyer, "9", "1")
		} else {
			wantBalance(t, l, buyer, tt.buyer, "0")
			wantBalance(t, l, seller, tt.seller, "0")
		}
		wantVerified(t, l)
	}
	l, _ := newLedger(t)
	credit(t, l, buyer, "10")
	if _, err := hold(l, billing.HoldSpec{ID: "h", Payer: buyer, Payee: seller,
		Currency: "USD", Amount: 1_000_000, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := settle(l, "h", -1); err == nil {
		t.Error("negative charge accepted")
	}
	if _, err := settle(l, "nope", 0); !errors.Is(err, billing.ErrNoHold) {
		t.Errorf("settle unknown hold: got %v, want ErrNoHold", err)
	}
	wantBalance(t, l, buyer, "9", "1")
}

func TestHoldVoid(t *testing.T) {
	l, _ := newLedger(t)
	credit(t, l, buyer, "2")
	if _, err := hold(l, billing.HoldSpec{ID: "h", Payer: buyer, Payee: seller,
		Currency: "USD", Amount: usd(t, "1.5"), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	wantBalance(t, l, buyer, "0.5", "1.5")
	h, err := void(l, "h")
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != billing.HoldVoided || h.Charged != 0 || h.Released != usd(t, "1.5") {
		t.Errorf("voided hold = %+v", h)
	}
	wantBalance(t, l, buyer, "2", "0")
	wantBalance(t, l, seller, "0", "0")
	if _, err := void(l, "h"); !errors.Is(err, billing.ErrHoldResolved) {
		t.Errorf("second void: got %v, want ErrHoldResolved", err)
	}
	wantVerified(t, l)
}

func TestHoldRefusals(t *testing.T) {
	l, _ := newLedger(t)
	credit(t, l, buyer, "1")
	if _, err := hold(l, billing.HoldSpec{ID: "taken", Payer: buyer, Payee: seller,
		Currency: "USD", Amount: usd(t, "0.1"), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	long := make([]byte, 513)
	for i := range long {
		long[i] = 'x'
	}
	ok := billing.HoldSpec{ID: "h", Payer: buyer, Payee: seller, Currency: "USD",
		Amount: usd(t, "0.5"), TTL: time.Hour}
	tests := []struct {
		name  string
		edit  func(*billing.HoldSpec)
		funds bool
	}{
		{"insufficient", func(s *billing.HoldSpec) { s.Amount = usd(t, "0.900001") }, true},
		{"other currency", func(s *billing.HoldSpec) { s.Currency = "EUR" }, true},
		{"zero amount", func(s *billing.HoldSpec) { s.Amount = 0 }, false},
		{"negative amount", func(s *billing.HoldSpec) { s.Amount = -1 }, false},
		{"zero ttl", func(s *billing.HoldSpec) { s.TTL = 0 }, false},
		{"empty id", func(s *billing.HoldSpec) { s.ID = "" }, false},
		{"long id", func(s *billing.HoldSpec) { s.ID = string(long) }, false},
		{"bad currency", func(s *billing.HoldSpec) { s.Currency = "usd" }, false},
		{"existing id", func(s *billing.HoldSpec) { s.ID = "taken" }, false},
	}
	for _, tt := range tests {
		spec := ok
		tt.edit(&spec)
		_, err := hold(l, spec)
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		var fe *billing.FundsError
		if tt.funds != errors.As(err, &fe) {
			t.Errorf("%s: got %v; want *FundsError: %v", tt.name, err, tt.funds)
		}
		wantBalance(t, l, buyer, "0.9", "0.1")
	}
	if _, err := hold(l, billing.HoldSpec{ID: "taken", Payer: buyer, Payee: seller,
		Currency: "USD", Amount: 1, TTL: time.Hour}); !errors.Is(err, billing.ErrHoldExists) {
		t.Errorf("reused hold id: got %v, want ErrHoldExists", err)
	}
	hist, _, _ := l.History(buyer, billing.HistoryFilter{}, 0, 100)
	if len(hist) != 2 {
		t.Errorf("history has %d entries after refusals, want 2", len(hist))
	}
	wantVerified(t, l)
}

func TestHoldExpiry(t *testing.T) {
	l, clk := newLedger(t)
	credit(t, l, buyer, "10")
	for _, spec := range []billing.HoldSpec{
		{ID: "short", Amount: usd(t, "1"), TTL: time.Minute},
		{ID: "long", Amount: usd(t, "2"), TTL: time.Hour},
	} {
		spec.Payer, spec.Payee, spec.Currency = buyer, seller, "USD"
		if _, err := hold(l, spec); err != nil {
			t.Fatal(err)
		}
	}
	wantBalance(t, l, buyer, "7", "3")
	at, ok := l.NextExpiry()
	if want := clk.Now().Add(time.Minute); !ok || !at.Equal(want) {
		t.Errorf("NextExpiry = %v %v, want %v", at, ok, want)
	}

	clk.Advance(59 * time.Second)
	if hs, err := expireDue(l); err != nil || len(hs) != 0 {
		t.Fatalf("before expiry: expired %v, %v", hs, err)
	}
	wantBalance(t, l, buyer, "7", "3")

	clk.Advance(time.Second) // exactly at the expiry
	hs, err := expireDue(l)
	if err != nil || len(hs) != 1 || hs[0].ID != "short" || hs[0].Status != billing.HoldExpired {
		t.Fatalf("at expiry: expired %+v, %v", hs, err)
	}
	wantBalance(t, l, buyer, "8", "2")
	wantVerified(t, l)
	if _, err := settle(l, "short", 0); !errors.Is(err, billing.ErrHoldResolved) {
		t.Errorf("settle after expiry: got %v, want ErrHoldResolved", err)
	}

	clk.Advance(time.Hour)
	if hs, err := expireDue(l); err != nil || len(hs) != 1 || hs[0].ID != "long" {
		t.Fatalf("later: expired %+v, %v", hs, err)
	}
	if hs, err := expireDue(l); err != nil || len(hs) != 0 {
		t.Errorf("nothing left: expired %+v, %v", hs, err)
	}
	if _, ok := l.NextExpiry(); ok {
		t.Error("NextExpiry reports a hold after all expired")
	}
	wantBalance(t, l, buyer, "10", "0")
	wantBalance(t, l, seller, "0", "0")
	wantVerified(t, l)
}

func TestSettledHoldDoesNotExpire(t *testing.T) {
	l, clk := newLedger(t)
	credit(t, l, buyer, "1")
	if _, err := hold(l, billing.HoldSpec{ID: "h", Payer: buyer, Payee: seller,
		Currency: "USD", Amount: usd(t, "1"), TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := settle(l, "h", usd(t, "0.4")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if hs, err := expireDue(l); err != nil || len(hs) != 0 {
		t.Errorf("settled hold expired: %+v, %v", hs, err)
	}
	wantBalance(t, l, buyer, "0.6", "0")
	wantBalance(t, l, seller, "0.4", "0")
	wantVerified(t, l)
}

// An agent reserving from itself for itself (a buyer that is its own seller)
// must keep the books balanced when part of the hold is charged.
func TestSettleSelfHold(t *testing.T) {
	l, _ := newLedger(t)
	credit(t, l, buyer, "10")
	if _, err := hold(l, billing.HoldSpec{ID: "self", Payer: buyer, Payee: buyer,
		Currency: "USD", Amount: usd(t, "1"), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := settle(l, "self", usd(t, "0.4")); err != nil {
		t.Fatal(err)
	}
	a, r := balance(t, l, buyer)
	breaches, _ := l.Verify()
	if a != usd(t, "10") || r != 0 || len(breaches) > 0 {
		t.Errorf("hold payer == payee, settle 0.4 of 1: available %s reserved %s "+
			"(want 10 and 0), breaches %v; post() computes each posting from the balance "+
			"before the entry, so two postings on one account lose one", a, r, breaches)
	}
}

func TestHistoryNewestFirstPaging(t *testing.T) {
	l, _ := newLedger(t)
	for i := 1; i <= 5; i++ {
		credit(t, l, buyer, "1")
		credit(t, l, seller, "1") // interleave another agent's entries
	}
	if _, err := hold(l, billing.HoldSpec{ID: "h", Payer: buyer, Payee: seller,
		Currency: "USD", Amount: usd(t, "1"), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	all, _, err := l.History(buyer, billing.HistoryFilter{}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 || all[0].Kind != billing.KindReserve {
		t.Fatalf("history = %+v, want 6 entries, reserve first", all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq >= all[i-1].Seq {
			t.Errorf("history not newest first: %d after %d", all[i].Seq, all[i-1].Seq)
		}
	}
	if avail, reserved := all[0].AgentDelta(buyer); avail != -1_000_000 ||
		reserved != 1_000_000 {
		t.Errorf("reserve delta = %d, %d", avail, reserved)
	}

	var paged []billing.Entry
	before := uint64(0)
	for pages := 0; pages < 10; pages++ {
		page, _, err := l.History(buyer, billing.HistoryFilter{}, before, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		before = page[len(page)-1].Seq
	}
	if len(paged) != len(all) {
		t.Fatalf("paging returned %d entries, want %d", len(paged), len(all))
	}
	for i := range all {
		if paged[i].Seq != all[i].Seq {
			t.Errorf("page entry %d is seq %d, want %d", i, paged[i].Seq, all[i].Seq)
		}
	}
	if h, _, _ := l.History("nobody@localhost", billing.HistoryFilter{}, 0, 10); len(h) != 0 {
		t.Errorf("history of an unknown agent = %+v", h)
	}
	if h, _, _ := l.History(seller, billing.HistoryFilter{}, 0, 2); len(h) != 2 || h[0].Seq <= h[1].Seq {
		t.Errorf("seller history = %+v", h)
	}
}

func TestConcurrentHolds(t *testing.T) {
	l, _ := newLedger(t)
	credit(t, l, buyer, "10")
	const tries = 64
	one := usd(t, "1")
	stop := make(chan struct{})
	negative := make(chan string, 1)
	go func() { // watch the wallet while the holds race
		for {
			select {
			case <-stop:
				close(negative)
				return
			default:
			}
			if a, r := balance(t, l, buyer); a < 0 || r < 0 || a+r != 10_000_000 {
				select {
				case negative <- fmt.Sprintf("available %s reserved %s", a, r):
				default:
				}
			}
		}
	}()
	errs := make(chan error, tries)
	for i := range tries {
		go func() {
			errs <- l.DB().Update(func(tx *store.Tx) error {
				_, err := l.HoldTx(tx, billing.HoldSpec{ID: fmt.Sprintf("h%d", i),
					Payer: buyer, Payee: seller, Currency: "USD", Amount: one, TTL: time.Hour})
				return err
			})
		}()
	}
	ok := 0
	for range tries {
		err := <-errs
		var fe *billing.FundsError
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &fe):
			t.Errorf("unexpected error: %v", err)
		}
	}
	close(stop)
	for bad := range negative {
		t.Errorf("during the race: %s", bad)
	}
	if ok != 10 {
		t.Errorf("%d holds of 1.00 succeeded from 10.00, want 10", ok)
	}
	a, r := balance(t, l, buyer)
	if a < 0 || a != 0 || r != usd(t, "10") {
		t.Errorf("after the race: available %s reserved %s, want 0 and 10", a, r)
	}
	wantVerified(t, l)
}
