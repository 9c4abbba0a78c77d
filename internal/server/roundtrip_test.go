package server

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

const (
	perRequestPricing = `{"pricing_model":"per_request","base_price":0.25,"currency":"USD"}`
	tokenPricing      = `{"pricing_model":"token_based","base_price":"0.01",
		"token_price_input":1.00,"token_price_output":2.00,"max_charge":0.50}`
)

// roundTripServer has a buyer with 10.00 USD, a per-request seller at 0.25
// and a token-based seller with max_charge 0.50.
func roundTripServer(t *testing.T) *testServer {
	ts := startServer(t, t.TempDir(), newClock())
	t.Cleanup(func() { ts.Close() })
	for _, id := range []string{"buyer", "flat", "tokens"} {
		ts.addAgent(id)
	}
	ts.credit("buyer", "10.00")
	ts.price("flat", perRequestPricing)
	ts.price("tokens", tokenPricing)
	return ts
}

func TestPaidRoundTrip(t *testing.T) {
	ts := roundTripServer(t)

	// The token seller waits in IDLE; the request must wake it.
	exists := make(chan uint32, 4)
	idler := ts.imapLogin("tokens", &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				if data.NumMessages != nil {
					exists <- *data.NumMessages
				}
			},
		},
	})
	defer idler.Close()
	if _, err := idler.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := idler.Idle()
	if err != nil {
		t.Fatal(err)
	}

	mustSend(t, ts, "buyer", "flat", message("buyer", "flat", "summarize", `{"text":"hi"}`,
		"X-AgentMail-Marketplace-Request-Id: req-flat-1"))
	if got := ts.balance("buyer"); got != "9.750000/0.250000" {
		t.Errorf("after flat request buyer = %s, want 9.750000/0.250000", got)
	}
	mustSend(t, ts, "buyer", "tokens", message("buyer", "tokens", "translate", "bonjour",
		"X-AgentMail-Marketplace-Request-Id: req-tok-1"))
	if got := ts.balance("buyer"); got != "9.250000/0.750000" {
		t.Errorf("after token request buyer = %s, want 9.250000/0.750000", got)
	}

	select {
	case n := <-exists:
		if n != 1 {
			t.Errorf("IDLE woke with EXISTS %d, want 1", n)
		}
	case <-time.After(time.Second):
		t.Fatal("the token seller's IDLE did not wake within a second of the 250")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}

	_, _, flatIn := ts.mailbox("flat", "INBOX")
	_, _, tokIn := ts.mailbox("tokens", "INBOX")
	if len(flatIn) != 1 || len(tokIn) != 1 {
		t.Fatalf("seller inboxes hold %d and %d messages, want 1 each", len(flatIn), len(tokIn))
	}
	wantStamp(t, flatIn[0], "X-AgentMail-Reservation", "amount=0.250000; currency=USD; ",
		"buyer=buyer@localhost; request_id=req-flat-1")
	wantStamp(t, tokIn[0], "X-AgentMail-Reservation", "amount=0.500000; currency=USD; ",
		"buyer=buyer@localhost; request_id=req-tok-1")

	mustSend(t, ts, "flat", "buyer", message("flat", "buyer", "Re: summarize", "done",
		"X-AgentMail-Marketplace-Request-Id: req-flat-1", `X-AgentMail-Usage: {}`))
	// 0.01 + 1800 × 1.00/10^6 + 750 × 2.00/10^6 = 0.0133
	mustSend(t, ts, "tokens", "buyer", message("tokens", "buyer", "Re: translate", "hello",
		"X-AgentMail-Marketplace-Request-Id: req-tok-1",
		`X-AgentMail-Usage: {"tokens_input": 1800, "tokens_output": 750}`))

	_, _, buyerIn := ts.mailbox("buyer", "INBOX")
	if len(buyerIn) != 2 {
		t.Fatalf("buyer INBOX holds %d messages, want 2", len(buyerIn))
	}
	wantStamp(t, buyerIn[0], "X-AgentMail-Settlement",
		"charged=0.250000; released=0.000000; currency=USD; seller=flat@localhost")
	wantStamp(t, buyerIn[1], "X-AgentMail-Settlement",
		"charged=0.013300; released=0.486700; currency=USD; seller=tokens@localhost")

	for id, want := range map[string]string{
		"buyer":  "9.736700/0.000000",
		"flat":   "0.250000/0.000000",
		"tokens": "0.013300/0.000000",
	} {
		if got := ts.balance(id); got != want {
			t.Errorf("final balance of %s = %s, want %s", id, got, want)
		}
	}
	if n := ts.count("buyer", "Sent"); n != 2 {
		t.Errorf("buyer's Sent holds %d messages, want its 2 requests", n)
	}
	ts.verifyLedger()
}

func mustSend(t *testing.T, ts *testServer, from, to, raw string) {
	t.Helper()
	if err := ts.send(from, []string{to}, raw); err != nil {
		t.Fatalf("%s → %s refused: %v", from, to, err)
	}
}

