package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"golang.org/x/crypto/bcrypt"

	"agentmail/billing"
	"agentmail/internal/admin"
	"agentmail/internal/config"
	"agentmail/marketplace"
)

const testPassword = "correct-horse-battery"

// clock is a ledger clock that tests move forward.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testServer is a running server on loopback with free ports.
type testServer struct {
	*Server
	t                   *testing.T
	dir                 string
	clock               *clock
	smtpA, imapA, httpA string
	admin               *admin.Service
}

func testConfig(dir string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.SMTP.Listen = "127.0.0.1:0"
	cfg.IMAP.Listen = "127.0.0.1:0"
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Billing.ReservationTTL = config.Duration{Duration: time.Hour}
	return cfg
}

func startServer(t *testing.T, dir string, clk *clock) *testServer {
	t.Helper()
	return startServerWith(t, testConfig(dir), clk)
}

func startServerWith(t *testing.T, cfg config.Config, clk *clock) *testServer {
	t.Helper()
	srv, err := Start(cfg, discardLog(), Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stores.Mail.SetPasswordCost(bcrypt.MinCost)
	ts := &testServer{Server: srv, t: t, dir: cfg.DataDir, clock: clk,
		admin: srv.Stores.Admin(cfg.Domain)}
	ts.smtpA, ts.imapA, ts.httpA = srv.Addrs()
	return ts
}

func newClock() *clock { return &clock{now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)} }

func (ts *testServer) addAgent(id string) {
	ts.t.Helper()
	if _, err := ts.admin.AddAgent(id, testPassword); err != nil {
		ts.t.Fatal(err)
	}
}

func (ts *testServer) credit(id, amount string) {
	ts.t.Helper()
	a, err := billing.ParseAmount(amount)
	if err != nil {
		ts.t.Fatal(err)
	}
	if _, err := ts.admin.Credit(admin.CreditRequest{Address: id, Amount: a, Currency: "USD"}); err != nil {
		ts.t.Fatal(err)
	}
}

func (ts *testServer) price(id, pricingJSON string) {
	ts.t.Helper()
	p, err := marketplace.ParsePricing([]byte(pricingJSON))
	if err != nil {
		ts.t.Fatal(err)
	}
	if err := ts.admin.SetPricing(id, p); err != nil {
		ts.t.Fatal(err)
	}
}

// balance returns "available/reserved" in USD, as six-decimal strings.
func (ts *testServer) balance(id string) string {
	ts.t.Helper()
	b, err := ts.admin.Balance(id)
	if err != nil {
		ts.t.Fatal(err)
	}
	for _, x := range b.Balances {
		if x.Currency == "USD" {
			return x.Available.String() + "/" + x.Reserved.String()
		}
	}
	return "0.000000/0.000000"
}

// send submits raw over SMTP as agent id, to the given agent ids. It returns
// the SMTP error of the first refused step, or nil.
func (ts *testServer) send(id string, to []string, raw string) error {
	ts.t.Helper()
	c, err := smtp.Dial(ts.smtpA)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if err := c.Auth(smtp.PlainAuth("", id, testPassword, "127.0.0.1")); err != nil {
		return err
	}
	if err := c.Mail(id + "@localhost"); err != nil {
		return err
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt + "@localhost"); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// smtpCode returns the reply code and text of an SMTP error.
func smtpCode(t *testing.T, err error) (int, string) {
	t.Helper()
	var tpErr *textproto.Error
	if !errors.As(err, &tpErr) {
		t.Fatalf("want an SMTP reply error, got %v", err)
	}
	return tpErr.Code, tpErr.Msg
}

// message builds a CRLF message from sender to recipient with extra header
// lines.
func message(from, to, subject, body string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s@localhost\r\nTo: %s@localhost\r\nSubject: %s\r\n", from, to, subject)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + strings.ReplaceAll(body, "\n", "\r\n") + "\r\n")
	return b.String()
}

// imapLogin opens an IMAP session as agent id.
func (ts *testServer) imapLogin(id string, opts *imapclient.Options) *imapclient.Client {
	ts.t.Helper()
	c, err := imapclient.DialInsecure(ts.imapA, opts)
	if err != nil {
		ts.t.Fatal(err)
	}
	if err := c.Login(id, testPassword).Wait(); err != nil {
		ts.t.Fatal(err)
	}
	return c
}

// mailbox returns the raw messages of an agent's mailbox, with UIDVALIDITY.
func (ts *testServer) mailbox(id, name string) (uidValidity uint32, uids []imap.UID,
	raws []string) {
	ts.t.Helper()
	c := ts.imapLogin(id, nil)
	defer c.Close()
	sel, err := c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		ts.t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		return sel.UIDValidity, nil, nil
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		ts.t.Fatal(err)
	}
	for _, m := range msgs {
		uids = append(uids, m.UID)
		raws = append(raws, string(m.BodySection[0].Bytes))
	}
	return sel.UIDValidity, uids, raws
}

func (ts *testServer) count(id, name string) int {
	ts.t.Helper()
	_, uids, _ := ts.mailbox(id, name)
	return len(uids)
}

// httpGet fetches a path from the side-server with optional Basic auth.
func (ts *testServer) httpGet(path, user string) (int, string) {
	ts.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+ts.httpA+path, nil)
	if user != "" {
		req.SetBasicAuth(user, testPassword)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// headerValue returns the first value of a header in a raw message.
func headerValue(raw, name string) string {
	for _, line := range strings.Split(raw, "\r\n") {
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (ts *testServer) verifyLedger() {
	ts.t.Helper()
	breaches, err := ts.Stores.Ledger.Verify()
	if err != nil {
		ts.t.Fatal(err)
	}
	for _, b := range breaches {
		ts.t.Errorf("ledger breach: %s", b)
	}
}

// sendAs is send with an explicit envelope sender.
func (ts *testServer) sendAs(id, envelopeFrom string, to []string, raw string) error {
	ts.t.Helper()
	c, err := smtp.Dial(ts.smtpA)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(smtp.PlainAuth("", id, testPassword, "127.0.0.1")); err != nil {
		return err
	}
	if err := c.Mail(envelopeFrom); err != nil {
		return err
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt + "@localhost"); err != nil {
			return err
		}
	}
	return writeRawData(c, raw)
}

// writeRawData sends DATA and then raw exactly as given, with no line-ending
// repair, followed by the end-of-data line.
func writeRawData(c *smtp.Client, raw string) error {
	id, err := c.Text.Cmd("DATA")
	if err != nil {
		return err
	}
	c.Text.StartResponse(id)
	_, _, err = c.Text.ReadResponse(354)
	c.Text.EndResponse(id)
	if err != nil {
		return err
	}
	if _, err := c.Text.W.WriteString(raw + "\r\n.\r\n"); err != nil {
		return err
	}
	if err := c.Text.W.Flush(); err != nil {
		return err
	}
	_, _, err = c.Text.ReadResponse(250)
	return err
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
