package marketplace_test

import (
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/billing"
	"agentmail/marketplace"
)

var fundsRefusal = regexp.MustCompile(
	`^insufficient funds: request needs (\S+) USD, available (\S+) USD$`)

// Sixty-four buyers' requests of different sizes race for a wallet that
// cannot hold them all. Exactly those that fit must succeed: every refused
// request was bigger than what was left when it was refused, and since the
// wallet only shrinks during the race, bigger than what is left at the end.
// A reader samples the wallet throughout; no snapshot may show it below zero
// or money appearing or vanishing.
func TestSubmitConcurrentReservationsFitExactly(t *testing.T) {
	const callers = 64
	e := newEnv(t, time.Hour)
	e.setPricing(seller, tokenBased) // reserves max_charge 1.00, or the buyer's cap
	wallet := amt(t, "10")

	amounts := make([]billing.Amount, callers)
	var asked billing.Amount
	for i := range amounts {
		amounts[i] = billing.Amount(1+(i*7919)%37) * 27_000 // 0.027 to 0.999
		asked += amounts[i]
	}
	if asked <= wallet {
		t.Fatalf("the requests ask %s in all, not more than the wallet's %s", asked, wallet)
	}

	stop := make(chan struct{})
	var samples atomic.Int64
	var bad atomic.Pointer[string]
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			a, r := e.balance(buyer)
			samples.Add(1)
			if a < 0 || r < 0 || a+r != wallet {
				s := fmt.Sprintf("available %s reserved %s", a, r)
				bad.CompareAndSwap(nil, &s)
			}
		}
	}()

	var wg sync.WaitGroup
	errs := make([]error, callers)
	start := make(chan struct{})
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = e.submit(buyer, seller, msg(buyer, seller, "x",
				reqID(fmt.Sprintf("c%d", i)), marketplace.HeaderMaxCharge+": "+
					amounts[i].String()))
		}()
	}
	close(start)
	wg.Wait()
	close(stop)
	readers.Wait()
	if s := bad.Load(); s != nil {
		t.Errorf("during the race the buyer's wallet read %s", *s)
	}
	if samples.Load() < 2 {
		t.Errorf("the reader sampled the wallet only %d times", samples.Load())
	}

	var accepted billing.Amount
	n := 0
	for _, err := range errs {
		if err == nil {
			n++
		}
	}
	for i, err := range errs {
		if err == nil {
			accepted += amounts[i]
		}
	}
	avail, reserved := e.balance(buyer)
	if reserved != accepted || avail != wallet-accepted {
		t.Errorf("after the race: available %s reserved %s; accepted requests sum to %s",
			avail, reserved, accepted)
	}
	for i, err := range errs {
		if err == nil {
			continue
		}
		var r *marketplace.Refusal
		if !errors.As(err, &r) {
			t.Fatalf("request %d: %v", i, err)
		}
		m := fundsRefusal.FindStringSubmatch(r.Text)
		if r.Enhanced != "5.7.1" || m == nil {
			t.Errorf("request %d refused %q, want insufficient funds", i, r.Text)
			continue
		}
		need, left := amt(t, m[1]), amt(t, m[2])
		if need != amounts[i] || left >= need || left < avail {
			t.Errorf("request %d for %s refused with needs %s available %s; %s is left "+
				"at the end", i, amounts[i], need, left, avail)
		}
		if amounts[i] <= avail {
			t.Errorf("request %d for %s was refused but fits in the %s left", i, amounts[i],
				avail)
		}
	}
	e.wantInbox(seller, n)
	e.verify()
	t.Logf("%d of %d requests accepted (%s of %s asked), %d wallet samples", n, callers,
		accepted, asked, samples.Load())
}

// Requests and responses race on one wallet: the buyer reserves while the
// seller settles earlier requests, which returns money. The wallet must never
// read below zero, money must stay between buyer and seller, and the books
// must verify at the end.
func TestSubmitConcurrentRequestsAndResponses(t *testing.T) {
	const callers = 32
	e := newEnv(t, time.Hour)
	e.setPricing(seller, tokenBased) // reserves 1.00 each
	wallet := amt(t, "10")
	for i := 0; i < callers; i += 4 { // 8 open before the race, 2.00 left
		e.request(seller, fmt.Sprintf("r%d", i))
	}

	stop := make(chan struct{})
	var bad atomic.Pointer[string]
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			// One read transaction, so the three balances are one instant.
			var a, r, s billing.Amount
			err := e.ledger.DB().View(func(tx *bolt.Tx) error {
				bs, err := billing.BalancesTx(tx, buyer)
				for _, b := range bs {
					a, r = b.Available, b.Reserved
				}
				ss, err2 := billing.BalancesTx(tx, seller)
				for _, b := range ss {
					s = b.Available
				}
				return errors.Join(err, err2)
			})
			if err != nil {
				msg := err.Error()
				bad.CompareAndSwap(nil, &msg)
			}
			if a < 0 || r < 0 || a+r+s != wallet {
				msg := fmt.Sprintf("buyer %s + %s, seller %s", a, r, s)
				bad.CompareAndSwap(nil, &msg)
			}
		}
	}()
	var wg sync.WaitGroup
	var opened atomic.Int64
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("r%d", i)
			if i%4 != 0 {
				_, err := e.submit(buyer, seller, msg(buyer, seller, "x", reqID(id)))
				if err == nil {
					opened.Add(1)
				}
				return
			}
			_, err := e.submit(seller, buyer, msg(seller, buyer, "done", reqID(id),
				usageHdr(`{"tokens_input": 100000, "tokens_output": 50000}`)))
			if err != nil {
				t.Errorf("response %s: %v", id, err)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-done
	if s := bad.Load(); s != nil {
		t.Errorf("during the race: %s", *s)
	}
	e.wantBalance(seller, "1.6", "0") // 8 settlements of 0.20
	a, r := e.balance(buyer)
	if a+r != amt(t, "8.4") || r != billing.Amount(opened.Load())*amt(t, "1") || a < 0 {
		t.Errorf("buyer after the race: available %s reserved %s, %d requests opened",
			a, r, opened.Load())
	}
	if opened.Load() < 2 {
		t.Errorf("only %d of 24 requests opened; at least the 2.00 left before the race "+
			"fits two", opened.Load())
	}
	e.verify()
}
