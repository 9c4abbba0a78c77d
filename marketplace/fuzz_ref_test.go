package marketplace_test

import (
	"math/big"
	"testing"

	"agentmail/billing"
	"agentmail/marketplace"
)

// referenceCharge is the contract's formula written independently of
// ComputeCharge, in exact rationals of currency units: the sum of the terms,
// rounded once half away from zero to micro-units, at least minimum_charge,
// clamped to AmountMax, then capped at the reservation.
func referenceCharge(p marketplace.Pricing, u marketplace.Usage,
	reserved billing.Amount) marketplace.Charge {
	if u.Declined {
		return marketplace.Charge{}
	}
	units := func(a billing.Amount) *big.Rat { return big.NewRat(int64(a), 1_000_000) }
	count := func(n *int64) *big.Rat {
		if n == nil {
			return new(big.Rat)
		}
		return big.NewRat(*n, 1)
	}
	term := func(n *big.Rat, price billing.Amount, per int64) *big.Rat {
		t := new(big.Rat).Mul(n, units(price))
		return t.Quo(t, big.NewRat(per, 1))
	}
	sum := new(big.Rat)
	if p.Model == marketplace.DynamicPrices {
		if u.Amount != nil {
			sum.Set(units(*u.Amount))
		}
	} else {
		sum.Add(sum, units(p.BasePrice))
		sum.Add(sum, term(count(u.TokensInput), p.TokenPriceInput, 1_000_000))
		sum.Add(sum, term(count(u.TokensOutput), p.TokenPriceOutput, 1_000_000))
		sum.Add(sum, term(count(u.OutcomesReturned), p.OutcomePrice, 1))
		sum.Add(sum, term(count(u.ComputeMs), p.ComputePrice, 1000))
		for name, n := range u.CustomUnits {
			sum.Add(sum, term(big.NewRat(n, 1), p.CustomUnitPrices[name], 1))
		}
	}
	// Round to micro-units, half away from zero (sum is never negative).
	micros := new(big.Rat).Mul(sum, big.NewRat(1_000_000, 1))
	micros.Add(micros, big.NewRat(1, 2))
	formula := new(big.Int).Quo(micros.Num(), micros.Denom())
	if formula.Cmp(big.NewInt(int64(p.MinimumCharge))) < 0 {
		formula.SetInt64(int64(p.MinimumCharge))
	}
	c := marketplace.Charge{Formula: billing.AmountMax}
	if formula.Cmp(big.NewInt(int64(billing.AmountMax))) <= 0 {
		c.Formula = billing.Amount(formula.Int64())
	}
	c.Amount = c.Formula
	if c.Amount > reserved {
		c.Amount, c.Capped = reserved, true
	}
	return c
}

// FuzzChargeMatchesReference compares ComputeCharge with referenceCharge on
// arbitrary prices and counts within the limits the parsers enforce.
func FuzzChargeMatchesReference(f *testing.F) {
	f.Add(uint8(1), int64(0), int64(100_000), int64(0), int64(0), int64(0), int64(0),
		int64(1), int64(0), int64(0), int64(0), int64(0), int64(1_000_000))
	f.Add(uint8(1), int64(0), int64(100_000), int64(200_000), int64(0), int64(0), int64(0),
		int64(5), int64(999_999), int64(0), int64(0), int64(0), int64(1_000_000))
	f.Add(uint8(3), int64(1), int64(0), int64(0), int64(0), int64(1), int64(0),
		int64(0), int64(0), int64(0), int64(500), int64(0), int64(1))
	f.Add(uint8(2), int64(100_000), int64(0), int64(0), int64(200_000), int64(0),
		int64(500_000), int64(0), int64(0), int64(1), int64(0), int64(0), int64(400_000))
	f.Add(uint8(5), int64(0), int64(0), int64(0), int64(0), int64(0), int64(300_000),
		int64(0), int64(0), int64(0), int64(0), int64(10_000), int64(300_000))
	models := []string{marketplace.PerRequest, marketplace.TokenBased,
		marketplace.OutcomeBased, marketplace.ComputeBased, marketplace.UnitBased,
		marketplace.DynamicPrices}
	f.Fuzz(func(t *testing.T, model uint8, base, tokIn, tokOut, outcome, compute, minimum,
		nIn, nOut, nOutcomes, nMs, amount, reserved int64) {
		price := func(v int64) billing.Amount {
			return billing.Amount(uint64(v) % (uint64(billing.AmountMax) + 1))
		}
		count := func(v int64) *int64 {
			n := int64(uint64(v) % 1_000_000_000_000_001)
			return &n
		}
		p := marketplace.Pricing{Model: models[int(model)%len(models)], Currency: "USD",
			BasePrice: price(base), TokenPriceInput: price(tokIn),
			TokenPriceOutput: price(tokOut), OutcomePrice: price(outcome),
			ComputePrice: price(compute), MinimumCharge: price(minimum),
			CustomUnitPrices: map[string]billing.Amount{"a": price(outcome),
				"b": price(compute)}}
		dyn := price(amount)
		u := marketplace.Usage{TokensInput: count(nIn), TokensOutput: count(nOut),
			OutcomesReturned: count(nOutcomes), ComputeMs: count(nMs),
			CustomUnits: map[string]int64{"a": *count(nOutcomes), "b": *count(nMs)},
			Amount:      &dyn}
		r := price(reserved)

		got := marketplace.ComputeCharge(p, u, r)
		if want := referenceCharge(p, u, r); got != want {
			t.Fatalf("ComputeCharge(%+v, %+v, %s) = %+v; reference %+v", p, u, r, got, want)
		}
		if got.Amount < 0 || got.Amount > r {
			t.Fatalf("charge %s outside [0, %s]", got.Amount, r)
		}
	})
}

