package marketplace_test

import (
	"strings"
	"testing"
	"time"

	"agentmail/billing"
	"agentmail/marketplace"
)

const perRequest = `{"pricing_model":"per_request","base_price":0.25}`

const tokenBased = `{"pricing_model":"token_based","token_price_input":1,` +
	`"token_price_output":2,"max_charge":1}`

func TestSubmitPlainMail(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.setPricing(seller, perRequest)
	res := e.mustSubmit(buyer, seller, msg(buyer, seller, "hello"))
	if res.Kind != marketplace.KindPlain || res.Reserved != 0 {
		t.Errorf("plain mail result = %+v", res)
	}
	e.wantInbox(seller, 1)
	e.wantBalance(buyer, "10", "0")
	e.verify()
}

func TestSubmitPerRequestFlow(t *testing.T) {
	e := newEnv(t, 24*time.Hour)
	e.setPricing(seller, perRequest)

	res := e.request(seller, "r1")
	if res.Kind != marketplace.KindRequest || res.Reserved != amt(t, "0.25") || res.Repeat ||
		res.Free || res.Currency != "USD" {
		t.Errorf("request result = %+v", res)
	}
	e.wantBalance(buyer, "9.75", "0.25")
	msgs := e.wantInbox(seller, 1)
	wantStamp := "X-AgentMail-Reservation: amount=0.250000; currency=USD; " +
		"expires=2026-03-15T12:00:00Z; buyer=buyer@localhost"
	if len(msgs) == 1 && !strings.HasPrefix(firstLine(msgs[0]), wantStamp) {
		t.Errorf("seller's copy starts %q, want %q", firstLine(msgs[0]), wantStamp)
	}
	if len(msgs) == 1 && !strings.Contains(msgs[0], "\r\n\r\nplease\r\n") {
		t.Errorf("seller's copy lost the body:\n%s", msgs[0])
	}

	res = e.request(seller, "r1")
	if !res.Repeat || res.Reserved != amt(t, "0.25") {
		t.Errorf("retried request result = %+v, want Repeat", res)
	}
	e.wantInbox(seller, 1)
	e.wantBalance(buyer, "9.75", "0.25")
	hist, _, _ := e.ledger.History(buyer, billing.HistoryFilter{}, 0, 100)
	if len(hist) != 2 { // credit and one reserve
		t.Errorf("buyer history has %d entries after a retry, want 2", len(hist))
	}

	res = e.respond(seller, "r1", `{"outcomes_returned": 1}`)
	if res.Kind != marketplace.KindResponse || res.Charged != amt(t, "0.25") ||
		res.Released != 0 || res.Repeat {
		t.Errorf("response result = %+v", res)
	}
	e.wantBalance(buyer, "9.75", "0")
	e.wantBalance(seller, "0.25", "0")
	msgs = e.wantInbox(buyer, 1)
	wantSettle := "X-AgentMail-Settlement: charged=0.250000; released=0.000000; " +
		"currency=USD; seller=seller@localhost"
	if len(msgs) == 1 && !strings.HasPrefix(firstLine(msgs[0]), wantSettle) {
		t.Errorf("buyer's copy starts %q, want %q", firstLine(msgs[0]), wantSettle)
	}

	res = e.respond(seller, "r1", `{"outcomes_returned": 1}`)
	if !res.Repeat || res.Charged != amt(t, "0.25") {
		t.Errorf("repeated response result = %+v, want Repeat", res)
	}
	e.wantInbox(buyer, 1)
	e.wantBalance(seller, "0.25", "0")

	before := e.state()
	_, err := e.submit(seller, buyer, msg(seller, buyer, "done", reqID("r1"),
		usageHdr(`{"outcomes_returned": 2}`)))
	wantRefusal(t, err, "5.7.1", "r1")
	e.wantState(before)

	res, err = e.submit(buyer, seller, msg(buyer, seller, "again", reqID("r1")))
	wantRefusal(t, err, "5.7.1", "already used")
	e.wantState(before)
	// The refusal still names the request, for the transaction's log line.
	if res.Kind != marketplace.KindRequest || res.RequestID != "r1" || res.Reserved != 0 {
		t.Errorf("refused request's result = %+v, want kind request and id r1 only", res)
	}

	rows, _, err := e.m.UsageRows(buyer, marketplace.UsageFilter{}, "", 10)
	if err != nil || len(rows) != 1 || rows[0].Status != marketplace.StatusSettled ||
		rows[0].Role != marketplace.RoleBuyer || rows[0].Counterparty != seller ||
		rows[0].Charged != amt(t, "0.25") {
		t.Errorf("buyer usage rows = %+v, %v", rows, err)
	}
	e.verify()
}

