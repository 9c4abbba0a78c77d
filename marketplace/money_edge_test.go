package marketplace_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"agentmail/billing"
	"agentmail/marketplace"
)

// The money edge cases of issue 3, end to end through Submit: the charge in
// the result, the balances, the stamp and the usage row must all agree.
// ComputeCharge's own table (charge_test.go) covers the formula alone.
func TestSubmitMoneyEdges(t *testing.T) {
	tests := []struct {
		name     string
		pricing  string
		cap      string // X-AgentMail-Max-Charge, if any
		usage    string
		reserved string
		charged  string
		capped   bool
	}{
		{name: "1 token at 0.10 per million rounds to zero",
			pricing: `{"pricing_model":"token_based","token_price_input":0.1,"max_charge":1}`,
			usage:   `{"tokens_input": 1, "tokens_output": 0}`, reserved: "1", charged: "0"},
		{name: "5 tokens at 0.10 per million round half away from zero",
			pricing: `{"pricing_model":"token_based","token_price_input":0.1,"max_charge":1}`,
			usage:   `{"tokens_input": 5, "tokens_output": 0}`, reserved: "1",
			charged: "0.000001"},
		{name: "999,999 tokens at 0.10 per million",
			pricing: `{"pricing_model":"token_based","token_price_input":0.1,"max_charge":1}`,
			usage:   `{"tokens_input": 999999, "tokens_output": 0}`, reserved: "1",
			charged: "0.1"},
		{name: "999,999 output tokens at 1 per million",
			pricing: `{"pricing_model":"token_based","token_price_output":1,"max_charge":1}`,
			usage:   `{"tokens_input": 0, "tokens_output": 999999}`, reserved: "1",
			charged: "0.999999"},
		{name: "token prices 0.1 + 0.2",
			pricing: `{"pricing_model":"token_based","token_price_input":0.1,` +
				`"token_price_output":0.2,"max_charge":1}`,
			usage: `{"tokens_input": 1000000, "tokens_output": 1000000}`, reserved: "1",
			charged: "0.3"},
		{name: "base 0.1 + outcome 0.2",
			pricing: `{"pricing_model":"outcome_based","base_price":0.1,"outcome_price":0.2,` +
				`"max_charge":1}`,
			usage: `{"outcomes_returned": 1}`, reserved: "1", charged: "0.3"},
		{name: "custom units 0.1 + 0.2",
			pricing: `{"pricing_model":"unit_based","custom_unit_prices":{"a":"0.1","b":"0.2"},` +
				`"max_charge":1}`,
			usage: `{"custom_units": {"a": 1, "b": 1}}`, reserved: "1", charged: "0.3"},
		{name: "minimum_charge is the hold of a per_request seller",
			pricing: `{"base_price":0.1,"minimum_charge":0.5}`,
			usage:   `{}`, reserved: "0.5", charged: "0.5"},
		{name: "minimum_charge applies below it",
			pricing: `{"pricing_model":"token_based","token_price_input":1,` +
				`"minimum_charge":0.05,"max_charge":1}`,
			usage: `{"tokens_input": 10, "tokens_output": 0}`, reserved: "1", charged: "0.05"},
		{name: "minimum_charge equal to the buyer's cap",
			pricing: `{"pricing_model":"dynamic","minimum_charge":0.3,"max_charge":1}`,
			cap:     "0.3", usage: `{"amount": "0.01"}`, reserved: "0.3", charged: "0.3"},
		{name: "charge above max_charge is capped",
			pricing: `{"pricing_model":"token_based","token_price_input":1,"max_charge":1}`,
			usage:   `{"tokens_input": 10000000, "tokens_output": 0}`, reserved: "1",
			charged: "1", capped: true},
		{name: "charge above the buyer's cap is capped",
			pricing: `{"pricing_model":"token_based","token_price_input":1,"max_charge":1}`,
			cap:     "0.123456", usage: `{"tokens_input": 123457, "tokens_output": 0}`,
			reserved: "0.123456", charged: "0.123456", capped: true},
		{name: "charge equal to the hold is not capped",
			pricing: `{"pricing_model":"token_based","token_price_input":1,"max_charge":1}`,
			cap:     "0.123456", usage: `{"tokens_input": 123456, "tokens_output": 0}`,
			reserved: "0.123456", charged: "0.123456"},
		{name: "dynamic amount above the hold is capped",
			pricing: `{"pricing_model":"dynamic","max_charge":2}`,
			usage:   `{"amount": 999999999}`, reserved: "2", charged: "2", capped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, time.Hour)
			e.setPricing(seller, tt.pricing)
			var extra []string
			if tt.cap != "" {
				extra = append(extra, marketplace.HeaderMaxCharge+": "+tt.cap)
			}
			if res := e.request(seller, "r1", extra...); res.Reserved != amt(t, tt.reserved) {
				t.Fatalf("reserved %s, want %s", res.Reserved, tt.reserved)
			}
			res := e.respond(seller, "r1", tt.usage)
			charged, reserved := amt(t, tt.charged), amt(t, tt.reserved)
			if res.Charged != charged || res.Released != reserved-charged {
				t.Errorf("charged %s released %s, want %s and %s", res.Charged, res.Released,
					charged, reserved-charged)
			}
			e.wantBalance(buyer, (amt(t, "10") - charged).String(), "0")
			e.wantBalance(seller, charged.String(), "0")

			msgs := e.wantInbox(buyer, 1)
			if len(msgs) == 1 {
				stamp := firstLine(msgs[0])
				if !strings.Contains(stamp, "charged="+charged.String()) ||
					strings.Contains(stamp, "capped=true") != tt.capped {
					t.Errorf("stamp %q, want charged=%s capped %v", stamp, charged, tt.capped)
				}
			}
			for _, agent := range []string{buyer, seller} {
				rows, _, err := e.m.UsageRows(agent, marketplace.UsageFilter{}, "", 0)
				if err != nil || len(rows) != 1 {
					t.Fatalf("%s usage rows: %+v, %v", agent, rows, err)
				}
				r := rows[0]
				if r.Charged != charged || r.Capped != tt.capped || r.Reserved != reserved {
					t.Errorf("%s usage row: charged %s capped %v reserved %s", agent,
						r.Charged, r.Capped, r.Reserved)
				}
				data, _ := json.Marshal(r)
				if !strings.Contains(string(data), `"charged":`+charged.Compact()+",") {
					t.Errorf("%s usage row JSON %s, want charged written %s", agent, data,
						charged.Compact())
				}
			}
			e.verify()
		})
	}
}

