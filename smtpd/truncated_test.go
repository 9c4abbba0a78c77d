package smtpd

import (
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A BDAT chunk cut short by the client hanging up is neither delivered nor
// billed, for plain mail and paid requests alike, over TLS or not (a TLS
// stream ended by close_notify mid-chunk is not yet covered: see eof.go).
func TestTruncatedBDATIsNotDelivered(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
		hdr  string
	}{
		{"paid request", false, "X-AgentMail-Marketplace-Request-Id: trunc-1\r\n"},
		{"plain mail", false, ""},
		{"paid request over TLS", true, "X-AgentMail-Marketplace-Request-Id: trunc-2\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			before := h.state()
			c := h.dial()
			if tc.tls {
				c = h.dialTLS()
			}
			c.login("buyer")
			c.must(250, "MAIL FROM:<buyer@localhost>")
			c.must(250, "RCPT TO:<seller@localhost>")
			part := "From: buyer@localhost\r\nTo: seller@localhost\r\n" + tc.hdr +
				"Subject: cut\r\n\r\nthe start of a body"
			c.write(fmt.Sprintf("BDAT %d LAST\r\n", len(part)+1000) + part)
			time.Sleep(50 * time.Millisecond)
			if tc.tls { // the connection drops, with no TLS close_notify
				c.conn.(*tls.Conn).NetConn().Close()
			} else {
				c.conn.Close()
			}

			// The server finishes with the session on its own time; wait for
			// the refusal to be logged rather than guessing a delay.
			deadline := time.Now().Add(5 * time.Second)
			for !h.logged(`"code":451`) {
				if time.Now().After(deadline) {
					t.Fatalf("no refusal logged for the cut chunk:\n%s", h.logs.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if after := h.state(); after != before {
				t.Errorf("a chunk cut off by a disconnect changed the store:\nbefore:\n%s"+
					"after:\n%s", before, after)
			}
			h.verifyLedger()
		})
	}
}

// logged reports whether the server's log holds s.
func (h *harness) logged(s string) bool { return strings.Contains(h.logs.String(), s) }