func TestSubmitTokenBasedFlow(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.setPricing(seller, tokenBased)

	if res := e.request(seller, "t1"); res.Reserved != amt(t, "1") {
		t.Errorf("token_based request reserved %s, want max_charge 1", res.Reserved)
	}
	e.wantBalance(buyer, "9", "1")
	res := e.respond(seller, "t1", `{"tokens_input": 100000, "tokens_output": 50000}`)
	if res.Charged != amt(t, "0.2") || res.Released != amt(t, "0.8") {
		t.Errorf("response result = %+v, want charged 0.2 released 0.8", res)
	}
	e.wantBalance(buyer, "9.8", "0")
	e.wantBalance(seller, "0.2", "0")
	msgs := e.wantInbox(buyer, 1)
	if len(msgs) == 1 && !strings.HasPrefix(firstLine(msgs[0]),
		"X-AgentMail-Settlement: charged=0.200000; released=0.800000; currency=USD") {
		t.Errorf("settlement stamp = %q", firstLine(msgs[0]))
	}

	// The buyer's cap lowers the reservation, and the charge is capped by it.
	if res := e.request(seller, "t2", "X-AgentMail-Max-Charge: 0.5"); res.Reserved !=
		amt(t, "0.5") {
		t.Errorf("capped request reserved %s, want 0.5", res.Reserved)
	}
	e.wantBalance(buyer, "9.3", "0.5")
	res = e.respond(seller, "t2", `{"tokens_input": 1000000, "tokens_output": 0}`)
	if res.Charged != amt(t, "0.5") || res.Released != 0 {
		t.Errorf("over-cap response = %+v, want charged 0.5", res)
	}
	msgs = e.wantInbox(buyer, 2)
	if len(msgs) == 2 && !strings.Contains(firstLine(msgs[1]), "capped=true") {
		t.Errorf("capped settlement stamp = %q", firstLine(msgs[1]))
	}
	e.wantBalance(buyer, "9.3", "0")
	e.wantBalance(seller, "0.7", "0")

	// A declined request returns everything.
	e.request(seller, "t3")
	res = e.respond(seller, "t3", `{"declined": true}`)
	if res.Charged != 0 || res.Released != amt(t, "1") {
		t.Errorf("declined response = %+v", res)
	}
	e.wantBalance(buyer, "9.3", "0")
	rows, _, _ := e.m.UsageRows(seller, marketplace.UsageFilter{}, "", 10)
	if len(rows) != 3 || rows[0].RequestID != "t3" || rows[0].Status != marketplace.StatusDeclined ||
		rows[0].Role != marketplace.RoleSeller {
		t.Errorf("seller usage rows = %+v", rows)
	}
	e.verify()
}

func TestSubmitDynamicFlow(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.setPricing(seller, `{"pricing_model":"dynamic","max_charge":2,"minimum_charge":0.1}`)
	e.request(seller, "d1")
	e.wantBalance(buyer, "8", "2")
	res := e.respond(seller, "d1", `{"amount": "0.333333"}`)
	if res.Charged != amt(t, "0.333333") || res.Released != amt(t, "1.666667") {
		t.Errorf("dynamic response = %+v", res)
	}
	e.wantBalance(buyer, "9.666667", "0")
	e.wantBalance(seller, "0.333333", "0")
	e.verify()
}

