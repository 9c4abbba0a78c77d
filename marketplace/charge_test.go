package marketplace_test

import (
	"testing"

	"agentmail/billing"
	"agentmail/marketplace"
)

func TestComputeCharge(t *testing.T) {
	tokenPricing := func(in, out, minimum string) marketplace.Pricing {
		return marketplace.Pricing{Model: marketplace.TokenBased, Currency: "USD",
			TokenPriceInput: amt(t, in), TokenPriceOutput: amt(t, out),
			MinimumCharge: amt(t, minimum), MaxCharge: amtp(t, "1")}
	}
	tokens := func(in, out int64) marketplace.Usage {
		return marketplace.Usage{TokensInput: i64(in), TokensOutput: i64(out)}
	}
	tests := []struct {
		name     string
		p        marketplace.Pricing
		u        marketplace.Usage
		reserved string
		want     string
		formula  string
		capped   bool
	}{
		{name: "per request", reserved: "0.25", want: "0.25", formula: "0.25",
			p: marketplace.Pricing{Model: marketplace.PerRequest, BasePrice: amt(t, "0.25")}},
		{name: "1 token at 0.10 per million rounds to zero", reserved: "1",
			p: tokenPricing("0.1", "0", "0"), u: tokens(1, 0), want: "0", formula: "0"},
		{name: "1 token, minimum_charge applies", reserved: "1",
			p: tokenPricing("0.1", "0", "0.01"), u: tokens(1, 0), want: "0.01", formula: "0.01"},
		{name: "4 tokens: 0.0000004 rounds down", reserved: "1",
			p: tokenPricing("0.1", "0", "0"), u: tokens(4, 0), want: "0", formula: "0"},
		{name: "5 tokens: 0.0000005 rounds half away from zero", reserved: "1",
			p: tokenPricing("0.1", "0", "0"), u: tokens(5, 0), want: "0.000001",
			formula: "0.000001"},
		{name: "15 tokens: 0.0000015 rounds to 0.000002", reserved: "1",
			p: tokenPricing("0.1", "0", "0"), u: tokens(15, 0), want: "0.000002",
			formula: "0.000002"},
		{name: "rounded once, not per term", reserved: "1",
			p: tokenPricing("0.1", "0.1", "0"), u: tokens(4, 4), want: "0.000001",
			formula: "0.000001"},
		{name: "999,999 tokens at 0.10", reserved: "1",
			p: tokenPricing("0.1", "0", "0"), u: tokens(999_999, 0), want: "0.1",
			formula: "0.1"},
		{name: "999,999 tokens at 1.00", reserved: "1",
			p: tokenPricing("1", "0", "0"), u: tokens(999_999, 0), want: "0.999999",
			formula: "0.999999"},
		{name: "input and output", reserved: "1",
			p: tokenPricing("3", "15", "0"), u: tokens(1000, 2000), want: "0.033",
			formula: "0.033"},
		{name: "0.1 + 0.2 is exactly 0.3", reserved: "1", want: "0.3", formula: "0.3",
			p: marketplace.Pricing{Model: marketplace.OutcomeBased, BasePrice: amt(t, "0.1"),
				OutcomePrice: amt(t, "0.2"), MaxCharge: amtp(t, "1")},
			u: marketplace.Usage{OutcomesReturned: i64(1)}},
		{name: "compute seconds", reserved: "1", want: "0.003", formula: "0.003",
			p: marketplace.Pricing{Model: marketplace.ComputeBased,
				ComputePrice: amt(t, "0.002"), MaxCharge: amtp(t, "1")},
			u: marketplace.Usage{ComputeMs: i64(1500)}},
		{name: "compute 1 ms at 0.000001 per second rounds to zero", reserved: "1",
			want: "0", formula: "0",
			p: marketplace.Pricing{Model: marketplace.ComputeBased,
				ComputePrice: amt(t, "0.000001"), MaxCharge: amtp(t, "1")},
			u: marketplace.Usage{ComputeMs: i64(1)}},
		{name: "custom units", reserved: "1", want: "0.13", formula: "0.13",
			p: marketplace.Pricing{Model: marketplace.UnitBased, MaxCharge: amtp(t, "1"),
				CustomUnitPrices: map[string]billing.Amount{"page": amt(t, "0.01"),
					"image": amt(t, "0.05")}},
			u: marketplace.Usage{CustomUnits: map[string]int64{"page": 3, "image": 2}}},
		{name: "minimum_charge above the hold", reserved: "1", want: "1", formula: "2",
			capped: true,
			p:      marketplace.Pricing{Model: marketplace.PerRequest, MinimumCharge: amt(t, "2")}},
		{name: "charge above the hold is capped", reserved: "1", want: "1", formula: "10",
			capped: true, p: tokenPricing("1", "0", "0"), u: tokens(10_000_000, 0)},
		{name: "declined costs nothing", reserved: "1", want: "0", formula: "0",
			p: marketplace.Pricing{Model: marketplace.PerRequest, BasePrice: amt(t, "0.5"),
				MinimumCharge: amt(t, "0.6")},
			u: marketplace.Usage{Declined: true, OutcomesReturned: i64(3)}},
		{name: "dynamic", reserved: "1", want: "0.42", formula: "0.42",
			p: marketplace.Pricing{Model: marketplace.DynamicPrices, BasePrice: amt(t, "0.5"),
				MaxCharge: amtp(t, "1")},
			u: marketplace.Usage{Amount: amtp(t, "0.42"), TokensInput: i64(1_000_000)}},
		{name: "dynamic below minimum", reserved: "1", want: "0.1", formula: "0.1",
			p: marketplace.Pricing{Model: marketplace.DynamicPrices,
				MinimumCharge: amt(t, "0.1"), MaxCharge: amtp(t, "1")},
			u: marketplace.Usage{Amount: amtp(t, "0.01")}},
		{name: "dynamic above the hold", reserved: "1", want: "1", formula: "3", capped: true,
			p: marketplace.Pricing{Model: marketplace.DynamicPrices, MaxCharge: amtp(t, "1")},
			u: marketplace.Usage{Amount: amtp(t, "3")}},
		{name: "charge equal to the hold is not capped", reserved: "0.033", want: "0.033",
			formula: "0.033", p: tokenPricing("3", "15", "0"), u: tokens(1000, 2000)},
		{name: "zero reserved", reserved: "0", want: "0", formula: "0.25", capped: true,
			p: marketplace.Pricing{Model: marketplace.PerRequest, BasePrice: amt(t, "0.25")}},
		{name: "huge usage clamps the formula", reserved: "5", want: "5",
			formula: "1000000000000", capped: true,
			p: marketplace.Pricing{Model: marketplace.TokenBased,
				TokenPriceInput: billing.AmountMax, TokenPriceOutput: billing.AmountMax,
				MaxCharge: amtp(t, "5")},
			u: tokens(1_000_000_000_000_000, 1_000_000_000_000_000)},
	}
	for _, tt := range tests {
		c := marketplace.ComputeCharge(tt.p, tt.u, amt(t, tt.reserved))
		if c.Amount != amt(t, tt.want) || c.Formula != amt(t, tt.formula) || c.Capped != tt.capped {
			t.Errorf("%s: charge %s formula %s capped %v; want %s, %s, %v", tt.name, c.Amount,
				c.Formula, c.Capped, tt.want, tt.formula, tt.capped)
		}
	}
}
