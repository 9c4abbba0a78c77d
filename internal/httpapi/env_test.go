package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"agentmail/billing"
	"agentmail/internal/store"
	"agentmail/mailstore"
	"agentmail/marketplace"
)

const (
	testDomain   = "agents.example.com"
	testPassword = "correct horse battery"
)

// testEnv is a side-server on a real listener over a real database.
type testEnv struct {
	srv    *httptest.Server
	mail   *mailstore.Store
	ledger *billing.Ledger
	market *marketplace.Market
}

// newEnv starts a server with the given agent ids, all with testPassword.
// Each agent costs a bcrypt hash, slow under -race, so tests name only theirs.
func newEnv(t *testing.T, agents ...string) *testEnv {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ms, err := mailstore.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ledger, err := billing.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	market, err := marketplace.New(ledger, ms,
		marketplace.Config{ReservationTTL: time.Hour, SaveSent: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range agents {
		if err := ms.AddAgent(id+"@"+testDomain, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(New(ms, market, Config{Domain: testDomain}))
	t.Cleanup(srv.Close)
	return &testEnv{srv: srv, mail: ms, ledger: ledger, market: market}
}

// reply is a finished HTTP exchange.
type reply struct {
	status int
	header http.Header
	body   string
}

// call sends a request; user "" sends no credentials.
func (e *testEnv) call(t *testing.T, method, path, user, password, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

// get is an authenticated GET as agent with the right password.
func (e *testEnv) get(t *testing.T, path, agent string) reply {
	t.Helper()
	return e.call(t, http.MethodGet, path, agent, testPassword, "")
}

func (e *testEnv) credit(t *testing.T, agent, amount string) {
	t.Helper()
	a, err := billing.ParseAmount(amount)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.ledger.Credit(billing.Transfer{Agent: agent + "@" + testDomain,
		Currency: "USD", Amount: a})
	if err != nil {
		t.Fatal(err)
	}
}

func (e *testEnv) setPricing(t *testing.T, agent, pricingJSON string) {
	t.Helper()
	p, err := marketplace.ParsePricing([]byte(pricingJSON))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.market.SetPricing(agent+"@"+testDomain, p); err != nil {
		t.Fatal(err)
	}
}

// submit hands a message from one agent to another with extra header lines.
func (e *testEnv) submit(t *testing.T, from, to string, headers ...string) {
	t.Helper()
	raw := "From: " + from + "@" + testDomain + "\r\nTo: " + to + "@" + testDomain +
		"\r\nSubject: test\r\n" + strings.Join(headers, "\r\n") + "\r\n\r\nhello\r\n"
	_, err := e.market.Submit(marketplace.Submission{Sender: from + "@" + testDomain,
		Recipients: []string{to + "@" + testDomain}, Raw: []byte(raw)})
	if err != nil {
		t.Fatal(err)
	}
}

// errorOf decodes an error reply.
func errorOf(t *testing.T, r reply) apiError {
	t.Helper()
	var b errorBody
	if err := json.Unmarshal([]byte(r.body), &b); err != nil || b.Error.Code == "" {
		t.Fatalf("not a JSON error (%v): %s", err, r.body)
	}
	return b.Error
}

func wantStatus(t *testing.T, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
}