// Token counts near 2^63 and 2^64 are refused as malformed usage, never
// wrapped into a small or negative charge: nothing is billed and the
// reservation stays open for a correct response.
func TestSubmitHugeTokenCountsRefused(t *testing.T) {
	counts := []string{"1000000000000000001", "9223372036854775807", "9223372036854775808",
		"9223372036854775809", "18446744073709551615", "18446744073709551616",
		"18446744073709551617", "36893488147419103232", "-9223372036854775808",
		"9.223372036854775807e18", "1e19"}
	e := newEnv(t, time.Hour)
	e.setPricing(seller, `{"pricing_model":"token_based","token_price_input":1,`+
		`"token_price_output":1,"max_charge":1}`)
	e.request(seller, "r1")
	before := e.state()
	for _, n := range counts {
		for _, usage := range []string{
			`{"tokens_input": ` + n + `, "tokens_output": 0}`,
			`{"tokens_input": 0, "tokens_output": ` + n + `}`,
		} {
			_, err := e.submit(seller, buyer, msg(seller, buyer, "x", reqID("r1"),
				usageHdr(usage)))
			wantRefusal(t, err, "5.6.0", "tokens_")
		}
	}
	e.wantState(before)
	res := e.respond(seller, "r1", `{"tokens_input": 1000000, "tokens_output": 0}`)
	if res.Charged != amt(t, "1") {
		t.Errorf("the correct response after the refusals charged %s, want 1", res.Charged)
	}
	e.verify()
}

// setClock moves the ledger clock to at.
func (e *env) setClock(at time.Time) {
	e.t.Helper()
	if at.Before(e.clk.Now()) {
		e.t.Fatalf("clock would move back from %v to %v", e.clk.Now(), at)
	}
	e.clk.Advance(at.Sub(e.clk.Now()))
}

