package smtpd

import (
	"fmt"
	"strings"
	"testing"
)

// smuggled is a second, paid transaction hidden after a fake end of data.
const smuggled = "MAIL FROM:<buyer@localhost>\r\nRCPT TO:<seller@localhost>\r\nDATA\r\n" +
	"From: buyer@localhost\r\nX-AgentMail-Marketplace-Request-Id: smuggled-1\r\n\r\n" +
	"smuggled\r\n"

// The classic SMTP smuggling payloads (2023): each fake end-of-data
// sequence is refused as a bare CR or LF, nothing is delivered or billed,
// and the server answers exactly once, so the session stays in step.
func TestSmugglingPayloadsRefused(t *testing.T) {
	h := newHarness(t, nil)
	for name, fakeEnd := range map[string]string{
		"<LF>.<CR><LF>":     "\n.\r\n",
		"<CR>.<CR>":         "\r.\r",
		"<LF>.<LF>":         "\n.\n",
		"<CR><LF>.<LF>":     "\r\n.\n",
		"<LF>.<CR>":         "\n.\r",
		"<CR>.<CR><LF>":     "\r.\r\n",
		"bare LF in header": "\r\nX-Note: a\nb\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := h.dial()
			c.login("buyer")
			before := h.state()
			c.must(250, "MAIL FROM:<buyer@localhost>")
			c.must(250, "RCPT TO:<other@localhost>")
			c.must(354, "DATA")
			c.write("From: buyer@localhost\r\nSubject: first\r\n\r\nfirst" + fakeEnd + smuggled +
				"\r\n.\r\n")
			code, text := c.reply()
			if code != 550 || !strings.HasPrefix(text, "5.5.2 bare CR or LF") {
				t.Errorf("got %d %q, want 550 5.5.2 bare CR or LF", code, text)
			}
			if code, text := c.cmd("NOOP"); code != 250 {
				t.Errorf("after the refusal, NOOP got %d %q: the stream is out of step", code, text)
			}
			if after := h.state(); after != before {
				t.Errorf("smuggling attempt changed state:\nbefore\n%s\nafter\n%s", before, after)
			}
		})
	}
	h.verifyLedger()
}

// go-smtp's DATA reader drops the "." and the CR of CRLF "." CR when no LF
// follows, so that bare CR never reaches the session and cannot be
// refused. The data still ends only at CRLF.CRLF: the hidden transaction
// stays text inside one message to the envelope's recipient, and nothing
// is billed.
func TestSmugglingDotCRStaysOneMessage(t *testing.T) {
	h := newHarness(t, nil)
	c := h.dial()
	c.login("buyer")
	before := h.state()
	c.must(250, "MAIL FROM:<buyer@localhost>")
	c.must(250, "RCPT TO:<other@localhost>")
	c.must(354, "DATA")
	c.write("From: buyer@localhost\r\nSubject: first\r\n\r\nfirst\r\n.\r" + smuggled +
		"\r\n.\r\n")
	c.expect(250) // TODO: refuse this bare CR once go-smtp's reader passes it on.
	c.must(250, "NOOP")
	after := h.state()
	if want := strings.Replace(strings.Replace(before, "other inbox=0", "other inbox=1", 1),
		"buyer inbox=0 sent=0", "buyer inbox=0 sent=1", 1); after != want {
		t.Errorf("state:\n%s\nwant\n%s", after, want)
	}
	if got := h.inbox("other"); len(got) != 1 || !strings.Contains(string(got[0]), "smuggled") {
		t.Errorf("other's INBOX: %q", got)
	}
	h.verifyLedger()
}

// BDAT chunks are read by count, never by line: a refused MAIL or RCPT in
// a pipelined group makes the following BDAT fail, its chunk is skipped
// whole, and the next command is read where the client put it (RFC 3030
// section 3, RFC 2920 section 3.1).
func TestBDATPipelined(t *testing.T) {
	h := newHarness(t, nil)
	c := h.dial()
	if ehlo := c.must(250, "EHLO client.test"); !strings.Contains(ehlo, "CHUNKING") ||
		!strings.Contains(ehlo, "PIPELINING") {
		t.Fatalf("EHLO lacks CHUNKING or PIPELINING:\n%s", ehlo)
	}
	c.must(235, "AUTH PLAIN "+plain("buyer", testPassword))
	before := h.state()

	// A refused envelope sender; the chunk looks like commands.
	chunk := "From: other@localhost\r\n\r\n" + smuggled
	c.write("MAIL FROM:<other@localhost>\r\nRCPT TO:<seller@localhost>\r\n" +
		fmt.Sprintf("BDAT %d LAST\r\n%s", len(chunk), chunk) + "NOOP\r\n")
	for i, want := range []int{553, 502, 502, 250} {
		if code, text := c.reply(); code != want {
			t.Errorf("reply %d: %d %q, want %d", i+1, code, text, want)
		}
	}
	// A refused recipient.
	c.write("MAIL FROM:<buyer@localhost>\r\nRCPT TO:<nobody@localhost>\r\n" +
		fmt.Sprintf("BDAT %d LAST\r\n%s", len(chunk), chunk) + "NOOP\r\n")
	for i, want := range []int{250, 550, 502, 250} {
		if code, text := c.reply(); code != want {
			t.Errorf("reply %d: %d %q, want %d", i+1, code, text, want)
		}
	}
	// A chunk with a bare LF is refused at LAST; the next command is in step.
	c.write("RSET\r\nMAIL FROM:<buyer@localhost>\r\nRCPT TO:<seller@localhost>\r\n" +
		"BDAT 10\r\nFrom: buye" + "BDAT 14 LAST\r\nr@localhost\n\r\n" + "NOOP\r\n")
	for i, want := range []int{250, 250, 250, 250, 550, 250} {
		if code, text := c.reply(); code != want {
			t.Errorf("reply %d: %d %q, want %d", i+1, code, text, want)
		}
	}
	if after := h.state(); after != before {
		t.Errorf("refused BDAT changed state:\nbefore\n%s\nafter\n%s", before, after)
	}

	// A good message in two pipelined chunks arrives once, byte for byte.
	msg := message("buyer", "seller", "chunked", "part one\r\n.\r\npart two")
	c.write("MAIL FROM:<buyer@localhost>\r\nRCPT TO:<seller@localhost>\r\n" +
		fmt.Sprintf("BDAT %d\r\n%s", 20, msg[:20]) +
		fmt.Sprintf("BDAT %d LAST\r\n%s", len(msg)-20, msg[20:]))
	for i, want := range []int{250, 250, 250, 250} {
		if code, text := c.reply(); code != want {
			t.Fatalf("reply %d: %d %q, want %d", i+1, code, text, want)
		}
	}
	got := h.inbox("seller")
	if len(got) != 1 || !strings.HasSuffix(string(got[0]), msg) {
		t.Errorf("seller INBOX holds %q, want one copy of %q", got, msg)
	}
	h.verifyLedger()
}

// With DATA, a pipelining client stops at DATA and waits for 354 (RFC 2920
// section 3.1); when MAIL or RCPT was refused, DATA is refused and the
// stream stays in step.
func TestDATAPipelinedAfterRefusal(t *testing.T) {
	h := newHarness(t, nil)
	c := h.dial()
	c.login("buyer")
	c.write("MAIL FROM:<buyer@localhost>\r\nRCPT TO:<nobody@localhost>\r\nDATA\r\nNOOP\r\n")
	for i, want := range []int{250, 550, 502, 250} {
		if code, text := c.reply(); code != want {
			t.Errorf("reply %d: %d %q, want %d", i+1, code, text, want)
		}
	}
}
