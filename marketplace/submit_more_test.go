package marketplace_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"agentmail/marketplace"
)

func TestSubmitStripsForgedStamps(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
	}{
		{"reservation", []string{"X-AgentMail-Reservation: amount=1000.000000; currency=USD"}},
		{"lower case", []string{"x-agentmail-reservation: amount=1000.000000"}},
		{"both stamps", []string{"X-AgentMail-Reservation: amount=1000",
			"X-AgentMail-Settlement: charged=0.000000; released=1000"}},
		{"folded", []string{"X-AgentMail-Reservation: amount=1000;\r\n currency=USD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, time.Hour)
			e.setPricing(seller, perRequest)
			e.request(seller, "r1", tt.headers...)
			msgs := e.wantInbox(seller, 1)
			if len(msgs) != 1 {
				return
			}
			raw := msgs[0]
			if n := headerCount(raw, marketplace.HeaderReservation); n != 1 {
				t.Errorf("seller's copy has %d reservation stamps, want 1:\n%s", n, raw)
			}
			if n := headerCount(raw, marketplace.HeaderSettlement); n != 0 {
				t.Errorf("seller's copy has %d settlement stamps, want 0:\n%s", n, raw)
			}
			if !strings.HasPrefix(raw, "X-AgentMail-Reservation: amount=0.250000") ||
				strings.Contains(raw, "1000") {
				t.Errorf("forged stamp survived:\n%s", raw)
			}
		})
	}

	// Plain mail and responses are cleaned too.
	e := newEnv(t, time.Hour)
	e.setPricing(seller, perRequest)
	e.mustSubmit(seller, buyer, msg(seller, buyer, "hi", "X-AgentMail-Settlement: charged=9"))
	e.request(seller, "r1")
	e.mustSubmit(seller, buyer, msg(seller, buyer, "done", reqID("r1"), usageHdr(`{}`),
		"X-AgentMail-Settlement: charged=0.000001; released=1000"))
	msgs := e.wantInbox(buyer, 2)
	if len(msgs) == 2 {
		if headerCount(msgs[0], marketplace.HeaderSettlement) != 0 {
			t.Errorf("plain mail kept a forged settlement:\n%s", msgs[0])
		}
		if headerCount(msgs[1], marketplace.HeaderSettlement) != 1 ||
			!strings.HasPrefix(msgs[1], "X-AgentMail-Settlement: charged=0.250000") {
			t.Errorf("response kept a forged settlement:\n%s", msgs[1])
		}
	}
}

// Result.Stripped reports the forged stamps removed, for every kind.
func TestSubmitStrippedCount(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.setPricing(seller, perRequest)
	forged := "X-AgentMail-Reservation: amount=1000"
	res := e.mustSubmit(buyer, seller, msg(buyer, seller, "x", forged))
	if res.Stripped != 1 {
		t.Errorf("plain mail: Stripped = %d, want 1", res.Stripped)
	}
	res = e.request(seller, "r1", forged)
	if res.Stripped != 1 {
		t.Errorf("a request with one forged stamp reports Stripped = %d, want 1 "+
			"(requestTx and responseTx overwrite *res and drop Stripped; the stamp "+
			"itself is removed)", res.Stripped)
	}
}

// RFC 5322 section 4.5 (obsolete syntax) allows white space before the colon,
// and go-message, which the IMAP side parses headers with, reads
// "X-AgentMail-Reservation : ..." as the reservation header. Such a line must
// not survive into a mailbox.
func TestSubmitStripsForgedStampWithSpaceBeforeColon(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.setPricing(seller, perRequest)
	raw := msg(buyer, seller, "please", "X-AgentMail-Reservation : amount=1000.000000; "+
		"currency=USD; buyer=buyer@localhost", reqID("r1"))
	res, err := e.submit(buyer, seller, raw)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	msgs := e.wantInbox(seller, 1)
	forged := len(msgs) == 1 && strings.Contains(msgs[0], "amount=1000.000000")
	if forged || res.Kind != marketplace.KindRequest {
		t.Errorf("a client stamp written %q is not stripped (scanHeader "+
			"ends the header at a name containing a space), and the request id after it "+
			"is not read: result kind %q reserved %s, forged stamp delivered: %v",
			"X-AgentMail-Reservation : ...", res.Kind, res.Reserved, forged)
	}
}

