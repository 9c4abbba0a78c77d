package server

import (
	"errors"
	"net/smtp"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/billing"
	"agentmail/internal/admin"
	"agentmail/internal/store"
)

func TestPlatformFeeInStampUsageAndTotals(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Billing.PlatformFeePercent.Micros = 10_000_000 // 10 %
	ts := startServerWith(t, cfg, newClock())
	defer ts.Close()
	ts.addAgent("buyer")
	ts.addAgent("tokens")
	ts.credit("buyer", "10")
	ts.price("tokens", tokenPricing)

	mustSend(t, ts, "buyer", "tokens", message("buyer", "tokens", "q", "x",
		"X-AgentMail-Marketplace-Request-Id: fee-1"))
	mustSend(t, ts, "tokens", "buyer", message("tokens", "buyer", "a", "y",
		"X-AgentMail-Marketplace-Request-Id: fee-1",
		`X-AgentMail-Usage: {"tokens_input": 1800, "tokens_output": 750}`))

	_, _, inbox := ts.mailbox("buyer", "INBOX")
	// charge 0.0133; 10 % of it is 0.00133 to the platform, 0.01197 to the seller
	wantStamp(t, inbox[0], "X-AgentMail-Settlement", "charged=0.013300; released=0.486700",
		"fee=0.001330")
	if got := ts.balance("tokens"); got != "0.011970/0.000000" {
		t.Errorf("seller = %s, want the charge less the fee", got)
	}
	page, err := ts.admin.Usage("tokens", admin.UsageQuery{})
	if err != nil || len(page.Rows) != 1 || page.Rows[0].Fee.String() != "0.001330" {
		t.Errorf("seller usage rows = %+v, %v; want fee 0.001330", page.Rows, err)
	}
	report, err := ts.admin.Verify()
	if err != nil || len(report.Breaches) != 0 || len(report.Totals) != 1 ||
		report.Totals[0].Platform.String() != "0.001330" ||
		report.Totals[0].World.String() != "-10.000000" {
		t.Errorf("verify = %+v, %v", report, err)
	}
}

func TestVoidReturnsMoneyAndRefusesTheResponse(t *testing.T) {
	ts := roundTripServer(t)
	mustSend(t, ts, "buyer", "tokens", message("buyer", "tokens", "q", "x",
		"X-AgentMail-Marketplace-Request-Id: void-1"))
	if _, err := ts.admin.Void("buyer@localhost/void-1", ""); err == nil {
		t.Error("void without a note was accepted")
	}
	r, err := ts.admin.Void("buyer/void-1", "seller offline, ticket 4") // id form
	if err != nil || r.Status != "voided" {
		t.Fatalf("void = %+v, %v", r, err)
	}
	if got := ts.balance("buyer"); got != "10.000000/0.000000" {
		t.Errorf("buyer after void = %s", got)
	}
	err = ts.send("tokens", []string{"buyer"}, message("tokens", "buyer", "a", "y",
		"X-AgentMail-Marketplace-Request-Id: void-1",
		`X-AgentMail-Usage: {"tokens_input": 1, "tokens_output": 1}`))
	if code, text := smtpCode(t, err); code != 550 || !strings.Contains(text, "voided") {
		t.Errorf("response after void: %d %q", code, text)
	}
	page, _ := ts.admin.History("buyer", admin.HistoryQuery{Kind: billing.KindVoid})
	if len(page.Rows) != 1 || page.Rows[0].Note != "seller offline, ticket 4" ||
		page.Rows[0].AvailableChange.String() != "0.500000" {
		t.Errorf("void entry in history = %+v", page.Rows)
	}
	ts.verifyLedger()
}

