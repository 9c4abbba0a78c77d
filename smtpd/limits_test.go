package smtpd

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func TestSizeAdvertisedAndEnforced(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxMessageBytes = 1000 })
	c := h.dial()
	c.must(250, "EHLO client.test")
	if ehlo := c.must(250, "EHLO client.test"); !strings.Contains(ehlo, "SIZE 1000") {
		t.Errorf("EHLO lacks SIZE 1000:\n%s", ehlo)
	}
	c.must(235, "AUTH PLAIN "+plain("buyer", testPassword))
	before := h.state()
	big := message("buyer", "seller", "big", strings.Repeat("x", 100)+
		strings.Repeat("\r\n"+strings.Repeat("y", 98), 12))

	// Declared too large in MAIL (RFC 1870 section 6.2).
	if code, text := c.cmd("MAIL FROM:<buyer@localhost> SIZE=2000"); code != 552 ||
		!strings.HasPrefix(text, "5.3.4 ") {
		t.Errorf("MAIL SIZE=2000: %d %q, want 552 5.3.4", code, text)
	}
	// Too large in DATA.
	code, text := c.send("buyer", "seller", big)
	if code != 552 || !strings.HasPrefix(text, "5.3.4 ") || !strings.Contains(text, "1000 bytes") {
		t.Errorf("oversize DATA: %d %q, want 552 5.3.4 naming the limit", code, text)
	}
	// Too large in BDAT (RFC 3030).
	c.must(250, "MAIL FROM:<buyer@localhost>")
	c.must(250, "RCPT TO:<seller@localhost>")
	c.write(fmt.Sprintf("BDAT %d LAST\r\n%s", len(big), big))
	if code, text := c.reply(); code != 552 || !strings.HasPrefix(text, "5.3.4 ") {
		t.Errorf("oversize BDAT: %d %q, want 552 5.3.4", code, text)
	}
	if after := h.state(); after != before {
		t.Errorf("oversize message changed state:\n%s\n%s", before, after)
	}
	// The session is still in step and a small message goes through.
	if code, text := c.send("buyer", "seller", message("buyer", "seller", "s", "b")); code != 250 {
		t.Errorf("small message after refusals: %d %q", code, text)
	}
}

func TestTooManyRecipients(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxRecipients = 2 })
	c := h.dial()
	c.login("buyer")
	c.must(250, "MAIL FROM:<buyer@localhost>")
	c.must(250, "RCPT TO:<seller@localhost>")
	c.must(250, "RCPT TO:<other@localhost>")
	if code, text := c.cmd("RCPT TO:<buyer@localhost>"); code != 452 ||
		!strings.HasPrefix(text, "4.5.3 ") {
		t.Errorf("third recipient: %d %q, want 452 4.5.3", code, text)
	}
	c.must(354, "DATA")
	c.write(message("buyer", "seller", "s", "b") + ".\r\n")
	c.expect(250)
	if n := len(h.inbox("buyer")); n != 0 {
		t.Errorf("refused recipient got %d messages", n)
	}
}

func TestLongLines(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxLineBytes = 300 })
	c := h.dial()
	c.login("buyer")
	if code, text := c.send("buyer", "seller",
		message("buyer", "seller", "s", strings.Repeat("a", 280))); code != 250 {
		t.Fatalf("line under the limit: %d %q", code, text)
	}
	before := h.state()
	code, text := c.send("buyer", "seller", message("buyer", "seller", "s", strings.Repeat("a", 400)))
	if code != 500 || !strings.Contains(text, "at most 300 bytes") {
		t.Errorf("overlong line: %d %q, want 500 naming the limit", code, text)
	}
	if after := h.state(); after != before {
		t.Errorf("overlong line changed state:\n%s\n%s", before, after)
	}
}

func TestHeaderSectionLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxHeaderBytes = 500 })
	c := h.dial()
	c.login("buyer")
	before := h.state()
	var extra []string
	for i := range 10 {
		extra = append(extra, fmt.Sprintf("X-Padding-%d: %s", i, strings.Repeat("p", 60)))
	}
	code, text := c.send("buyer", "seller", message("buyer", "seller", "s", "b", extra...))
	if code != 552 || !strings.HasPrefix(text, "5.3.4 header section is ") ||
		!strings.Contains(text, "limit of 500") {
		t.Errorf("big header: %d %q, want 552 5.3.4 header section …", code, text)
	}
	if after := h.state(); after != before {
		t.Errorf("refused header changed state:\n%s\n%s", before, after)
	}
	// A long body under a small header is fine.
	if code, text := c.send("buyer", "seller",
		message("buyer", "seller", "s", strings.Repeat("body line\r\n", 100))); code != 250 {
		t.Errorf("long body: %d %q", code, text)
	}
}

func TestSendingRatePerAgent(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.SendPerMinute, c.SendBurst = 6, 2 })
	c := h.dial()
	c.login("buyer")
	for range 2 {
		if code, text := c.send("buyer", "seller", message("buyer", "seller", "s", "b")); code != 250 {
			t.Fatalf("within burst: %d %q", code, text)
		}
	}
	code, text := c.cmd("MAIL FROM:<buyer@localhost>")
	if code != 451 || !strings.HasPrefix(text, "4.7.1 ") ||
		!strings.Contains(text, "at most 6 messages a minute") ||
		!strings.Contains(text, "try again in 10s") {
		t.Errorf("over the rate: %d %q, want 451 4.7.1 … try again in 10s", code, text)
	}
	// Another agent has its own allowance, on another connection.
	o := h.dial()
	o.login("other")
	if code, text := o.send("other", "seller", message("other", "seller", "s", "b")); code != 250 {
		t.Errorf("other agent: %d %q", code, text)
	}
}

func TestConnectionsPerAddress(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.MaxConnsPerAddr = 2
		c.ConnLimitExempt = func(net.Addr) bool { return false } // count loopback too
	})
	first := h.dial()
	h.dial()
	conn, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	third := &client{t: t, conn: conn, r: newReader(conn), h: h}
	if code, text := third.reply(); code != 421 || !strings.Contains(text, "too many connections") {
		t.Errorf("third connection: %d %q, want 421", code, text)
	}
	// A slot frees up when a session ends.
	first.must(221, "QUIT")
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		line, _ := newReader(conn).ReadString('\n')
		conn.Close()
		if strings.HasPrefix(line, "220 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot after QUIT: %q", line)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(h.logs.String(), "too many from one address") {
		t.Error("refused connection not logged")
	}
}

// Loopback is exempt by default: a local proxy or load generator is many
// clients behind one address.
func TestLoopbackExemptFromConnectionLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxConnsPerAddr = 1 })
	for range 3 {
		h.dial()
	}
}
