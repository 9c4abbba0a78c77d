package marketplace_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"agentmail/billing"
	"agentmail/internal/store"
	"agentmail/mailstore"
	"agentmail/marketplace"
)

const (
	buyer   = "buyer@localhost"
	seller  = "seller@localhost"
	seller2 = "seller2@localhost"
	other   = "other@localhost"
)

var agents = []string{buyer, seller, seller2, other}

// testClock is the ledger clock; tests move it by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a server's rules without its edges: a database, ledger, mail store
// and market, with four agents and a buyer holding 10 USD.
type env struct {
	t      *testing.T
	clk    *testClock
	ledger *billing.Ledger
	mail   *mailstore.Store
	m      *marketplace.Market
}

// templateDB is a database with the four agents already added, copied into
// every test's directory: bcrypt makes adding agents the slow part.
var templateDB struct {
	once sync.Once
	data []byte
	err  error
}

func buildTemplate() ([]byte, error) {
	dir, err := os.MkdirTemp("", "marketplace-template")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		return nil, err
	}
	mail, err := mailstore.Open(db, nil)
	if err != nil {
		return nil, err
	}
	for _, a := range agents {
		if err := mail.AddAgent(a, "password123"); err != nil {
			return nil, err
		}
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(dir, store.FileName))
}

func newEnv(t *testing.T, ttl time.Duration) *env {
	t.Helper()
	templateDB.once.Do(func() { templateDB.data, templateDB.err = buildTemplate() })
	if templateDB.err != nil {
		t.Fatal(templateDB.err)
	}
	dir := t.TempDir()
	err := os.WriteFile(filepath.Join(dir, store.FileName), templateDB.data, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := openEnv(t, db, time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC),
		marketplace.Config{ReservationTTL: ttl})
	e.credit(buyer, "10")
	return e
}

// openEnv opens the ledger, mail store and market of db with the ledger
// clock at now.
func openEnv(t *testing.T, db *store.DB, now time.Time, cfg marketplace.Config) *env {
	t.Helper()
	clk := &testClock{now: now}
	ledger, mail, m := openMarket(t, db, clk, cfg)
	return &env{t: t, clk: clk, ledger: ledger, mail: mail, m: m}
}

