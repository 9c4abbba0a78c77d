package smtpd

import (
	"strings"
	"testing"
)

// Sender binding: the envelope sender and every From: address must be the
// authenticated agent; anything else is refused with 5.7.1 before a byte
// is billed (RFC 6409 section 8).
func TestSenderBinding(t *testing.T) {
	h := newHarness(t, nil)
	if _, err := h.admin.AddAgent("kate", testPassword); err != nil {
		t.Fatal(err)
	}
	paid := "X-AgentMail-Marketplace-Request-Id: bind-1"
	cases := []struct {
		name   string
		as     string
		header string // the From: line(s)
		code   int
		enh    string
	}{
		{"display name, other address", "buyer", `From: "Buyer" <other@localhost>`, 550, "5.7.1"},
		{"agent's name as display name", "buyer", `From: "buyer@localhost" <other@localhost>`,
			550, "5.7.1"},
		{"two addresses, one other", "buyer", "From: buyer@localhost, other@localhost", 550, "5.7.1"},
		{"two addresses, other first", "buyer", `From: <other@localhost>, "B" <buyer@localhost>`,
			550, "5.7.1"},
		{"second From: field", "buyer", "From: buyer@localhost\r\nFrom: other@localhost",
			550, "5.7.1"},
		{"white space before colon", "buyer", "From : other@localhost", 550, "5.7.1"},
		{"lower-case name, folded", "buyer", "from:\r\n other@localhost", 550, "5.7.1"},
		{"comment holding the agent", "buyer", "From: other@localhost (buyer@localhost)",
			550, "5.7.1"},
		{"encoded word", "buyer", "From: =?utf-8?q?buyer?= <other@localhost>", 550, "5.7.1"},
		{"empty group", "buyer", "From: undisclosed:;", 550, "5.7.1"},
		{"Kelvin sign folds to k", "kate", "From: <\u212Aate@localhost>", 550, "5.7.1"},
		{"unreadable", "buyer", "From: <<<", 550, "5.6.0"},
		{"plain address", "buyer", "From: buyer@localhost", 250, ""},
		{"display name", "buyer", `From: "Buyer Bot" <buyer@localhost>`, 250, ""},
		{"upper case", "buyer", "From: BUYER@LOCALHOST", 250, ""},
		{"UTF-8 display name", "buyer", "From: \"Bj\u00f6rn \u2713\" <buyer@localhost>", 250, ""},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := h.dial()
			cl.login(c.as)
			before := h.state()
			id := strings.Replace(paid, "bind-1", "bind-"+itoa(i), 1)
			raw := c.header + "\r\nTo: seller@localhost\r\n" + id + "\r\n\r\nbody\r\n"
			code, text := cl.send(c.as, "seller", raw)
			if code != c.code || (c.enh != "" && !strings.HasPrefix(text, c.enh+" ")) {
				t.Fatalf("got %d %q, want %d %s", code, text, c.code, c.enh)
			}
			if code != 250 && h.state() != before {
				t.Errorf("refused message changed state:\n%s\n%s", before, h.state())
			}
		})
	}

	c := h.dial()
	c.login("buyer")
	for _, from := range []string{"other@localhost", "<>", "buyer@elsewhere.example"} {
		code, text := c.cmd("MAIL FROM:<" + strings.Trim(from, "<>") + ">")
		if code != 553 || !strings.HasPrefix(text, "5.7.1 ") {
			t.Errorf("MAIL FROM %s: %d %q, want 553 5.7.1", from, code, text)
		}
	}
	h.verifyLedger()
}

// Stamps are the server's: a client's X-AgentMail-Reservation and
// X-AgentMail-Settlement are removed in every spelling, and a paid request
// carries exactly one reservation stamp, the server's.
func TestForgedStampsStripped(t *testing.T) {
	h := newHarness(t, nil)
	c := h.dial()
	c.login("buyer")
	forged := []string{
		"X-AgentMail-Reservation: amount=0.000000; currency=USD",
		"x-agentmail-settlement: charged=0.000000",
		"X-AGENTMAIL-RESERVATION :\r\n amount=99.000000",
		"X-AgentMail-Settlement:\tcharged=5.000000; released=0.000000",
	}
	code, text := c.send("buyer", "other", message("buyer", "other", "free", "b", forged...))
	if code != 250 {
		t.Fatalf("plain mail: %d %q", code, text)
	}
	code, text = c.send("buyer", "seller", message("buyer", "seller", "paid", "b",
		append(forged, "X-AgentMail-Marketplace-Request-Id: stamp-1")...))
	if code != 250 {
		t.Fatalf("paid request: %d %q", code, text)
	}
	for _, raw := range append(h.inbox("other"), h.inbox("seller")...) {
		s := strings.ToLower(string(raw))
		if strings.Contains(s, "amount=0.000000") || strings.Contains(s, "amount=99") ||
			strings.Contains(s, "charged=") {
			t.Errorf("forged stamp delivered:\n%s", raw)
		}
	}
	seller := string(h.inbox("seller")[0])
	if n := strings.Count(strings.ToLower(seller), "x-agentmail-reservation:"); n != 1 ||
		!strings.Contains(seller, "amount=0.250000; currency=USD") {
		t.Errorf("seller's copy has %d reservation stamps, want the server's one:\n%s", n, seller)
	}
	h.verifyLedger()
}