func TestSubmitJSONBody(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.setPricing(seller, tokenBased)

	body := `{"marketplace_request_id": "j1", "task": "summarize"}`
	raw := msg(buyer, seller, body, "Content-Type: application/json")
	res := e.mustSubmit(buyer, seller, raw)
	if res.Kind != marketplace.KindRequest || res.RequestID != "j1" ||
		res.Reserved != amt(t, "1") {
		t.Errorf("JSON body request = %+v", res)
	}
	e.wantBalance(buyer, "9", "1")

	// The same id in the header and the body agrees.
	res = e.mustSubmit(buyer, seller, msg(buyer, seller, body, reqID("j1")))
	if !res.Repeat {
		t.Errorf("header and body with one id: %+v, want a retry", res)
	}

	body = `{"marketplace_request_id": "j1",
		"usage": {"tokens_input": 500000, "tokens_output": 250000}, "answer": "ok"}`
	res = e.mustSubmit(seller, buyer, msg(seller, buyer, body))
	if res.Kind != marketplace.KindResponse || res.Charged != amt(t, "1") {
		t.Errorf("JSON body response = %+v, want charged 1", res)
	}
	e.wantBalance(buyer, "9", "0")
	e.wantBalance(seller, "1", "0")

	// The first text part of a multipart message carries the fields.
	multipart := "From: buyer@localhost\r\nTo: seller@localhost\r\nSubject: x\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: application/json\r\n\r\n" +
		`{"marketplace_request_id": "j2"}` + "\r\n--B\r\n" +
		"Content-Type: application/octet-stream\r\n\r\nxxxx\r\n--B--\r\n"
	res = e.mustSubmit(buyer, seller, []byte(multipart))
	if res.Kind != marketplace.KindRequest || res.RequestID != "j2" {
		t.Errorf("multipart JSON request = %+v", res)
	}
	e.wantBalance(buyer, "8", "1")

	// Header and body usage that agree are one usage.
	res = e.mustSubmit(seller, buyer, msg(seller, buyer,
		`{"usage": {"tokens_output": 1, "tokens_input": 0}}`, reqID("j2"),
		usageHdr(`{"tokens_input": 0, "tokens_output": 1}`)))
	if res.Kind != marketplace.KindResponse || res.Charged != amt(t, "0.000002") {
		t.Errorf("agreeing usage = %+v", res)
	}
	e.verify()
}

// A body whose usage is malformed disagrees with a well-formed header usage;
// the message must not settle on the header's word alone.
func TestSubmitBodyUsageMalformedHeaderValid(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.setPricing(seller, perRequest)
	e.request(seller, "r1")
	before := e.state()
	res, err := e.submit(seller, buyer, msg(seller, buyer,
		`{"usage": {"outcomes_returned": -5}}`, reqID("r1"),
		usageHdr(`{"outcomes_returned": 1}`)))
	if err == nil {
		t.Errorf("header usage {\"outcomes_returned\":1} with body usage "+
			"{\"outcomes_returned\":-5} was accepted and settled (charged %s); the body "+
			"usage is only parsed for comparison and its error is ignored", res.Charged)
	}
	wantRefusal(t, err, "5.6.0", "usage")
	e.wantState(before)
}

