package server

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/internal/store"
)

// lineConn is a raw protocol conversation, for watching exactly what the
// server says while it shuts down.
type lineConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialLines(t *testing.T, addr string) *lineConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &lineConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (l *lineConn) send(line string) {
	l.t.Helper()
	if _, err := fmt.Fprintf(l.c, "%s\r\n", line); err != nil {
		l.t.Fatal(err)
	}
}

// expect reads lines until one starts with prefix and returns it.
func (l *lineConn) expect(prefix string) string {
	l.t.Helper()
	for {
		line, err := l.r.ReadString('\n')
		if err != nil {
			l.t.Fatalf("waiting for %q: %v", prefix, err)
		}
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(line)
		}
	}
}

// smtpReady opens an authenticated SMTP session as id, with MAIL and RCPT
// to the given agent done.
func smtpReady(t *testing.T, ts *testServer, id, to string) *lineConn {
	l := dialLines(t, ts.smtpA)
	l.expect("220 ")
	l.send("EHLO client.test")
	l.expect("250 ")
	creds := base64.StdEncoding.EncodeToString([]byte("\x00" + id + "\x00" + testPassword))
	l.send("AUTH PLAIN " + creds)
	l.expect("235 ")
	l.send("MAIL FROM:<" + id + "@localhost>")
	l.expect("250 ")
	l.send("RCPT TO:<" + to + "@localhost>")
	l.expect("250 ")
	return l
}

// Close lets a message whose data is arriving finish with 250, answers idle
// SMTP sessions 421, says BYE to an IMAP session in IDLE, and leaves a
// store that passes bbolt's check and the ledger's with the message in it.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir, newClock())
	ts.addAgent("buyer")
	ts.addAgent("seller")
	ts.credit("buyer", "10")
	ts.price("seller", `{"pricing_model": "per_request", "base_price": "0.25"}`)

	idle := smtpReady(t, ts, "buyer", "seller")
	inData := smtpReady(t, ts, "buyer", "seller")
	inData.send("DATA")
	inData.expect("354 ")
	msg := message("buyer", "seller", "in flight", "{}",
		"X-AgentMail-Marketplace-Request-Id: in-flight-1")
	head, tail, _ := strings.Cut(msg, "\r\n\r\n")
	inData.send(head + "\r\n") // the body is still to come

	imapIdle := dialLines(t, ts.imapA)
	imapIdle.expect("* OK")
	imapIdle.send("a LOGIN seller " + testPassword)
	imapIdle.expect("a OK")
	imapIdle.send("b SELECT INBOX")
	imapIdle.expect("b OK")
	imapIdle.send("c IDLE")
	imapIdle.expect("+ ")

	closed := make(chan error, 1)
	go func() { closed <- ts.Close() }()

	if got := idle.expect("421 "); !strings.HasPrefix(got, "421 4.") {
		t.Errorf("idle SMTP session got %q", got)
	}
	inData.send(tail + "\r\n.")
	if got := inData.expect(""); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("message in flight at shutdown: %q, want 250", got)
	}
	inData.expect("421 ")
	imapIdle.expect("* BYE")

	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}

	ts = startServer(t, dir, newClock())
	defer ts.Close()
	if n := ts.count("seller", "INBOX"); n != 1 {
		t.Errorf("seller INBOX holds %d messages after shutdown, want the one in flight", n)
	}
	if got := ts.balance("buyer"); got != "9.750000/0.250000" {
		t.Errorf("buyer balance %s after shutdown", got)
	}
	ts.verifyLedger()
	err := ts.Stores.DB.View(func(tx *bolt.Tx) error {
		for _, err := range store.CheckTx(tx) {
			t.Errorf("bbolt check: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