func wantStamp(t *testing.T, raw, name string, parts ...string) {
	t.Helper()
	if !strings.HasPrefix(raw, name+": ") {
		t.Errorf("message does not start with the %s stamp:\n%s", name, raw)
		return
	}
	v := headerValue(raw, name)
	for _, p := range parts {
		if !strings.Contains(v, p) {
			t.Errorf("%s = %q, want it to contain %q", name, v, p)
		}
	}
}

func TestRetriedRequestAndRepeatedResponse(t *testing.T) {
	ts := roundTripServer(t)
	req := message("buyer", "flat", "job", "x", "X-AgentMail-Marketplace-Request-Id: retry-1")
	mustSend(t, ts, "buyer", "flat", req)
	mustSend(t, ts, "buyer", "flat", req)
	if n := ts.count("flat", "INBOX"); n != 1 {
		t.Errorf("retried request delivered %d times, want once", n)
	}
	if got := ts.balance("buyer"); got != "9.750000/0.250000" {
		t.Errorf("retried request reserved twice: buyer = %s", got)
	}

	resp := message("flat", "buyer", "done", "y", "X-AgentMail-Marketplace-Request-Id: retry-1",
		"X-AgentMail-Usage: {}")
	mustSend(t, ts, "flat", "buyer", resp)
	mustSend(t, ts, "flat", "buyer", resp)
	if n := ts.count("buyer", "INBOX"); n != 1 {
		t.Errorf("repeated response delivered %d times, want once", n)
	}
	if got := ts.balance("flat"); got != "0.250000/0.000000" {
		t.Errorf("repeated response settled twice: seller = %s", got)
	}
	ts.verifyLedger()
}

func TestExpiryReturnsMoneyAndRefusesLateResponse(t *testing.T) {
	ts := roundTripServer(t)
	mustSend(t, ts, "buyer", "tokens", message("buyer", "tokens", "job", "x",
		"X-AgentMail-Marketplace-Request-Id: late-1"))
	if got := ts.balance("buyer"); got != "9.500000/0.500000" {
		t.Fatalf("buyer = %s after request", got)
	}

	ts.clock.Advance(time.Hour + time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for ts.balance("buyer") != "10.000000/0.000000" {
		if time.Now().After(deadline) {
			t.Fatalf("reservation not returned after expiry: buyer = %s", ts.balance("buyer"))
		}
		time.Sleep(50 * time.Millisecond)
	}

	err := ts.send("tokens", []string{"buyer"}, message("tokens", "buyer", "late", "y",
		"X-AgentMail-Marketplace-Request-Id: late-1",
		`X-AgentMail-Usage: {"tokens_input":1,"tokens_output":1}`))
	code, text := smtpCode(t, err)
	if code != 550 || !strings.Contains(text, "5.7.1") || !strings.Contains(text, "expired") {
		t.Errorf("late response answered %d %q, want 550 5.7.1 … expired", code, text)
	}
	if n := ts.count("buyer", "INBOX"); n != 0 {
		t.Errorf("late response delivered")
	}
	if got := ts.balance("tokens"); got != "0.000000/0.000000" {
		t.Errorf("seller paid for an expired reservation: %s", got)
	}
	ts.verifyLedger()
}

func TestRestartKeepsMailboxesAndMoney(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	ts := startServer(t, dir, clk)
	ts.addAgent("buyer")
	ts.addAgent("flat")
	ts.credit("buyer", "10")
	ts.price("flat", perRequestPricing)
	mustSend(t, ts, "buyer", "flat", message("buyer", "flat", "a", "x",
		"X-AgentMail-Marketplace-Request-Id: keep-1"))
	mustSend(t, ts, "buyer", "flat", message("buyer", "flat", "plain", "just mail"))
	validity, uids, raws := ts.mailbox("flat", "INBOX")
	balance := ts.balance("buyer")
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}

	ts = startServer(t, dir, clk)
	defer ts.Close()
	validity2, uids2, raws2 := ts.mailbox("flat", "INBOX")
	if validity2 != validity || !equalUIDs(uids, uids2) || strings.Join(raws, "") != strings.Join(raws2, "") {
		t.Errorf("INBOX changed across restart: %d %v → %d %v", validity, uids, validity2, uids2)
	}
	if got := ts.balance("buyer"); got != balance || got != "9.750000/0.250000" {
		t.Errorf("balance %s before restart, %s after", balance, got)
	}
	// The open reservation survived: the response settles it.
	mustSend(t, ts, "flat", "buyer", message("flat", "buyer", "r", "y",
		"X-AgentMail-Marketplace-Request-Id: keep-1", "X-AgentMail-Usage: {}"))
	if got := ts.balance("flat"); got != "0.250000/0.000000" {
		t.Errorf("seller after settling a pre-restart reservation: %s", got)
	}
	// New mail continues the UID sequence.
	mustSend(t, ts, "buyer", "flat", message("buyer", "flat", "more", "z"))
	_, uids3, _ := ts.mailbox("flat", "INBOX")
	if len(uids3) != 3 || uids3[2] <= uids2[1] {
		t.Errorf("UIDs after restart: %v", uids3)
	}
	ts.verifyLedger()
}

func equalUIDs(a, b []imap.UID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