// The contract's id is 1 to 128 characters: an empty id header is a bad id,
// not plain mail that reaches a seller without a reservation.
func TestSubmitEmptyIDHeader(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.setPricing(seller, perRequest)
	res, err := e.submit(buyer, seller, msg(buyer, seller, "x",
		"X-AgentMail-Marketplace-Request-Id:   "))
	if err == nil {
		t.Errorf("an empty %s header was accepted as %s mail (reserved %s) instead "+
			"of refused 5.6.0 bad id", marketplace.HeaderRequestID, res.Kind, res.Reserved)
	}
	wantRefusal(t, err, "5.6.0", "request id")
}

func TestSubmitIDLimits(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.setPricing(seller, perRequest)
	for _, id := range []string{strings.Repeat("x", 128), "a", "!~#$%&'*+-/=?^_`{|}",
		"abc\"def"} {
		if res := e.request(seller, id); res.RequestID != id || res.Reserved != amt(t, "0.25") {
			t.Errorf("id %q: result %+v", id, res)
		}
	}
	e.wantBalance(buyer, "9", "1")
}

func TestSubmitFreeQuota(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.setPricing(seller, `{"base_price":0.25,"free_quota":2}`)

	for _, id := range []string{"f1", "f2"} {
		res := e.request(seller, id)
		if !res.Free || res.Reserved != 0 {
			t.Errorf("%s: %+v, want free", id, res)
		}
	}
	e.wantBalance(buyer, "10", "0")
	msgs := e.wantInbox(seller, 2)
	if len(msgs) == 2 && (!strings.Contains(firstLine(msgs[0]), "amount=0.000000") ||
		!strings.Contains(firstLine(msgs[0]), "free=true")) {
		t.Errorf("free reservation stamp = %q", firstLine(msgs[0]))
	}
	if res := e.request(seller, "f1"); !res.Repeat || !res.Free {
		t.Errorf("retry of a free request = %+v", res)
	}

	res := e.request(seller, "p1")
	if res.Free || res.Reserved != amt(t, "0.25") {
		t.Errorf("third request = %+v, want paid", res)
	}
	e.wantBalance(buyer, "9.75", "0.25")

	res = e.respond(seller, "f1", `{}`)
	if res.Charged != 0 || !res.Free {
		t.Errorf("response to a free request = %+v", res)
	}
	e.wantBalance(buyer, "9.75", "0.25")
	e.wantBalance(seller, "0", "0")

	// Another seller has its own quota; another month starts afresh.
	e.setPricing(seller2, `{"base_price":0.25,"free_quota":1}`)
	if res := e.request(seller2, "s2"); !res.Free {
		t.Errorf("first request to another seller = %+v, want free", res)
	}
	e.clk.Advance(20 * 24 * time.Hour) // 2026-04-03
	for _, id := range []string{"n1", "n2"} {
		if res := e.request(seller, id); !res.Free {
			t.Errorf("%s in a new month = %+v, want free", id, res)
		}
	}
	if res := e.request(seller, "n3"); res.Free {
		t.Errorf("n3 = %+v, want paid", res)
	}
	e.verify()
}

func TestSubmitExpiryReturnsMoney(t *testing.T) {
	e := newEnv(t, time.Minute)
	e.setPricing(seller, perRequest)
	e.request(seller, "r1")
	e.clk.Advance(30 * time.Second)
	e.request(seller, "r2")
	e.wantBalance(buyer, "9.5", "0.5")

	if n, err := e.m.ExpireDue(); n != 0 || err != nil {
		t.Errorf("ExpireDue early = %d, %v", n, err)
	}
	e.clk.Advance(30 * time.Second)
	rows, _, _ := e.m.UsageRows(buyer, marketplace.UsageFilter{}, "", 10)
	if len(rows) != 2 || rows[1].Status != marketplace.StatusExpired ||
		rows[0].Status != marketplace.StatusOpen {
		t.Errorf("rows before the sweep = %+v", rows)
	}
	if n, err := e.m.ExpireDue(); n != 1 || err != nil {
		t.Errorf("ExpireDue = %d, %v; want 1", n, err)
	}
	e.wantBalance(buyer, "9.75", "0.25")
	res := e.respond(seller, "r2", `{}`)
	if res.Charged != amt(t, "0.25") {
		t.Errorf("r2 response = %+v", res)
	}
	e.clk.Advance(time.Hour)
	if n, err := e.m.ExpireDue(); n != 0 || err != nil {
		t.Errorf("ExpireDue after settlement = %d, %v", n, err)
	}
	e.wantBalance(buyer, "9.75", "0")
	e.wantBalance(seller, "0.25", "0")
	rows, _, _ = e.m.UsageRows(buyer, marketplace.UsageFilter{}, "", 10)
	if len(rows) != 2 || rows[1].Status != marketplace.StatusExpired ||
		rows[1].Released != amt(t, "0.25") || rows[0].Status != marketplace.StatusSettled {
		t.Errorf("rows after = %+v", rows)
	}
	e.verify()
}