func TestSubmitRefusals(t *testing.T) {
	long := strings.Repeat("x", 129)
	tests := []struct {
		name     string
		ttl      time.Duration
		setup    func(e *env)
		from, to string
		raw      []byte
		rcpts    []string // overrides to
		enhanced string
		text     string
	}{
		{name: "insufficient funds",
			setup: func(e *env) { _, _ = e.ledger.Debit(transfer(e, buyer, "9.9")) },
			from:  buyer, to: seller, raw: msg(buyer, seller, "x", reqID("r1")),
			enhanced: "5.7.1",
			text:     "insufficient funds: request needs 0.250000 USD, available 0.100000 USD"},
		{name: "not a seller", from: buyer, to: other,
			raw:      msg(buyer, other, "x", reqID("r1")),
			enhanced: "5.7.1", text: "not a seller"},
		{name: "pricing disabled",
			setup: func(e *env) {
				e.setPricing(seller2, `{"base_price":0.25,"enabled":false}`)
			},
			from: buyer, to: seller2, raw: msg(buyer, seller2, "x", reqID("r1")),
			enhanced: "5.7.1", text: "disabled"},
		{name: "buyer cap below minimum", from: buyer, to: seller,
			raw:      msg(buyer, seller, "x", reqID("r1"), "X-AgentMail-Max-Charge: 0.249999"),
			enhanced: "5.7.1", text: "0.249999"},
		{name: "bad max charge", from: buyer, to: seller,
			raw:      msg(buyer, seller, "x", reqID("r1"), "X-AgentMail-Max-Charge: 0.1234567"),
			enhanced: "5.6.0", text: "Max-Charge"},
		{name: "response without reservation", from: seller, to: buyer,
			raw:      msg(seller, buyer, "x", reqID("never"), usageHdr(`{}`)),
			enhanced: "5.7.1", text: "no open reservation"},
		{name: "response from another agent",
			setup: func(e *env) { e.request(seller, "r1") },
			from:  other, to: buyer,
			raw:      msg(other, buyer, "x", reqID("r1"), usageHdr(`{}`)),
			enhanced: "5.7.1", text: "no open reservation"},
		{name: "response to the wrong buyer",
			setup: func(e *env) { e.request(seller, "r1") },
			from:  seller, to: other,
			raw:      msg(seller, other, "x", reqID("r1"), usageHdr(`{}`)),
			enhanced: "5.7.1", text: "no open reservation"},
		{name: "expired", ttl: time.Minute,
			setup: func(e *env) {
				e.request(seller, "r1")
				e.clk.Advance(time.Minute)
			},
			from: seller, to: buyer, raw: msg(seller, buyer, "x", reqID("r1"), usageHdr(`{}`)),
			enhanced: "5.7.1", text: "expired"},
		{name: "expired and swept", ttl: time.Minute,
			setup: func(e *env) {
				e.request(seller, "r1")
				e.clk.Advance(2 * time.Minute)
				if n, err := e.m.ExpireDue(); n != 1 || err != nil {
					e.t.Fatalf("ExpireDue = %d, %v", n, err)
				}
				e.wantBalance(buyer, "10", "0")
			},
			from: seller, to: buyer, raw: msg(seller, buyer, "x", reqID("r1"), usageHdr(`{}`)),
			enhanced: "5.7.1", text: "expired"},
		{name: "retry after expiry", ttl: time.Minute,
			setup: func(e *env) {
				e.request(seller, "r1")
				e.clk.Advance(time.Minute)
			},
			from: buyer, to: seller, raw: msg(buyer, seller, "x", reqID("r1")),
			enhanced: "5.7.1", text: "already used"},
		{name: "id reused to another seller",
			setup: func(e *env) {
				e.setPricing(seller2, perRequest)
				e.request(seller, "r1")
			},
			from: buyer, to: seller2, raw: msg(buyer, seller2, "x", reqID("r1")),
			enhanced: "5.7.1", text: "already used"},
		{name: "different usage for a settled id",
			setup: func(e *env) {
				e.request(seller, "r1")
				e.respond(seller, "r1", `{}`)
			},
			from: seller, to: buyer,
			raw:      msg(seller, buyer, "x", reqID("r1"), usageHdr(`{"declined":true}`)),
			enhanced: "5.7.1", text: "different usage"},
		{name: "id with a space", from: buyer, to: seller,
			raw:      msg(buyer, seller, "x", reqID("r 1")),
			enhanced: "5.6.0", text: "request id"},
		{name: "id with a tab", from: buyer, to: seller,
			raw:      msg(buyer, seller, "x", "X-AgentMail-Marketplace-Request-Id: a\tb"),
			enhanced: "5.6.0", text: "request id"},
		{name: "id with non-ASCII", from: buyer, to: seller,
			raw:      msg(buyer, seller, "x", reqID("r\u00e91")),
			enhanced: "5.6.0", text: "request id"},
		{name: "id of 129 characters", from: buyer, to: seller,
			raw:      msg(buyer, seller, "x", reqID(long)),
			enhanced: "5.6.0", text: "129"},
		{name: "id twice", from: buyer, to: seller,
			raw:      msg(buyer, seller, "x", reqID("r1"), reqID("r2")),
			enhanced: "5.6.0", text: "2 times"},
		{name: "empty id in body", from: buyer, to: seller,
			raw:      msg(buyer, seller, `{"marketplace_request_id": ""}`),
			enhanced: "5.6.0", text: "request id"},
		{name: "bad usage JSON",
			setup: func(e *env) { e.request(seller, "r1") },
			from:  seller, to: buyer,
			raw:      msg(seller, buyer, "x", reqID("r1"), usageHdr(`{"tokens_input": }`)),
			enhanced: "5.6.0", text: "usage"},
		{name: "negative usage",
			setup: func(e *env) { e.request(seller, "r1") },
			from:  seller, to: buyer,
			raw:      msg(seller, buyer, "x", reqID("r1"), usageHdr(`{"outcomes_returned": -1}`)),
			enhanced: "5.6.0", text: "outcomes_returned"},
		{name: "missing token counts for token_based",
			setup: func(e *env) {
				e.setPricing(seller2, tokenBased)
				e.request(seller2, "r1")
			},
			from: seller2, to: buyer,
			raw:      msg(seller2, buyer, "x", reqID("r1"), usageHdr(`{"tokens_input": 5}`)),
			enhanced: "5.6.0", text: "tokens_output"},
		{name: "amount for a non-dynamic model",
			setup: func(e *env) { e.request(seller, "r1") },
			from:  seller, to: buyer,
			raw:      msg(seller, buyer, "x", reqID("r1"), usageHdr(`{"amount": 0.01}`)),
			enhanced: "5.6.0", text: "amount"},
		{name: "unpriced custom unit",
			setup: func(e *env) { e.request(seller, "r1") },
			from:  seller, to: buyer,
			raw: msg(seller, buyer, "x", reqID("r1"),
				usageHdr(`{"custom_units": {"pages": 1}}`)),
			enhanced: "5.6.0", text: "pages"},
		{name: "header and body ids disagree", from: buyer, to: seller,
			raw:      msg(buyer, seller, `{"marketplace_request_id": "r2"}`, reqID("r1")),
			enhanced: "5.6.0", text: "disagree"},
		{name: "header and body usage disagree",
			setup: func(e *env) { e.request(seller, "r1") },
			from:  seller, to: buyer,
			raw: msg(seller, buyer, `{"usage": {"outcomes_returned": 2}}`, reqID("r1"),
				usageHdr(`{"outcomes_returned": 1}`)),
			enhanced: "5.6.0", text: "disagree"},
		{name: "usage without id", from: seller, to: buyer,
			raw:      msg(seller, buyer, "x", usageHdr(`{}`)),
			enhanced: "5.6.0", text: "without"},
		{name: "usage in body without id", from: seller, to: buyer,
			raw:      msg(seller, buyer, `{"usage": {"outcomes_returned": 1}}`),
			enhanced: "5.6.0", text: "without"},
		{name: "two recipients", from: buyer, rcpts: []string{seller, seller2},
			raw:      msg(buyer, seller, "x", reqID("r1")),
			enhanced: "5.7.1", text: "exactly one recipient"},
		{name: "unknown recipient", from: buyer, to: "ghost@localhost",
			raw:      msg(buyer, "ghost@localhost", "x", reqID("r1")),
			enhanced: "5.1.1", text: "ghost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ttl := tt.ttl
			if ttl == 0 {
				ttl = time.Hour
			}
			e := newEnv(t, ttl)
			e.setPricing(seller, perRequest)
			if tt.setup != nil {
				tt.setup(e)
			}
			before := e.state()
			rcpts := tt.rcpts
			if rcpts == nil {
				rcpts = []string{tt.to}
			}
			_, err := e.m.Submit(marketplace.Submission{Sender: tt.from, Recipients: rcpts,
				Raw: tt.raw})
			wantRefusal(t, err, tt.enhanced, tt.text)
			e.wantState(before)
			e.verify()
		})
	}
}

func transfer(e *env, agent, amount string) billing.Transfer {
	return billing.Transfer{Agent: agent, Currency: "USD", Amount: amt(e.t, amount)}
}
