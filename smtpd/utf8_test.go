package smtpd

import (
	"encoding/json"
	"strings"
	"testing"
)

// SMTPUTF8 (RFC 6531) and 8BITMIME (RFC 6152): a UTF-8 subject, display
// name and body arrive byte for byte. Agent addresses are ASCII by design,
// so a UTF-8 address names no agent and is refused like any unknown one.
func TestUTF8DeliveredIntact(t *testing.T) {
	h := newHarness(t, nil)
	c := h.dial()
	c.must(250, "EHLO client.test")
	ehlo := c.must(250, "EHLO client.test")
	for _, ext := range []string{"SMTPUTF8", "8BITMIME"} {
		if !strings.Contains(ehlo, ext) {
			t.Errorf("EHLO lacks %s:\n%s", ext, ehlo)
		}
	}
	c.must(235, "AUTH PLAIN "+plain("buyer", testPassword))
	raw := "From: \"K\u00e4ufer \U0001F916\" <buyer@localhost>\r\nTo: seller@localhost\r\n" +
		"Subject: Gr\u00fc\u00dfe \u2014 \u65e5\u672c\u8a9e \U0001F680\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		"Stra\u00dfe, \u0152uvre, \u0417\u0434\u0440\u0430\u0432\u0441\u0442\u0432\u0443\u0439, " +
		"\u0645\u0631\u062d\u0628\u0627\r\n..leading dot kept once\r\n"
	c.must(250, "MAIL FROM:<buyer@localhost> SMTPUTF8 BODY=8BITMIME")
	if code, text := c.cmd("RCPT TO:<k\u00e4ufer@localhost>"); code != 550 ||
		!strings.HasPrefix(text, "5.1.1 ") {
		t.Errorf("UTF-8 recipient: %d %q, want 550 5.1.1", code, text)
	}
	c.must(250, "RCPT TO:<seller@localhost>")
	c.must(354, "DATA")
	c.write(raw + ".\r\n")
	c.expect(250)

	got := h.inbox("seller")
	want := strings.Replace(raw, "\r\n..leading", "\r\n.leading", 1) // dot-stuffing undone
	if len(got) != 1 || !strings.HasSuffix(string(got[0]), want) {
		t.Fatalf("delivered %q\nwant suffix %q", got, want)
	}
}

// One log line per finished transaction with the fixed keys; never a
// password or a body.
func TestTransactionLogLine(t *testing.T) {
	h := newHarness(t, nil)
	c := h.dial()
	c.login("buyer")
	c.send("buyer", "seller", message("buyer", "seller", "s", "secret-body-text",
		"X-AgentMail-Marketplace-Request-Id: log-1"))
	c.send("buyer", "other", message("other", "other", "s", "another-secret-body"))

	d := h.dial() // a failed attempt on a second connection
	d.must(250, "EHLO client.test")
	d.must(535, "AUTH PLAIN "+plain("buyer", "hunter2-wrong"))

	logs := h.logs.String()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "transaction" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d transaction lines, want 2:\n%s", len(lines), logs)
	}
	first, second := lines[0], lines[1]
	for key, want := range map[string]any{"agent": "buyer@localhost",
		"recipients": "seller@localhost", "request_id": "log-1", "billing": "request",
		"amount": "0.250000", "currency": "USD", "code": float64(250)} {
		if first[key] != want {
			t.Errorf("first line %s = %v, want %v", key, first[key], want)
		}
	}
	for _, key := range []string{"remote", "size", "duration"} {
		if _, ok := first[key]; !ok {
			t.Errorf("first line lacks %s", key)
		}
	}
	if second["code"] != float64(550) {
		t.Errorf("refused transaction logged code %v, want 550", second["code"])
	}
	for _, secret := range []string{testPassword, "hunter2-wrong", "secret-body-text",
		"another-secret-body", plain("buyer", testPassword)} {
		if strings.Contains(logs, secret) {
			t.Errorf("log holds %q:\n%s", secret, logs)
		}
	}
}
