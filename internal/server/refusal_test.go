package server

import (
	"fmt"
	"strings"
	"testing"
)

// snapshot is every balance and mailbox count a refusal must leave alone.
func (ts *testServer) snapshot(ids []string) string {
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "%s %s inbox=%d sent=%d\n", id, ts.balance(id),
			ts.count(id, "INBOX"), ts.count(id, "Sent"))
	}
	return b.String()
}

func TestEveryRefusalLeavesNothingBehind(t *testing.T) {
	ts := roundTripServer(t)
	for _, id := range []string{"poor", "plainagent", "closed"} {
		ts.addAgent(id)
	}
	ts.credit("poor", "0.10")
	ts.price("closed", `{"pricing_model":"per_request","base_price":0.25,"enabled":false}`)
	mustSend(t, ts, "buyer", "tokens", message("buyer", "tokens", "open", "x",
		"X-AgentMail-Marketplace-Request-Id: open-1"))
	mustSend(t, ts, "buyer", "flat", message("buyer", "flat", "done", "x",
		"X-AgentMail-Marketplace-Request-Id: done-1"))
	mustSend(t, ts, "flat", "buyer", message("flat", "buyer", "re", "y",
		"X-AgentMail-Marketplace-Request-Id: done-1", "X-AgentMail-Usage: {}"))
	everyone := []string{"buyer", "flat", "tokens", "poor", "plainagent", "closed"}

	id := "X-AgentMail-Marketplace-Request-Id: "
	tokUsage := `X-AgentMail-Usage: {"tokens_input":10,"tokens_output":10}`
	cases := []struct {
		name     string
		from     string
		to       []string
		raw      string
		code     int
		enhanced string
		text     string
	}{
		{"insufficient funds", "poor", []string{"flat"},
			message("poor", "flat", "s", "b", id+"poor-1"), 550, "5.7.1",
			"insufficient funds: request needs 0.250000 USD, available 0.100000 USD"},
		{"not a seller", "buyer", []string{"plainagent"},
			message("buyer", "plainagent", "s", "b", id+"ns-1"), 550, "5.7.1",
			"plainagent@localhost is not a seller"},
		{"pricing disabled", "buyer", []string{"closed"},
			message("buyer", "closed", "s", "b", id+"cl-1"), 550, "5.7.1", "disabled its pricing"},
		{"cap below minimum", "buyer", []string{"flat"},
			message("buyer", "flat", "s", "b", id+"cap-1", "X-AgentMail-Max-Charge: 0.10"),
			550, "5.7.1", "0.100000 USD is below the seller's minimum 0.250000 USD"},
		{"no open reservation", "flat", []string{"buyer"},
			message("flat", "buyer", "s", "b", id+"never-1", "X-AgentMail-Usage: {}"),
			550, "5.7.1", "no open reservation for request id never-1"},
		{"response from another seller", "flat", []string{"buyer"},
			message("flat", "buyer", "s", "b", id+"open-1", "X-AgentMail-Usage: {}"),
			550, "5.7.1", "no open reservation for request id open-1"},
		{"id already used", "buyer", []string{"flat"},
			message("buyer", "flat", "s", "b", id+"open-1"), 550, "5.7.1", "open-1 already used"},
		{"different usage for a settled id", "flat", []string{"buyer"},
			message("flat", "buyer", "s", "b", id+"done-1", `X-AgentMail-Usage: {"declined":true}`),
			550, "5.7.1", "already settled with a different usage"},
		{"two recipients", "buyer", []string{"flat", "tokens"},
			message("buyer", "flat", "s", "b", id+"two-1"), 550, "5.7.1", "exactly one recipient"},
		{"bad id", "buyer", []string{"flat"},
			message("buyer", "flat", "s", "b", id+strings.Repeat("x", 129)), 550, "5.6.0",
			"bad request id"},
		{"bad usage JSON", "tokens", []string{"buyer"},
			message("tokens", "buyer", "s", "b", id+"open-1", "X-AgentMail-Usage: {tokens"),
			550, "5.6.0", "usage is not a JSON object"},
		{"negative usage", "tokens", []string{"buyer"},
			message("tokens", "buyer", "s", "b", id+"open-1",
				`X-AgentMail-Usage: {"tokens_input":-1,"tokens_output":1}`),
			550, "5.6.0", "tokens_input must be a non-negative integer"},
		{"missing usage fields", "tokens", []string{"buyer"},
			message("tokens", "buyer", "s", "b", id+"open-1", `X-AgentMail-Usage: {"tokens_input":5}`),
			550, "5.6.0", "needs tokens_input and tokens_output"},
		{"header and body disagree", "tokens", []string{"buyer"},
			message("tokens", "buyer", "s", `{"marketplace_request_id":"other-1"}`, id+"open-1",
				tokUsage), 550, "5.6.0", "disagree"},
		{"usage without id", "tokens", []string{"buyer"},
			message("tokens", "buyer", "s", "b", tokUsage), 550, "5.6.0",
			"usage without a marketplace request id"},
		{"envelope sender is someone else", "buyer", []string{"flat"},
			"", 553, "5.7.1", "not the authenticated agent"},
		{"From: is someone else", "buyer", []string{"flat"},
			message("flat", "flat", "s", "b"), 550, "5.7.1", "not the authenticated agent"},
		{"bare LF", "buyer", []string{"flat"},
			"From: buyer@localhost\r\nSubject: s\r\n\r\nline\n.\r\nMAIL FROM:<x>", 550, "5.5.2",
			"bare CR or LF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := ts.snapshot(everyone)
			var err error
			switch {
			case c.raw == "":
				err = ts.sendAs(c.from, "flat@localhost", c.to, "x\r\n")
			case strings.Contains(strings.ReplaceAll(c.raw, "\r\n", ""), "\n"):
				err = ts.sendAs(c.from, c.from+"@localhost", c.to, c.raw)
			default:
				err = ts.send(c.from, c.to, c.raw)
			}
			code, text := smtpCode(t, err)
			if code != c.code || !strings.HasPrefix(text, c.enhanced+" ") ||
				!strings.Contains(text, c.text) {
				t.Errorf("got %d %q, want %d %s …%s…", code, text, c.code, c.enhanced, c.text)
			}
			if after := ts.snapshot(everyone); after != before {
				t.Errorf("refusal changed state:\nbefore\n%s\nafter\n%s", before, after)
			}
		})
	}
	ts.verifyLedger()
}