// FuzzUsageCharge feeds whatever ParseUsage accepts to ComputeCharge under
// every pricing model: no panic, and no charge outside [0, reserved].
func FuzzUsageCharge(f *testing.F) {
	for _, s := range []string{`{"tokens_input": 999999, "tokens_output": 1}`,
		`{"custom_units": {"a": 1000000000000000, "b": 3}}`, `{"amount": "999999999999.999999"}`,
		`{"compute_ms": 1000000000000000, "outcomes_returned": 1000000000000000}`,
		`{"declined": true, "amount": 5}`} {
		f.Add([]byte(s), int64(1_000_000))
	}
	models := []string{marketplace.PerRequest, marketplace.TokenBased,
		marketplace.OutcomeBased, marketplace.ComputeBased, marketplace.UnitBased,
		marketplace.DynamicPrices}
	f.Fuzz(func(t *testing.T, data []byte, reserved int64) {
		u, err := marketplace.ParseUsage(data)
		if err != nil {
			return
		}
		r := billing.Amount(uint64(reserved) % (uint64(billing.AmountMax) + 1))
		for _, model := range models {
			for _, pr := range []billing.Amount{1, 100_000, billing.AmountMax} {
				p := marketplace.Pricing{Model: model, Currency: "USD", BasePrice: pr,
					TokenPriceInput: pr, TokenPriceOutput: pr, OutcomePrice: pr,
					ComputePrice: pr, MinimumCharge: pr / 2,
					CustomUnitPrices: map[string]billing.Amount{"a": pr, "b": pr}}
				c := marketplace.ComputeCharge(p, u, r)
				if c.Amount < 0 || c.Amount > r || (u.Declined && c.Amount != 0) {
					t.Fatalf("%s at %s: charge %s for %s reserved %s", model, pr, c.Amount,
						data, r)
				}
				if want := referenceCharge(p, u, r); c != want {
					t.Fatalf("%s at %s: %+v, reference %+v for %s", model, pr, c, want, data)
				}
			}
		}
	})
}

// FuzzPlatformFee checks the fee is within [0, charge] and is the exact
// share rounded half away from zero.
func FuzzPlatformFee(f *testing.F) {
	f.Add(int64(20), int64(2_500_000))
	f.Add(int64(1), int64(2_500_000))
	f.Add(int64(billing.AmountMax), int64(100_000_000))
	f.Fuzz(func(t *testing.T, charge, percent int64) {
		c := billing.Amount(uint64(charge) % (uint64(billing.AmountMax) + 1))
		pct := int64(uint64(percent) % 100_000_001)
		fee := marketplace.PlatformFee(c, pct)
		exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(int64(c)), big.NewInt(pct)),
			big.NewInt(100_000_000))
		exact.Add(exact, big.NewRat(1, 2))
		want := new(big.Int).Quo(exact.Num(), exact.Denom())
		if fee < 0 || fee > c || want.Int64() != int64(fee) {
			t.Fatalf("PlatformFee(%s, %d) = %s, want %s", c, pct, fee, want)
		}
	})
}
