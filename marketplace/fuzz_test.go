package marketplace_test

import (
	"encoding/json"
	"testing"

	"agentmail/billing"
	"agentmail/marketplace"
)

// FuzzParseUsage checks that any input is either refused or read into a
// usage with every count in range, and that an accepted usage reads back the
// same from its own encoding.
func FuzzParseUsage(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"tokens_input": 10, "tokens_output": 20}`, `{"outcomes_returned": 1}`,
		`{"compute_ms": 1500}`, `{"custom_units": {"page": 3}}`, `{"amount": "0.25"}`,
		`{"declined": true}`, `{"tokens_input": -1}`, `{"tokens_input": 1.5}`,
		`{"tokens_input": 1e3}`, `{"tokens_input": 9223372036854775808}`,
		`{"tokens_input": 18446744073709551616}`, `[]`, `null`, `{"x": 1}`, `{} }`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := marketplace.ParseUsage(data)
		if err != nil {
			return
		}
		counts := []*int64{u.TokensInput, u.TokensOutput, u.OutcomesReturned, u.ComputeMs}
		for _, n := range u.CustomUnits {
			counts = append(counts, &n)
		}
		for _, c := range counts {
			if c != nil && (*c < 0 || *c > 1_000_000_000_000_000) {
				t.Fatalf("ParseUsage(%q) accepted count %d", data, *c)
			}
		}
		if u.Amount != nil && (*u.Amount < 0 || *u.Amount > billing.AmountMax) {
			t.Fatalf("ParseUsage(%q) accepted amount %d", data, *u.Amount)
		}
		enc, err := json.Marshal(u)
		if err != nil {
			t.Fatalf("marshal %+v: %v", u, err)
		}
		u2, err := marketplace.ParseUsage(enc)
		if err != nil {
			t.Fatalf("ParseUsage refuses its own encoding %s: %v", enc, err)
		}
		if enc2, _ := json.Marshal(u2); string(enc2) != string(enc) {
			t.Fatalf("round trip changed usage: %s → %s", enc, enc2)
		}
	})
}

// FuzzComputeCharge prices arbitrary usage under arbitrary valid pricing and
// checks the charge stays within [0, reserved], never panics, and follows
// the rules that do not need the formula: declined costs nothing, a capped
// charge is the reservation, an uncapped one is at least minimum_charge.
func FuzzComputeCharge(f *testing.F) {
	f.Add(uint8(0), int64(250_000), int64(0), int64(0), int64(0), int64(0), int64(0),
		int64(0), int64(0), int64(0), int64(0), int64(0), int64(250_000), false)
	f.Add(uint8(1), int64(0), int64(100_000), int64(0), int64(0), int64(0), int64(10_000),
		int64(1), int64(0), int64(0), int64(0), int64(0), int64(1_000_000), false)
	f.Add(uint8(1), int64(0), int64(1_000_000), int64(2_000_000), int64(0), int64(0),
		int64(0), int64(999_999), int64(5), int64(0), int64(0), int64(0), int64(500_000), false)
	f.Add(uint8(5), int64(0), int64(0), int64(0), int64(0), int64(0), int64(100_000),
		int64(0), int64(0), int64(0), int64(0), int64(3_000_000), int64(1_000_000), false)
	f.Add(uint8(4), int64(1), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0),
		int64(0), int64(0), int64(0), int64(7), int64(1), true)
	f.Add(uint8(3), int64(int64(billing.AmountMax)), int64(0), int64(0),
		int64(int64(billing.AmountMax)), int64(int64(billing.AmountMax)), int64(0),
		int64(1_000_000_000_000_000), int64(1_000_000_000_000_000),
		int64(1_000_000_000_000_000), int64(1_000_000_000_000_000),
		int64(int64(billing.AmountMax)), int64(int64(billing.AmountMax)), false)
	models := []string{marketplace.PerRequest, marketplace.TokenBased,
		marketplace.OutcomeBased, marketplace.ComputeBased, marketplace.UnitBased,
		marketplace.DynamicPrices}
	f.Fuzz(func(t *testing.T, model uint8, base, tokIn, tokOut, outcome, compute,
		minimum, nIn, nOut, nOutcomes, nMs, amount, reserved int64, declined bool) {
		price := func(v int64) billing.Amount {
			if v < 0 {
				v = -(v + 1)
			}
			return billing.Amount(v % (int64(billing.AmountMax) + 1))
		}
		count := func(v int64) *int64 {
			if v < 0 {
				v = -(v + 1)
			}
			v %= 1_000_000_000_000_001
			return &v
		}
		p := marketplace.Pricing{Model: models[int(model)%len(models)], Currency: "USD",
			BasePrice: price(base), TokenPriceInput: price(tokIn),
			TokenPriceOutput: price(tokOut), OutcomePrice: price(outcome),
			ComputePrice: price(compute), MinimumCharge: price(minimum),
			CustomUnitPrices: map[string]billing.Amount{"u": price(compute)}}
		dyn := price(amount)
		u := marketplace.Usage{TokensInput: count(nIn), TokensOutput: count(nOut),
			OutcomesReturned: count(nOutcomes), ComputeMs: count(nMs),
			CustomUnits: map[string]int64{"u": *count(nMs)}, Amount: &dyn,
			Declined: declined}
		r := price(reserved)

		c := marketplace.ComputeCharge(p, u, r)
		switch {
		case c.Amount < 0 || c.Amount > r:
			t.Fatalf("charge %d outside [0, %d] for %+v %+v", c.Amount, r, p, u)
		case c.Formula < 0 || c.Formula > billing.AmountMax:
			t.Fatalf("formula %d outside [0, AmountMax]", c.Formula)
		case declined && c.Amount != 0:
			t.Fatalf("declined request charged %d", c.Amount)
		case c.Capped && c.Amount != r:
			t.Fatalf("capped charge %d is not the reservation %d", c.Amount, r)
		case !declined && !c.Capped && c.Amount < p.MinimumCharge:
			t.Fatalf("uncapped charge %d below minimum_charge %d", c.Amount, p.MinimumCharge)
		case !declined && !c.Capped && c.Amount != c.Formula:
			t.Fatalf("uncapped charge %d differs from formula %d", c.Amount, c.Formula)
		case !declined && p.Model == marketplace.DynamicPrices && !c.Capped &&
			c.Amount != max(dyn, p.MinimumCharge):
			t.Fatalf("dynamic charge %d, want max(amount %d, minimum %d)", c.Amount, dyn,
				p.MinimumCharge)
		}
	})
}
