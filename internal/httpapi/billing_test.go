package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"agentmail/marketplace"
)

func TestBalanceIsExact(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "buyer")
	r := e.get(t, "/agents/buyer/billing/balance", "buyer")
	wantStatus(t, r, http.StatusOK)
	if want := `{"agent_id":"buyer","balances":[]}` + "\n"; r.body != want {
		t.Errorf("empty wallet: %s, want %s", r.body, want)
	}

	e.credit(t, "buyer", "0.1")
	e.credit(t, "buyer", "0.2")
	r = e.get(t, "/agents/buyer/billing/balance", "buyer")
	want := `{"agent_id":"buyer","balances":[{"currency":"USD","available":0.3,"reserved":0}]}`
	if r.body != want+"\n" {
		t.Errorf("body %s, want %s", r.body, want)
	}
}

func TestBalanceWithReservation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "buyer", "seller")
	e.setPricing(t, "seller", `{"base_price":0.25}`)
	e.credit(t, "buyer", "10")
	e.submit(t, "buyer", "seller", marketplace.HeaderRequestID+": r1")

	r := e.get(t, "/agents/buyer@"+testDomain+"/billing/balance", "buyer")
	want := `{"agent_id":"buyer","balances":[{"currency":"USD","available":9.75,` +
		`"reserved":0.25}]}` + "\n"
	if r.body != want {
		t.Errorf("body %s, want %s", r.body, want)
	}
}

func TestUsagePaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "buyer", "seller")
	e.setPricing(t, "seller", `{"base_price":0.1}`)
	e.credit(t, "buyer", "1")
	for _, id := range []string{"r1", "r2", "r3"} {
		e.submit(t, "buyer", "seller", marketplace.HeaderRequestID+": "+id)
	}
	e.submit(t, "seller", "buyer", marketplace.HeaderRequestID+": r2",
		marketplace.HeaderUsage+`: {"outcomes_returned":1}`)

	page1 := usagePage(t, e, "buyer", "?limit=2")
	if got := requestIDs(page1.Items); got != "r3 r2" {
		t.Fatalf("page 1: %s", got)
	}
	if page1.NextCursor == "" {
		t.Fatal("page 1 has no next_cursor")
	}
	settled := page1.Items[1]
	if settled["status"] != "settled" || settled["role"] != "buyer" ||
		settled["counterparty"] != "seller@"+testDomain {
		t.Errorf("settled row %v", settled)
	}
	if string(settled["charged"].(json.Number)) != "0.1" ||
		string(settled["released"].(json.Number)) != "0" {
		t.Errorf("settled row amounts %v", settled)
	}

	page2 := usagePage(t, e, "buyer", "?limit=2&cursor="+url.QueryEscape(page1.NextCursor))
	if got := requestIDs(page2.Items); got != "r1" || page2.NextCursor != "" {
		t.Errorf("page 2: %s, next %q", got, page2.NextCursor)
	}

	sellerPage := usagePage(t, e, "seller", "")
	if got := requestIDs(sellerPage.Items); got != "r3 r2 r1" {
		t.Errorf("seller: %s", got)
	}
	if sellerPage.Items[0]["role"] != "seller" {
		t.Errorf("seller row %v", sellerPage.Items[0])
	}
}

func TestUsageBadQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "buyer", "seller")
	e.setPricing(t, "seller", `{"base_price":0.1}`)
	e.credit(t, "buyer", "1")
	e.submit(t, "buyer", "seller", marketplace.HeaderRequestID+": r1")
	e.submit(t, "buyer", "seller", marketplace.HeaderRequestID+": r2")
	sellerCursor := usagePage(t, e, "seller", "?limit=1").NextCursor

	tests := []struct{ query, code string }{
		{"?limit=0", "invalid_limit"},
		{"?limit=-3", "invalid_limit"},
		{"?limit=ten", "invalid_limit"},
		{"?limit=501", "invalid_limit"},
		{"?cursor=%21%21", "invalid_cursor"},
		{"?cursor=" + url.QueryEscape(sellerCursor), "invalid_cursor"},
	}
	for _, tt := range tests {
		r := e.get(t, "/agents/buyer/billing/usage"+tt.query, "buyer")
		wantStatus(t, r, http.StatusBadRequest)
		apiErr := errorOf(t, r)
		if apiErr.Code != tt.code || len(apiErr.Fields) != 1 {
			t.Errorf("%s: error %+v", tt.query, apiErr)
		}
	}
}

type usageJSON struct {
	Items      []map[string]any `json:"items"`
	NextCursor string           `json:"next_cursor"`
}

func usagePage(t *testing.T, e *testEnv, agent, query string) usageJSON {
	t.Helper()
	r := e.get(t, "/agents/"+agent+"/billing/usage"+query, agent)
	wantStatus(t, r, http.StatusOK)
	var page usageJSON
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&page); err != nil {
		t.Fatalf("usage %s: %v", r.body, err)
	}
	return page
}

func requestIDs(items []map[string]any) string {
	s := ""
	for i, it := range items {
		if i > 0 {
			s += " "
		}
		s += it["marketplace_request_id"].(string)
	}
	return s
}
