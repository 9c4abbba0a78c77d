package marketplace

import (
	"math/big"

	"agentmail/billing"
)

// Charge is the outcome of pricing one response.
type Charge struct {
	Amount billing.Amount // what the buyer pays, within [0, reserved]
	// Formula is the charge before the reserved cap, rounded; Capped says
	// the cap lowered it.
	Formula billing.Amount
	Capped  bool
}

var (
	bigMillion  = big.NewInt(1_000_000)
	bigThousand = big.NewInt(1_000)
	bigHalf     = big.NewInt(500_000)
)

// ComputeCharge prices a usage report under p, exactly, rounding once at the
// end half away from zero to micro-units, then applying minimum_charge and
// the reserved cap. Declined requests cost nothing.
func ComputeCharge(p Pricing, u Usage, reserved billing.Amount) Charge {
	if u.Declined {
		return Charge{}
	}
	var formula *big.Int
	if p.Model == DynamicPrices {
		formula = big.NewInt(0)
		if u.Amount != nil {
			formula.SetInt64(int64(*u.Amount))
		}
	} else {
		formula = roundPico(picoCharge(p, u))
	}
	formula = bigMax(formula, big.NewInt(int64(p.MinimumCharge)))

	c := Charge{Formula: billing.AmountMax}
	if formula.IsInt64() && formula.Int64() <= int64(billing.AmountMax) {
		c.Formula = billing.Amount(formula.Int64())
	}
	c.Amount = c.Formula
	if c.Amount > reserved {
		c.Amount, c.Capped = reserved, true
	}
	return c
}

// picoCharge is the contract's formula in units of 10^-12, where every term
// is an exact integer: prices are micro-units and token prices are per
// million tokens.
func picoCharge(p Pricing, u Usage) *big.Int {
	total := new(big.Int)
	addTerm := func(count int64, price billing.Amount, scale *big.Int) {
		t := new(big.Int).Mul(big.NewInt(count), big.NewInt(int64(price)))
		total.Add(total, t.Mul(t, scale))
	}
	one := big.NewInt(1)
	addTerm(1, p.BasePrice, bigMillion)
	addTerm(deref(u.TokensInput), p.TokenPriceInput, one)
	addTerm(deref(u.TokensOutput), p.TokenPriceOutput, one)
	addTerm(deref(u.OutcomesReturned), p.OutcomePrice, bigMillion)
	addTerm(deref(u.ComputeMs), p.ComputePrice, bigThousand)
	for unit, n := range u.CustomUnits {
		addTerm(n, p.CustomUnitPrices[unit], bigMillion)
	}
	return total
}

// roundPico turns a non-negative pico amount into micro-units, half away
// from zero.
func roundPico(pico *big.Int) *big.Int {
	q := new(big.Int).Add(pico, bigHalf)
	return q.Quo(q, bigMillion)
}

func bigMax(a, b *big.Int) *big.Int {
	if a.Cmp(b) < 0 {
		return b
	}
	return a
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// PlatformFee is percentMicros millionths of a percent of charge, rounded
// once, half away from zero, to micro-units.
func PlatformFee(charge billing.Amount, percentMicros int64) billing.Amount {
	if charge <= 0 || percentMicros <= 0 {
		return 0
	}
	fee := new(big.Int).Mul(big.NewInt(int64(charge)), big.NewInt(percentMicros))
	denominator := big.NewInt(100 * 1_000_000)
	fee.Add(fee, new(big.Int).Quo(denominator, big.NewInt(2)))
	return billing.Amount(fee.Quo(fee, denominator).Int64())
}