// free_quota counts per UTC calendar month: N requests are free, the N+1th
// reserves, and the first instant of the next month starts afresh.
func TestSubmitFreeQuotaMonthBoundary(t *testing.T) {
	for _, lastInstant := range []time.Time{
		time.Date(2026, 3, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(2026, 3, 31, 23, 59, 59, 999_999_000, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999_000_000, time.UTC), // and a new year
	} {
		t.Run(lastInstant.Format(time.RFC3339Nano), func(t *testing.T) {
			e := newEnv(t, time.Hour)
			e.setPricing(seller, `{"base_price":0.25,"free_quota":2}`)
			e.setClock(lastInstant)
			for i, want := range []bool{true, true, false} {
				res := e.request(seller, "old"+string(rune('a'+i)))
				if res.Free != want || (res.Reserved == 0) != want {
					t.Errorf("request %d at %v: free %v reserved %s, want free %v", i+1,
						lastInstant, res.Free, res.Reserved, want)
				}
			}
			e.wantBalance(buyer, "9.75", "0.25")

			midnight := lastInstant.Truncate(time.Second).Add(time.Second)
			if midnight.Day() != 1 || midnight.Hour() != 0 {
				t.Fatalf("test set-up: %v is not the first instant of a month", midnight)
			}
			e.setClock(midnight)
			for i, want := range []bool{true, true, false} {
				res := e.request(seller, "new"+string(rune('a'+i)))
				if res.Free != want {
					t.Errorf("request %d at %v: free %v, want %v", i+1, midnight, res.Free,
						want)
				}
			}
			e.wantBalance(buyer, "9.5", "0.5")
			e.verify()
		})
	}
}

// A seller priced in EUR cannot reserve from a buyer's USD: the refusal is
// insufficient funds and names the currency; there is no conversion.
func TestSubmitCurrencyMismatch(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.setPricing(seller, `{"base_price":0.25,"currency":"EUR"}`)
	before := e.state()
	_, err := e.submit(buyer, seller, msg(buyer, seller, "x", reqID("r1")))
	wantRefusal(t, err, "5.7.1",
		"insufficient funds: request needs 0.250000 EUR, available 0.000000 EUR")
	e.wantState(before)

	_, err = e.ledger.Credit(billing.Transfer{Agent: buyer, Currency: "EUR",
		Amount: amt(t, "1")})
	if err != nil {
		t.Fatal(err)
	}
	if res := e.request(seller, "r1"); res.Currency != "EUR" || res.Reserved != amt(t, "0.25") {
		t.Errorf("EUR request = %+v", res)
	}
	e.wantBalance(buyer, "10", "0") // the USD wallet is untouched
	e.respond(seller, "r1", `{}`)
	bs, err := e.ledger.Balances(seller)
	if err != nil || len(bs) != 1 || bs[0].Currency != "EUR" ||
		bs[0].Available != amt(t, "0.25") {
		t.Errorf("seller balances %+v, %v; want 0.25 EUR", bs, err)
	}
	e.verify()
}

func TestPlatformFeeRounding(t *testing.T) {
	const pct = 1_000_000 // one percent in micro-percent
	tests := []struct {
		charge  string
		percent int64 // micro-percent
		want    string
	}{
		{"0.000001", 2_500_000, "0"},         // 0.000000025
		{"0.00002", 2_500_000, "0.000001"},   // 0.0000005, half away from zero
		{"0.000019", 2_500_000, "0"},         // 0.000000475
		{"0.00006", 2_500_000, "0.000002"},   // 0.0000015
		{"0.00014", 2_500_000, "0.000004"},   // 0.0000035
		{"0.000003", 33_333_333, "0.000001"}, // 0.00000099999999
		{"1", 2_500_000, "0.025"},
		{"0.3", 10 * pct, "0.03"},
		{"1", 100 * pct, "1"},
		{"1", 0, "0"},
		{"0", 2_500_000, "0"},
		{"1000000000000", 1, "10000"},                 // one micro-percent of AmountMax
		{"1000000000000", 100 * pct, "1000000000000"}, // all of AmountMax
		{"999999999999.999999", 99_999_999, "999999989999.999999"},
	}
	for _, tt := range tests {
		got := marketplace.PlatformFee(amt(t, tt.charge), tt.percent)
		if got != amt(t, tt.want) {
			t.Errorf("PlatformFee(%s, %d µ%%) = %s, want %s", tt.charge, tt.percent, got,
				tt.want)
		}
	}
}

// The fee is taken from the seller's proceeds at settlement, rounded once,
// and shown in the stamp and in both parties' usage rows.
func TestSubmitPlatformFee(t *testing.T) {
	tests := []struct {
		base, fee, proceeds string
	}{
		{"0.000001", "0", "0.000001"},
		{"0.00002", "0.000001", "0.000019"},
		{"0.000019", "0", "0.000019"},
		{"1", "0.025", "0.975"},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			e := newEnv(t, time.Hour)
			m, err := marketplace.New(e.ledger, e.mail, marketplace.Config{
				ReservationTTL: time.Hour, PlatformFeeMicroPercent: 2_500_000})
			if err != nil {
				t.Fatal(err)
			}
			e.m = m
			e.setPricing(seller, `{"base_price":"`+tt.base+`"}`)
			e.request(seller, "r1")
			res := e.respond(seller, "r1", `{}`)
			if res.Charged != amt(t, tt.base) || res.Fee != amt(t, tt.fee) {
				t.Errorf("charged %s fee %s, want %s and %s", res.Charged, res.Fee, tt.base,
					tt.fee)
			}
			e.wantBalance(seller, tt.proceeds, "0")
			e.wantBalance(buyer, (amt(t, "10") - amt(t, tt.base)).String(), "0")
			totals, err := e.ledger.Totals()
			if err != nil || len(totals) != 1 || totals[0].Platform != amt(t, tt.fee) {
				t.Errorf("totals %+v, %v; want platform %s", totals, err, tt.fee)
			}
			msgs := e.wantInbox(buyer, 1)
			if len(msgs) == 1 && !strings.Contains(firstLine(msgs[0]),
				"fee="+amt(t, tt.fee).String()) {
				t.Errorf("stamp %q lacks fee=%s", firstLine(msgs[0]), amt(t, tt.fee))
			}
			for _, agent := range []string{buyer, seller} {
				rows, _, _ := e.m.UsageRows(agent, marketplace.UsageFilter{}, "", 0)
				if len(rows) != 1 || rows[0].Fee != amt(t, tt.fee) {
					t.Errorf("%s usage rows %+v, want fee %s", agent, rows, tt.fee)
				}
			}
			e.verify()
		})
	}
}

