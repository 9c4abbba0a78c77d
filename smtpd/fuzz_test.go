package smtpd

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"agentmail/billing"
)

// FuzzSession drives whole SMTP sessions, as raw client bytes, against the
// real backend: mailstore, ledger and marketplace. After each session: no
// panic, the ledger verifies, every mailbox change is exactly what the
// accepted transactions delivered (no partial delivery), and the ledger
// changes only alongside an accepted paid message. The seed corpus is in
// testdata/fuzz/FuzzSession.
func FuzzSession(f *testing.F) {
	h := newHarness(f, func(c *Config) {
		c.MaxMessageBytes = 64 << 10
		c.MaxLineBytes = 4096
		c.MaxHeaderBytes = 8 << 10
		c.Auth = AuthLimits{} // never slowed or blocked: every input may log in
		c.ReadTimeout = 3 * time.Second
	})
	amount, _ := billing.ParseAmount("10")
	if _, err := h.ledger.Credit(billing.Transfer{Agent: "seller@localhost", Currency: "USD",
		Amount: amount}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		before := fuzzSnapshot(t, h)
		logStart := len(h.logs.String())
		runScript(t, h.addr, script)
		after := fuzzSnapshot(t, h)
		logs := h.logs.String()[logStart:]

		if strings.Contains(logs, "panic") {
			t.Fatalf("panic in session:\n%s", logs)
		}
		breaches, err := h.ledger.Verify()
		if err != nil {
			t.Fatal(err)
		}
		if len(breaches) > 0 {
			t.Fatalf("ledger breaches: %v", breaches)
		}
		acc := acceptedTransactions(t, logs)
		if got := after.inbox - before.inbox; got != acc.deliveries {
			t.Fatalf("INBOX grew by %d, accepted transactions delivered %d\n%s",
				got, acc.deliveries, logs)
		}
		if got := after.sent - before.sent; got != acc.messages {
			t.Fatalf("Sent grew by %d, accepted messages %d\n%s", got, acc.messages, logs)
		}
		if after.entries != before.entries && acc.paid == 0 {
			t.Fatalf("ledger changed (%d -> %d entries) without an accepted paid message\n%s",
				before.entries, after.entries, logs)
		}
	})
}

// runScript writes script on a fresh connection, closes the sending side
// and reads replies until the server hangs up.
func runScript(t *testing.T, addr string, script []byte) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	go func() {
		_, _ = conn.Write(script)
		_ = conn.(*net.TCPConn).CloseWrite()
	}()
	var ne net.Error
	if _, err := io.Copy(io.Discard, conn); errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("session did not end: %v", err)
	}
}

type fuzzState struct{ inbox, sent, entries int }

func fuzzSnapshot(t *testing.T, h *harness) fuzzState {
	var s fuzzState
	for _, id := range []string{"buyer", "seller", "other"} {
		addr := id + "@" + testDomain
		inbox, err := h.ms.UIDs(addr, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		sent, err := h.ms.UIDs(addr, "Sent")
		if err != nil {
			t.Fatal(err)
		}
		entries, _, err := h.ledger.History(addr, billing.HistoryFilter{}, 0, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		s.inbox += len(inbox)
		s.sent += len(sent)
		s.entries += len(entries)
	}
	return s
}

// accepted sums up the transactions a session's log says were accepted and
// not repeats: messages stored, deliveries to recipients, paid ones.
type accepted struct{ messages, deliveries, paid int }

func acceptedTransactions(t *testing.T, logs string) accepted {
	var a accepted
	for _, line := range strings.Split(logs, "\n") {
		if line == "" {
			continue
		}
		var m struct {
			Msg        string  `json:"msg"`
			Code       float64 `json:"code"`
			Billing    string  `json:"billing"`
			Recipients string  `json:"recipients"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m.Msg != "transaction" || m.Code != 250 || strings.HasSuffix(m.Billing, "(repeat)") {
			continue
		}
		a.messages++
		seen := map[string]bool{}
		for _, r := range strings.Split(m.Recipients, ",") {
			seen[r] = true
		}
		a.deliveries += len(seen)
		if m.Billing == "request" || m.Billing == "response" {
			a.paid++
		}
	}
	return a
}
