package smtpd

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func never(net.Conn) bool { return false }

// Off loopback (simulated: plaintext auth allowed nowhere), AUTH is neither
// advertised nor accepted before STARTTLS, and works after it and on the
// implicit-TLS listener.
func TestAuthOnlyOverTLS(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.InsecureAuth = never })
	c := h.dial()
	ehlo := c.must(250, "EHLO client.test")
	if strings.Contains(ehlo, "AUTH") || !strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("plaintext EHLO advertises AUTH or lacks STARTTLS:\n%s", ehlo)
	}
	if code, text := c.cmd("AUTH PLAIN " + plain("buyer", testPassword)); code != 538 ||
		!strings.HasPrefix(text, "5.7.11 ") {
		t.Errorf("plaintext AUTH: %d %q, want 538 5.7.11", code, text)
	}
	if code, _ := c.cmd("MAIL FROM:<buyer@localhost>"); code != 530 {
		t.Errorf("MAIL before AUTH: %d, want 530", code)
	}

	c.startTLS()
	ehlo = c.must(250, "EHLO client.test")
	if !strings.Contains(ehlo, "AUTH PLAIN LOGIN") || strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("EHLO after STARTTLS:\n%s", ehlo)
	}
	c.must(235, "AUTH PLAIN "+plain("buyer", testPassword))
	if code, text := c.send("buyer", "seller", message("buyer", "seller", "s", "b")); code != 250 {
		t.Errorf("send after STARTTLS: %d %q", code, text)
	}

	// AUTH LOGIN on the implicit-TLS listener.
	tc := h.dialTLS()
	if ehlo := tc.must(250, "EHLO client.test"); strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("implicit TLS offers STARTTLS:\n%s", ehlo)
	}
	tc.must(334, "AUTH LOGIN")
	tc.must(334, b64("seller"))
	tc.must(235, b64(testPassword))
}

func TestPlaintextAuthOnLoopbackByDefault(t *testing.T) {
	h := newHarness(t, nil)
	c := h.dial()
	if ehlo := c.must(250, "EHLO client.test"); !strings.Contains(ehlo, "AUTH PLAIN LOGIN") {
		t.Errorf("loopback EHLO lacks AUTH:\n%s", ehlo)
	}
	c.must(235, "AUTH PLAIN "+plain("buyer", testPassword))
}

// A brute force is slowed, then blocked; the answers for an agent that
// exists and one that does not are the same, word for word, and the block
// holds even for the right password.
func TestAuthBruteForceSlowedThenBlocked(t *testing.T) {
	limits := AuthLimits{Delay: 40 * time.Millisecond, MaxDelay: 120 * time.Millisecond,
		CountLoopback: true, // the harness connects from loopback
		BlockAfter:    5, BlockFor: time.Minute}
	transcript := func(user string) ([]string, []time.Duration, string) {
		h := newHarness(t, func(c *Config) { c.Auth = limits })
		c := h.dial()
		c.must(250, "EHLO client.test")
		var replies []string
		var took []time.Duration
		for i := range 5 {
			start := time.Now()
			var code int
			var text string
			if i%2 == 0 {
				code, text = c.cmd("AUTH PLAIN " + plain(user, "wrong-"+user))
			} else { // LOGIN, the other mechanism, counts the same
				c.must(334, "AUTH LOGIN")
				c.must(334, b64(user))
				code, text = c.cmd(b64("wrong-" + user))
			}
			took = append(took, time.Since(start))
			replies = append(replies, itoa(code)+" "+text)
		}
		// Blocked now: the right password does not get in either.
		code, text := c.cmd("AUTH LOGIN")
		replies = append(replies, itoa(code)+" "+text)
		code, text = c.cmd("AUTH PLAIN " + plain("buyer", testPassword))
		replies = append(replies, itoa(code)+" "+text)
		return replies, took, h.logs.String()
	}

	real, took, logs := transcript("buyer")
	ghost, _, _ := transcript("nobody")
	for i := range real {
		if real[i] != ghost[i] {
			t.Errorf("attempt %d: existing agent got %q, unknown got %q", i+1, real[i], ghost[i])
		}
	}
	for i, r := range real[:5] {
		if !strings.HasPrefix(r, "535 5.7.8 ") {
			t.Errorf("attempt %d: %q, want 535 5.7.8", i+1, r)
		}
	}
	for i, r := range real[5:] {
		if !strings.HasPrefix(r, "454 4.7.0 ") || !strings.Contains(r, "try again in 1m0s") {
			t.Errorf("attempt %d after the block: %q, want 454 4.7.0 … try again in 1m0s",
				i+6, r)
		}
	}
	if took[0] < limits.Delay || took[3] < limits.MaxDelay {
		t.Errorf("failures not slowed: %v", took)
	}
	for _, want := range []string{`"msg":"authentication failed"`,
		`"msg":"authentication blocked"`, `"msg":"authentication refused: address blocked"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "wrong-buyer") || strings.Contains(logs, testPassword) {
		t.Errorf("log holds a password:\n%s", logs)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
