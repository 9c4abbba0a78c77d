package marketplace_test

import (
	"errors"
	"strings"
	"testing"

	"agentmail/billing"
	"agentmail/marketplace"
)

func i64(n int64) *int64 { return &n }

func amt(t testing.TB, s string) billing.Amount {
	t.Helper()
	a, err := billing.ParseAmount(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func amtp(t testing.TB, s string) *billing.Amount {
	a := amt(t, s)
	return &a
}

func TestParseUsage(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // a part of the error; empty means accepted
		check   func(marketplace.Usage) bool
	}{
		{in: `{}`, check: func(u marketplace.Usage) bool { return u.TokensInput == nil }},
		{in: `{"tokens_input": 10, "tokens_output": 0}`, check: func(u marketplace.Usage) bool {
			return *u.TokensInput == 10 && *u.TokensOutput == 0
		}},
		{in: `{"outcomes_returned": 3, "compute_ms": 1500}`, check: func(u marketplace.Usage) bool {
			return *u.OutcomesReturned == 3 && *u.ComputeMs == 1500
		}},
		{in: `{"custom_units": {"pages": 4}}`, check: func(u marketplace.Usage) bool {
			return u.CustomUnits["pages"] == 4
		}},
		{in: `{"amount": 0.25}`, check: func(u marketplace.Usage) bool {
			return *u.Amount == 250_000
		}},
		{in: `{"amount": "0.25"}`, check: func(u marketplace.Usage) bool {
			return *u.Amount == 250_000
		}},
		{in: `{"declined": true}`, check: func(u marketplace.Usage) bool { return u.Declined }},
		{in: `{"tokens_input": 1000000000000000}`, check: func(u marketplace.Usage) bool {
			return *u.TokensInput == 1_000_000_000_000_000
		}},
		{in: ``, wantErr: "not a JSON object"},
		{in: `null`, wantErr: "not a JSON object"},
		{in: `[]`, wantErr: "not a JSON object"},
		{in: `"tokens"`, wantErr: "not a JSON object"},
		{in: `42`, wantErr: "not a JSON object"},
		{in: `{"tokens_input": 1`, wantErr: "not a JSON object"},
		{in: `{} {}`, wantErr: "after the JSON object"},
		{in: `{"tokens": 5}`, wantErr: "unknown field"},
		{in: `{"Tokens_Input": 5}`, wantErr: "unknown field"},
		{in: `{"tokens_input": -1}`, wantErr: "tokens_input"},
		{in: `{"tokens_input": -0}`, wantErr: "tokens_input"},
		{in: `{"tokens_output": 1.5}`, wantErr: "tokens_output"},
		{in: `{"tokens_output": 1.0}`, wantErr: "tokens_output"},
		{in: `{"compute_ms": 1e3}`, wantErr: "compute_ms"},
		{in: `{"compute_ms": "5"}`, wantErr: "compute_ms"},
		{in: `{"compute_ms": null}`, wantErr: "compute_ms"},
		{in: `{"compute_ms": true}`, wantErr: "compute_ms"},
		{in: `{"outcomes_returned": 9223372036854775808}`, wantErr: "out of range"},
		{in: `{"outcomes_returned": 18446744073709551616}`, wantErr: "out of range"},
		{in: `{"outcomes_returned": 9223372036854775807}`, wantErr: "out of range"},
		{in: `{"outcomes_returned": 1000000000000000001}`, wantErr: "out of range"},
		{in: `{"custom_units": {"pages": -2}}`, wantErr: "custom_units.pages"},
		{in: `{"custom_units": {"pages": 2.5}}`, wantErr: "custom_units.pages"},
		{in: `{"custom_units": [1]}`, wantErr: "custom_units"},
		{in: `{"custom_units": null}`, wantErr: "custom_units"},
		{in: `{"amount": -0.5}`, wantErr: "amount"},
		{in: `{"amount": 0.0000001}`, wantErr: "amount"},
		{in: `{"amount": "lots"}`, wantErr: "amount"},
		{in: `{"declined": "yes"}`, wantErr: "declined"},
		{in: `{"declined": 1}`, wantErr: "declined"},
		{in: `{"tokens_input": 1, "bogus": 1}`, wantErr: "unknown field"},
		{in: `{"x":"` + strings.Repeat("a", 9000) + `"}`, wantErr: "longer"},
	}
	for _, tt := range tests {
		u, err := marketplace.ParseUsage([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseUsage(%.60s) = %+v, %v; want error containing %q", tt.in, u, err,
					tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseUsage(%s) = %v", tt.in, err)
		} else if !tt.check(u) {
			t.Errorf("ParseUsage(%s) = %+v", tt.in, u)
		}
	}
}

// Trailing data after the usage object must be refused, whatever it is.
func TestParseUsageTrailingData(t *testing.T) {
	for _, in := range []string{`{"tokens_input": 1} x`, `{"tokens_input": 1} 2`,
		`{"tokens_input": 1} }`, `{"tokens_input": 1} ]`} {
		if _, err := marketplace.ParseUsage([]byte(in)); err == nil {
			t.Errorf("ParseUsage(%q) accepted; json.Decoder.More reports false before "+
				"a closing '}' or ']', so that trailing data passes", in)
		}
	}
}

// A key that appears twice is ambiguous: which count is billed?
func TestParseUsageDuplicateKey(t *testing.T) {
	u, err := marketplace.ParseUsage([]byte(`{"tokens_input": 1, "tokens_input": 1000000}`))
	if err == nil {
		t.Errorf("duplicate key tokens_input accepted, read as %d (last wins); "+
			"the strict reader should refuse it", *u.TokensInput)
	}
}

func TestParsePricing(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
		check   func(marketplace.Pricing) bool
	}{
		{in: `{}`, check: func(p marketplace.Pricing) bool {
			return p.Model == marketplace.PerRequest && p.Currency == "USD" && p.IsEnabled()
		}},
		{in: `{"pricing_model":"per_request","base_price":0.25,"currency":"usd"}`,
			check: func(p marketplace.Pricing) bool {
				return p.BasePrice == 250_000 && p.Currency == "USD" && p.Floor() == 250_000
			}},
		{in: `{"base_price":"0.1","minimum_charge":0.2}`, check: func(p marketplace.Pricing) bool {
			return p.Floor() == 200_000
		}},
		{in: `{"pricing_model":"token_based","token_price_input":3,"token_price_output":15,` +
			`"max_charge":1}`, check: func(p marketplace.Pricing) bool {
			return p.TokenPriceOutput == 15_000_000 && *p.MaxCharge == 1_000_000
		}},
		{in: `{"enabled":false}`, check: func(p marketplace.Pricing) bool { return !p.IsEnabled() }},
		{in: `{"pricing_model":"unit_based","custom_unit_prices":{"page":0.01},"max_charge":5}`,
			check: func(p marketplace.Pricing) bool { return p.CustomUnitPrices["page"] == 10_000 }},
		{in: `{"pricing_model":"dynamic","max_charge":5,"free_quota":3}`,
			check: func(p marketplace.Pricing) bool { return p.FreeQuota == 3 }},
		{in: `{"base_price":0.0000001}`, wantErr: "six decimal"},
		{in: `{"base_price":-1}`, wantErr: "negative"},
		{in: `{"base_price":1e20}`, wantErr: "too large"},
		{in: `{"pricing_model":"token_based","token_price_input":1}`, wantErr: "max_charge"},
		{in: `{"pricing_model":"outcome_based"}`, wantErr: "max_charge"},
		{in: `{"pricing_model":"compute_based"}`, wantErr: "max_charge"},
		{in: `{"pricing_model":"unit_based"}`, wantErr: "max_charge"},
		{in: `{"pricing_model":"dynamic"}`, wantErr: "max_charge"},
		{in: `{"pricing_model":"auction"}`, wantErr: "pricing_model"},
		{in: `{"base_price":1,"max_charge":0.5}`, wantErr: "max_charge"},
		{in: `{"minimum_charge":1,"max_charge":0.5,"pricing_model":"dynamic"}`,
			wantErr: "max_charge"},
		{in: `{"surcharge":1}`, wantErr: "unknown field"},
		{in: `{"currency":"dollars"}`, wantErr: "currency"},
		{in: `{"free_quota":-1}`, wantErr: "free_quota"},
		{in: `{"free_quota":1.5}`, wantErr: "free_quota"},
		{in: `{"enabled":"yes"}`, wantErr: "enabled"},
		{in: `{"listing_summary":"` + strings.Repeat("a", 4097) + `"}`,
			wantErr: "listing_summary"},
		{in: `{"custom_unit_prices":{"":1}}`, wantErr: "unit names"},
		{in: `[]`, wantErr: "pricing"},
		{in: `{} {}`, wantErr: "trailing"},
	}
	for _, tt := range tests {
		p, err := marketplace.ParsePricing([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePricing(%.80s) = %v; want error containing %q", tt.in, err,
					tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePricing(%s) = %v", tt.in, err)
		} else if !tt.check(p) {
			t.Errorf("ParsePricing(%s) = %+v", tt.in, p)
		}
	}

	_, err := marketplace.ParsePricing([]byte(`{"pricing_model":"auction","free_quota":-1}`))
	var fe *marketplace.FieldError
	if !errors.As(err, &fe) || len(fe.Problems) < 2 {
		t.Errorf("two bad fields: got %v, want a FieldError naming both", err)
	}
}

func TestParsePricingTrailingData(t *testing.T) {
	if _, err := marketplace.ParsePricing([]byte(`{"base_price":1} }`)); err == nil {
		t.Errorf(`ParsePricing("{\"base_price\":1} }") accepted; trailing '}' or ']' ` +
			`passes the dec.More() check`)
	}
}

// Invalid input is answered with the offending fields (contract, HTTP side);
// an amount that fails to parse should say which field it was.
func TestParsePricingAmountErrorNamesField(t *testing.T) {
	for _, field := range []string{"base_price", "minimum_charge", "max_charge",
		"token_price_input"} {
		_, err := marketplace.ParsePricing([]byte(`{"` + field + `":0.0000001}`))
		if err == nil {
			t.Fatalf("%s with seven decimals accepted", field)
		}
		if !strings.Contains(err.Error(), field) {
			t.Errorf("ParsePricing({%q: 0.0000001}) = %q; the error does not name "+
				"the field", field, err)
		}
	}
}

// Contract: missing values are refused, never read as zero. A JSON null is
// no amount, so a dynamic response carrying "amount": null must be refused
// rather than settle at zero (or at minimum_charge).
func TestParseUsageNullIsNotZero(t *testing.T) {
	for _, in := range []string{`{"amount": null}`, `{"tokens_input": null}`,
		`{"custom_units": {"page": null}}`, `{"declined": null}`} {
		u, err := marketplace.ParseUsage([]byte(in))
		if err == nil {
			t.Errorf("ParseUsage(%s) accepted as %+v; a null must be refused, not "+
				"read as zero (Amount.UnmarshalJSON treats null as absent)", in, u)
		}
	}
}