// A price with seven decimals is refused in every price field, and so is a
// dynamic amount; the refusal changes nothing.
func TestSevenDecimalsRefused(t *testing.T) {
	for _, field := range []string{`"base_price":0.1234567`, `"token_price_input":"0.0000001"`,
		`"token_price_output":1.0000001`, `"outcome_price":0.0000005`,
		`"compute_price":0.1000001`, `"minimum_charge":0.0000001`, `"max_charge":2.0000001`,
		`"custom_unit_prices":{"page":0.0000001}`} {
		js := `{"pricing_model":"dynamic","max_charge":5,` + field + `}`
		if strings.Contains(field, "max_charge") {
			js = `{"pricing_model":"dynamic",` + field + `}`
		}
		if p, err := marketplace.ParsePricing([]byte(js)); err == nil {
			t.Errorf("ParsePricing(%s) accepted as %+v", js, p)
		}
	}

	e := newEnv(t, time.Hour)
	e.setPricing(seller, `{"pricing_model":"dynamic","max_charge":1}`)
	e.request(seller, "r1")
	before := e.state()
	for _, a := range []string{`0.0000001`, `"0.1234567"`, `0.9999995`} {
		_, err := e.submit(seller, buyer, msg(seller, buyer, "x", reqID("r1"),
			usageHdr(`{"amount": `+a+`}`)))
		wantRefusal(t, err, "5.6.0", "amount")
	}
	_, err := e.submit(buyer, seller, msg(buyer, seller, "x", reqID("r2"),
		marketplace.HeaderMaxCharge+": 0.5000001"))
	wantRefusal(t, err, "5.6.0", "Max-Charge")
	e.wantState(before)
	e.verify()
}