// openMarket opens the ledger, mail store and market of db; t is a
// *testing.T or a *rapid.T.
func openMarket(t interface{ Fatal(...any) }, db *store.DB, clk *testClock,
	cfg marketplace.Config) (*billing.Ledger, *mailstore.Store, *marketplace.Market) {
	ledger, err := billing.Open(db, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	mail, err := mailstore.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := marketplace.New(ledger, mail, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ledger, mail, m
}

func (e *env) credit(agent, amount string) {
	e.t.Helper()
	_, err := e.ledger.Credit(billing.Transfer{Agent: agent, Currency: "USD",
		Amount: amt(e.t, amount)})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) setPricing(agent, js string) {
	e.t.Helper()
	p, err := marketplace.ParsePricing([]byte(js))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.m.SetPricing(agent, p); err != nil {
		e.t.Fatal(err)
	}
}

// msg builds a raw message; extra are header lines.
func msg(from, to, body string, extra ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: x\r\n", from, to)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + body + "\r\n")
	return []byte(b.String())
}

func reqID(id string) string { return "X-AgentMail-Marketplace-Request-Id: " + id }

func usageHdr(js string) string { return "X-AgentMail-Usage: " + js }

func (e *env) submit(from, to string, raw []byte) (marketplace.Result, error) {
	return e.m.Submit(marketplace.Submission{Sender: from, Recipients: []string{to}, Raw: raw})
}

// mustSubmit submits and fails the test on a refusal.
func (e *env) mustSubmit(from, to string, raw []byte) marketplace.Result {
	e.t.Helper()
	res, err := e.submit(from, to, raw)
	if err != nil {
		e.t.Fatalf("submit %s → %s: %v\n%s", from, to, err, raw)
	}
	return res
}

// request sends a paid request r from buyer to to.
func (e *env) request(to, id string, extra ...string) marketplace.Result {
	e.t.Helper()
	return e.mustSubmit(buyer, to, msg(buyer, to, "please", append([]string{reqID(id)},
		extra...)...))
}

// respond sends the seller's response with usage to buyer.
func (e *env) respond(from, id, usage string) marketplace.Result {
	e.t.Helper()
	return e.mustSubmit(from, buyer, msg(from, buyer, "done", reqID(id), usageHdr(usage)))
}

func (e *env) balance(agent string) (avail, reserved billing.Amount) {
	e.t.Helper()
	bs, err := e.ledger.Balances(agent)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, b := range bs {
		if b.Currency == "USD" {
			return b.Available, b.Reserved
		}
	}
	return 0, 0
}

func (e *env) wantBalance(agent, avail, reserved string) {
	e.t.Helper()
	a, r := e.balance(agent)
	if a != amt(e.t, avail) || r != amt(e.t, reserved) {
		e.t.Errorf("%s: available %s reserved %s, want %s and %s", agent, a, r, avail, reserved)
	}
}

// inbox returns the raw messages in an agent's INBOX, oldest first.
func (e *env) inbox(agent string) []string {
	e.t.Helper()
	msgs, err := e.mail.Messages(agent, mailstore.Inbox, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		raw, err := e.mail.Raw(agent, mailstore.Inbox, m.UID)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, string(raw))
	}
	return out
}

func (e *env) wantInbox(agent string, n int) []string {
	e.t.Helper()
	msgs := e.inbox(agent)
	if len(msgs) != n {
		e.t.Errorf("%s INBOX has %d messages, want %d", agent, len(msgs), n)
	}
	return msgs
}

func (e *env) verify() {
	e.t.Helper()
	breaches, err := e.ledger.Verify()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, b := range breaches {
		e.t.Errorf("ledger breach: %s", b)
	}
}

// state is everything a refusal must leave as it was.
type state struct {
	balances map[string][2]billing.Amount
	inboxes  map[string]int
	history  map[string]int
	usage    map[string]int
}

func (e *env) state() state {
	e.t.Helper()
	s := state{map[string][2]billing.Amount{}, map[string]int{}, map[string]int{},
		map[string]int{}}
	for _, a := range agents {
		av, r := e.balance(a)
		s.balances[a] = [2]billing.Amount{av, r}
		s.inboxes[a] = len(e.inbox(a))
		h, _, err := e.ledger.History(a, billing.HistoryFilter{}, 0, 1000)
		if err != nil {
			e.t.Fatal(err)
		}
		s.history[a] = len(h)
		rows, _, err := e.m.UsageRows(a, marketplace.UsageFilter{}, "", 0)
		if err != nil {
			e.t.Fatal(err)
		}
		s.usage[a] = len(rows)
	}
	return s
}

func (e *env) wantState(before state) {
	e.t.Helper()
	after := e.state()
	for _, a := range agents {
		if before.balances[a] != after.balances[a] {
			e.t.Errorf("%s balances changed: %v → %v", a, before.balances[a], after.balances[a])
		}
		if before.inboxes[a] != after.inboxes[a] {
			e.t.Errorf("%s INBOX changed: %d → %d messages", a, before.inboxes[a],
				after.inboxes[a])
		}
		if before.history[a] != after.history[a] {
			e.t.Errorf("%s ledger history changed: %d → %d entries", a, before.history[a],
				after.history[a])
		}
		if before.usage[a] != after.usage[a] {
			e.t.Errorf("%s usage rows changed: %d → %d", a, before.usage[a], after.usage[a])
		}
	}
}

// wantRefusal checks err is a refusal with the enhanced code and a text
// containing want.
func wantRefusal(t *testing.T, err error, enhanced, want string) {
	t.Helper()
	var r *marketplace.Refusal
	if !errors.As(err, &r) {
		t.Errorf("got %v, want a %s refusal", err, enhanced)
		return
	}
	if r.Code < 500 || r.Code > 599 || r.Enhanced != enhanced || !strings.Contains(r.Text, want) {
		t.Errorf("refusal %d %s %q; want 5xx %s containing %q", r.Code, r.Enhanced, r.Text,
			enhanced, want)
	}
}

// firstLine is a message's first line.
func firstLine(raw string) string {
	line, _, _ := strings.Cut(raw, "\r\n")
	return line
}

// headerCount counts header lines named name (case-insensitive) in raw's
// header section.
func headerCount(raw, name string) int {
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	n := 0
	for _, line := range strings.Split(head, "\r\n") {
		k, _, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			n++
		}
	}
	return n
}