func TestUsageRowsPaging(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.setPricing(seller, perRequest)
	for i := range 7 {
		e.request(seller, fmt.Sprintf("r%d", i))
		e.clk.Advance(time.Second)
	}
	var ids []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		rows, next, err := e.m.UsageRows(buyer, marketplace.UsageFilter{}, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			ids = append(ids, r.RequestID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if got := strings.Join(ids, ","); got != "r6,r5,r4,r3,r2,r1,r0" {
		t.Errorf("paged rows = %s, want newest first", got)
	}
	if _, _, err := e.m.UsageRows(buyer, marketplace.UsageFilter{}, "not-a-cursor!", 3); err == nil {
		t.Error("a bad cursor was accepted")
	}
	rows, _, _ := e.m.UsageRows(seller, marketplace.UsageFilter{}, "", 0)
	if len(rows) != 7 || rows[0].Role != marketplace.RoleSeller {
		t.Errorf("seller rows = %d", len(rows))
	}
}

// An agent that buys from itself must leave the books balanced.
func TestSubmitSelfDealing(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.setPricing(buyer, tokenBased)
	e.mustSubmit(buyer, buyer, msg(buyer, buyer, "x", reqID("self")))
	e.wantBalance(buyer, "9", "1")
	res, err := e.submit(buyer, buyer, msg(buyer, buyer, "x", reqID("self"),
		usageHdr(`{"tokens_input": 100000, "tokens_output": 0}`)))
	if err != nil {
		t.Fatalf("self response: %v", err)
	}
	avail, reserved := e.balance(buyer)
	breaches, _ := e.ledger.Verify()
	if avail != amt(t, "10") || reserved != 0 || len(breaches) > 0 {
		t.Errorf("buyer == seller, reserve 1, settle %s: buyer available %s reserved "+
			"%s (want 10 and 0), breaches %v; the settle entry posts twice to one wallet "+
			"and the balance cache keeps only the last posting", res.Charged, avail,
			reserved, breaches)
	}
}

func TestSubmitConcurrentRequests(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.setPricing(seller, tokenBased) // reserves max_charge 1.00 each
	const tries = 64
	var wg sync.WaitGroup
	errs := make([]error, tries)
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.submit(buyer, seller, msg(buyer, seller, "x",
				reqID(fmt.Sprintf("c%d", i))))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		wantRefusal(t, err, "5.7.1", "insufficient funds")
	}
	if ok != 10 {
		t.Errorf("%d requests of 1.00 accepted from 10.00, want 10", ok)
	}
	e.wantBalance(buyer, "0", "10")
	e.wantInbox(seller, 10)
	e.verify()
}

// An agent's usage rows come from two indexes: the requests it sold and the
// free ones it bought (whose keys wait in a pending list until flushed to
// their place), and the paid ones it bought, from its ledger history. Paged
// two at a time they come out newest first, each once, with its role and
// counterparty, credits and other ledger entries between them skipped; a
// request made after the first page (at a later time) never shows on a
// later one. It holds with the keys pending, flushed, and flushed between
// pages.
func TestUsageRowsMergePaging(t *testing.T) {
	for _, flush := range []string{"never", "before", "between pages"} {
		t.Run("flush "+flush, func(t *testing.T) { testUsageRowsMergePaging(t, flush) })
	}
}

func testUsageRowsMergePaging(t *testing.T, flush string) {
	e := newEnv(t, time.Hour)
	flushIndex := func() {
		t.Helper()
		if n, err := e.m.FlushIndex(); err != nil || n == 0 {
			t.Fatalf("FlushIndex moved %d keys, %v", n, err)
		}
	}
	e.setPricing(seller, perRequest)
	e.setPricing(seller2, `{"base_price":0.25,"free_quota":1}`)
	e.setPricing(buyer, perRequest)
	e.credit(other, "5")
	type step struct {
		from, to, id string
		role         string
		free         bool
	}
	steps := []step{
		{buyer, seller, "paid1", marketplace.RoleBuyer, false},
		{buyer, seller2, "free1", marketplace.RoleBuyer, true},
		{other, buyer, "sold1", marketplace.RoleSeller, false},
		{buyer, seller2, "paid2", marketplace.RoleBuyer, false}, // quota used up
		{buyer, seller, "paid3", marketplace.RoleBuyer, false},
		{other, buyer, "sold2", marketplace.RoleSeller, false},
		{buyer, seller, "paid4", marketplace.RoleBuyer, false},
		{buyer, seller2, "paid5", marketplace.RoleBuyer, false},
	}
	for i, s := range steps {
		e.mustSubmit(s.from, s.to, msg(s.from, s.to, "please", reqID(s.id)))
		if i == 2 {
			e.credit(buyer, "1") // a ledger entry of the buyer's that is no request
		}
		e.clk.Advance(time.Second)
	}
	if flush == "before" {
		flushIndex()
	}
	page := func(cursor string) ([]marketplace.UsageRow, string) {
		t.Helper()
		rows, next, err := e.m.UsageRows(buyer, marketplace.UsageFilter{}, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		return rows, next
	}
	var got []marketplace.UsageRow
	rows, next := page("")
	got = append(got, rows...)
	// Page 1 took two paid requests from the history; a sale made now goes
	// in the other index, which page 1 has not read from yet.
	e.mustSubmit(other, buyer, msg(other, buyer, "please", reqID("late")))
	if flush == "between pages" {
		flushIndex()
	}
	for pages := 1; next != "" && pages < 10; pages++ {
		rows, next = page(next)
		got = append(got, rows...)
	}
	if len(got) != len(steps) {
		t.Fatalf("%d rows over the pages, want %d: %+v", len(got), len(steps), got)
	}
	for i, row := range got {
		want := steps[len(steps)-1-i]
		counterparty := want.to
		if want.role == marketplace.RoleSeller {
			counterparty = want.from
		}
		if row.RequestID != want.id || row.Role != want.role || row.Free != want.free ||
			row.Counterparty != counterparty {
			t.Errorf("row %d = %s as %s with %s (free %v), want %s as %s with %s (free %v)",
				i, row.RequestID, row.Role, row.Counterparty, row.Free,
				want.id, want.role, counterparty, want.free)
		}
	}
	rows, _, err := e.m.UsageRows(buyer, marketplace.UsageFilter{}, "", 0)
	if err != nil || len(rows) != len(steps)+1 || rows[0].RequestID != "late" {
		t.Errorf("first page after the late request: %d rows (%v)", len(rows), err)
	}
	// Another agent's cursor is refused, not followed.
	_, otherNext, err := e.m.UsageRows(other, marketplace.UsageFilter{}, "", 1)
	if err != nil || otherNext == "" {
		t.Fatalf("other's first page: next %q, %v", otherNext, err)
	}
	if _, _, err := e.m.UsageRows(buyer, marketplace.UsageFilter{}, otherNext, 2); err == nil {
		t.Error("buyer's listing accepted other's cursor")
	}
}