func TestDebitAndTransferNeedNotesAndFunds(t *testing.T) {
	ts := roundTripServer(t)
	usd := func(s string) billing.Amount { a, _ := billing.ParseAmount(s); return a }
	if _, err := ts.admin.Debit(admin.CreditRequest{Address: "buyer", Amount: usd("1")}); err == nil {
		t.Error("debit without a note accepted")
	}
	if _, err := ts.admin.Debit(admin.CreditRequest{Address: "buyer", Amount: usd("11"),
		Note: "too much"}); !errors.Is(err, billing.ErrInsufficientFunds) {
		t.Errorf("debit above the balance: %v", err)
	}
	if _, err := ts.admin.Debit(admin.CreditRequest{Address: "buyer", Amount: usd("1.5"),
		Note: "payout"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.admin.Transfer(admin.TransferRequest{From: "buyer", To: "flat",
		Amount: usd("0.5")}); err == nil {
		t.Error("transfer without a note accepted")
	}
	if _, err := ts.admin.Transfer(admin.TransferRequest{From: "buyer", To: "flat",
		Amount: usd("0.5"), Note: "goodwill"}); err != nil {
		t.Fatal(err)
	}
	if b, f := ts.balance("buyer"), ts.balance("flat"); b != "8.000000/0.000000" ||
		f != "0.500000/0.000000" {
		t.Errorf("after debit and transfer: buyer %s, flat %s", b, f)
	}
	page, _ := ts.admin.History("buyer", admin.HistoryQuery{ReportFilter: admin.ReportFilter{Counterparty: "flat"}})
	if len(page.Rows) != 1 || page.Rows[0].Kind != billing.KindTransfer {
		t.Errorf("history filtered by counterparty = %+v", page.Rows)
	}
	ts.verifyLedger()
}

func TestHistoryAndUsageFiltersAndPaging(t *testing.T) {
	ts := roundTripServer(t)
	for _, id := range []string{"p-1", "p-2", "p-3"} {
		mustSend(t, ts, "buyer", "flat", message("buyer", "flat", "q", "x",
			"X-AgentMail-Marketplace-Request-Id: "+id))
		ts.clock.Advance(time.Minute)
	}
	mustSend(t, ts, "flat", "buyer", message("flat", "buyer", "a", "y",
		"X-AgentMail-Marketplace-Request-Id: p-2", "X-AgentMail-Usage: {}"))

	settled, _ := ts.admin.Usage("buyer", admin.UsageQuery{Status: "settled"})
	if len(settled.Rows) != 1 || settled.Rows[0].RequestID != "p-2" {
		t.Errorf("usage status=settled = %+v", settled.Rows)
	}
	byID, _ := ts.admin.History("buyer", admin.HistoryQuery{ReportFilter: admin.ReportFilter{RequestID: "p-3"}})
	if len(byID.Rows) != 1 || byID.Rows[0].Kind != billing.KindReserve {
		t.Errorf("history request_id=p-3 = %+v", byID.Rows)
	}
	since := ts.clock.Now().Add(-90 * time.Second)
	recent, _ := ts.admin.Usage("buyer", admin.UsageQuery{ReportFilter: admin.ReportFilter{Since: since}})
	if len(recent.Rows) != 1 || recent.Rows[0].RequestID != "p-3" {
		t.Errorf("usage since %s = %+v", since, recent.Rows)
	}

	var ids []string
	q := admin.UsageQuery{ReportFilter: admin.ReportFilter{Limit: 2}}
	for {
		page, err := ts.admin.Usage("buyer", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Rows {
			ids = append(ids, r.RequestID)
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if strings.Join(ids, ",") != "p-3,p-2,p-1" {
		t.Errorf("paged usage = %v, want newest first p-3,p-2,p-1", ids)
	}
	code, body := ts.httpGet("/agents/buyer/billing/usage?status=open&counterparty=flat", "buyer")
	if code != 200 || strings.Count(body, `"marketplace_request_id"`) != 2 {
		t.Errorf("HTTP usage filtered = %d %s", code, body)
	}
	if code, _ := ts.httpGet("/agents/buyer/billing/usage?since=yesterday", "buyer"); code != 400 {
		t.Errorf("bad since answered %d, want 400", code)
	}
}

func TestFreeQuotaFollowsTheUTCMonth(t *testing.T) {
	clk := &clock{now: time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)}
	ts := startServer(t, t.TempDir(), clk)
	defer ts.Close()
	ts.addAgent("buyer")
	ts.addAgent("flat")
	ts.credit("buyer", "10")
	ts.price("flat", `{"pricing_model":"per_request","base_price":0.25,"free_quota":1}`)

	send := func(id string) {
		mustSend(t, ts, "buyer", "flat", message("buyer", "flat", "q", "x",
			"X-AgentMail-Marketplace-Request-Id: "+id))
	}
	send("dec-1")
	if got := ts.balance("buyer"); got != "10.000000/0.000000" {
		t.Errorf("first request of December should be free: %s", got)
	}
	send("dec-2")
	if got := ts.balance("buyer"); got != "9.750000/0.250000" {
		t.Errorf("second request of December should reserve: %s", got)
	}
	clk.Advance(time.Second) // 2027-01-01T00:00:00Z
	send("jan-1")
	if got := ts.balance("buyer"); got != "9.750000/0.250000" {
		t.Errorf("first request of January should be free again: %s", got)
	}
	_, _, inbox := ts.mailbox("flat", "INBOX")
	wantStamp(t, inbox[2], "X-AgentMail-Reservation", "amount=0.000000", "free=true")
}

func TestStartExpiresReservationsThatFellDueWhileStopped(t *testing.T) {
	dir, clk := t.TempDir(), newClock()
	ts := startServer(t, dir, clk)
	ts.addAgent("buyer")
	ts.addAgent("flat")
	ts.credit("buyer", "10")
	ts.price("flat", perRequestPricing)
	mustSend(t, ts, "buyer", "flat", message("buyer", "flat", "q", "x",
		"X-AgentMail-Marketplace-Request-Id: down-1"))
	clk.Advance(time.Minute)
	mustSend(t, ts, "buyer", "flat", message("buyer", "flat", "q", "x",
		"X-AgentMail-Marketplace-Request-Id: down-2"))
	ts.Close()

	clk.Advance(2 * time.Hour)
	ts = startServer(t, dir, clk)
	defer ts.Close()
	// Start returns only after the expiry, before any mail could be accepted.
	if got := ts.balance("buyer"); got != "10.000000/0.000000" {
		t.Errorf("buyer right after start = %s, want everything returned", got)
	}
	page, _ := ts.admin.History("buyer", admin.HistoryQuery{Kind: billing.KindExpire})
	if len(page.Rows) != 2 || page.Rows[0].HoldID != "buyer@localhost/down-2" ||
		page.Rows[1].HoldID != "buyer@localhost/down-1" {
		t.Errorf("expire entries (newest first) = %+v, want down-1 expired before down-2",
			page.Rows)
	}
	ts.verifyLedger()
}

func TestStartRefusesABrokenLedger(t *testing.T) {
	dir, clk := t.TempDir(), newClock()
	ts := startServer(t, dir, clk)
	ts.addAgent("buyer")
	ts.credit("buyer", "10")
	ts.Close()

	// Corrupt the balance cache behind the ledger's back.
	db, err := bolt.Open(dir+"/"+store.FileName, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		// ledger_balance_cache: owner 0 'w' currency is a wallet balance.
		return tx.Bucket([]byte("ledger_balance_cache")).Put([]byte("buyer@localhost\x00wUSD"),
			[]byte{0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x00}) // 1,000,000,000 micros
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(dir)
	if srv, err := Start(cfg, discardLog(), Options{Now: clk.Now}); err == nil {
		srv.Close()
		t.Fatal("server started on a ledger whose cache disagrees with its journal")
	} else if !strings.Contains(err.Error(), "balance is the fold of the journal") {
		t.Errorf("start error does not name the breach: %v", err)
	}
	cfg.Billing.AllowLedgerBreach = true
	srv, err := Start(cfg, discardLog(), Options{Now: clk.Now})
	if err != nil {
		t.Fatalf("allow_ledger_breach did not let the server start: %v", err)
	}
	srv.Close()
}

// An agent removed while its SMTP session is open can neither deliver nor
// settle (and be paid into a wallet that no longer has an owner); its
// pricing is withdrawn.
func TestRemovedSellerCannotSettleFromAnOpenSession(t *testing.T) {
	ts := roundTripServer(t)
	mustSend(t, ts, "buyer", "flat", message("buyer", "flat", "q", "x",
		"X-AgentMail-Marketplace-Request-Id: gone-1"))
	c, err := smtp.Dial(ts.smtpA)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(smtp.PlainAuth("", "flat", testPassword, "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if err := ts.admin.RemoveAgent("flat"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("flat@localhost"); err == nil {
		_ = c.Rcpt("buyer@localhost")
		err = writeRawData(c, message("flat", "buyer", "a", "y",
			"X-AgentMail-Marketplace-Request-Id: gone-1", "X-AgentMail-Usage: {}"))
		code, text := smtpCode(t, err)
		if code != 550 || !strings.Contains(text, "no longer exists") {
			t.Errorf("response from a removed seller: %d %q", code, text)
		}
	}
	if got := ts.balance("buyer"); got != "9.750000/0.250000" {
		t.Errorf("buyer after a removed seller's response = %s, want the hold untouched", got)
	}
	if code, _ := ts.httpGet("/public/agents/flat/pricing", ""); code != 404 {
		t.Errorf("a removed seller's pricing is still public: %d", code)
	}
	ts.verifyLedger()
}
