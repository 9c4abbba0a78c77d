package server

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestSentCopyOverIMAP checks over IMAP that what an agent submits lands in
// its \Sent mailbox, \Seen and with the bytes the recipient got, and that
// mail.save_sent = false keeps no copy.
func TestSentCopyOverIMAP(t *testing.T) {
	for _, save := range []bool{true, false} {
		cfg := testConfig(t.TempDir())
		cfg.Mail.SaveSent = save
		ts := startServerWith(t, cfg, newClock())
		ts.addAgent("sender")
		ts.addAgent("reader")
		raw := message("sender", "reader", "kept in Sent", "hello")
		mustSend(t, ts, "sender", "reader", raw)

		c := ts.imapLogin("sender", nil)
		list, err := c.List("", "*", &imap.ListOptions{SelectSpecialUse: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(list, func(l *imap.ListData) bool {
			return l.Mailbox == "Sent" && slices.Contains(l.Attrs, imap.MailboxAttrSent)
		}) {
			t.Fatalf("no \\Sent mailbox in %+v", list)
		}
		sel, err := c.Select("Sent", nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if !save {
			if sel.NumMessages != 0 {
				t.Fatalf("save_sent=false: Sent holds %d messages", sel.NumMessages)
			}
			c.Close()
			continue
		}
		msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("FETCH Sent 1: %d messages, %v", len(msgs), err)
		}
		_, _, inbox := ts.mailbox("reader", "INBOX")
		if got := string(msgs[0].BodySection[0].Bytes); len(inbox) != 1 || got != inbox[0] ||
			got != raw {
			t.Errorf("Sent copy %q, reader got %q, sent %q", got, inbox, raw)
		}
		if !slices.Contains(msgs[0].Flags, imap.FlagSeen) {
			t.Errorf("Sent copy flags %v, want \\Seen", msgs[0].Flags)
		}
		c.Close()
	}
}

// TestMalformedCorpusOverSMTP submits each message of the IMAP side's
// malformed-mail corpus that SMTP can carry and reads it back over IMAP,
// byte for byte. SMTP cannot carry bare CR or LF (smtpd refuses them) or a
// message that does not end with CRLF, and lines over 2000 octets are left
// to the APPEND path in imapd, as smtpd's line limit is configurable.
func TestMalformedCorpusOverSMTP(t *testing.T) {
	paths, err := filepath.Glob("../../imapd/testdata/malformed/*.eml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	ts := startServer(t, t.TempDir(), newClock())
	ts.addAgent("sender")
	ts.addAgent("reader")
	var sent []string
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !smtpCarries(raw) {
			continue
		}
		if err := ts.send("sender", []string{"reader"}, string(raw)); err != nil {
			t.Errorf("%s refused: %v", filepath.Base(p), err)
			continue
		}
		sent = append(sent, string(raw))
	}
	if len(sent) < len(paths)/2 {
		t.Fatalf("only %d of %d corpus messages went over SMTP", len(sent), len(paths))
	}
	_, _, got := ts.mailbox("reader", "INBOX")
	if !slices.Equal(got, sent) {
		for i := range min(len(got), len(sent)) {
			if got[i] != sent[i] {
				t.Errorf("message %d:\n got %q\nwant %q", i+1, got[i], sent[i])
			}
		}
		t.Fatalf("reader has %d messages, %d were sent", len(got), len(sent))
	}
}

func smtpCarries(raw []byte) bool {
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		return false
	}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line)+2 > 2000 || strings.ContainsAny(line, "\r\n") {
			return false
		}
	}
	return true
}

// TestQuotaOverSMTPAndIMAP fills an agent up to mail.quota_bytes: the next
// paid request to it is refused with 552 5.2.2 and reserves nothing, and
// its own APPEND gets [OVERQUOTA].
func TestQuotaOverSMTPAndIMAP(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Mail.QuotaBytes = 2000
	cfg.Mail.SaveSent = false
	ts := startServerWith(t, cfg, newClock())
	ts.addAgent("buyer")
	ts.addAgent("seller")
	ts.credit("buyer", "10.00")
	ts.price("seller", `{"pricing_model":"per_request","base_price":0.25}`)
	mustSend(t, ts, "buyer", "seller", message("buyer", "seller", "fill", strings.Repeat("x", 1500)))

	req := message("buyer", "seller", "paid", strings.Repeat("y", 600),
		"X-AgentMail-Marketplace-Request-Id: req-quota")
	code, text := smtpCode(t, ts.send("buyer", []string{"seller"}, req))
	if code != 552 || !strings.HasPrefix(text, "5.2.2 ") {
		t.Fatalf("request to a full mailbox: %d %s", code, text)
	}
	if got := ts.balance("buyer"); got != "10.000000/0.000000" {
		t.Errorf("buyer balance after the refusal %s: something was reserved", got)
	}
	if n := ts.count("seller", "INBOX"); n != 1 {
		t.Errorf("seller INBOX holds %d messages", n)
	}

	c := ts.imapLogin("seller", nil)
	defer c.Close()
	raw := strings.Repeat("z", 600)
	cmd := c.Append("Drafts", int64(len(raw)), nil)
	if _, err := cmd.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Close()
	if _, err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "OVERQUOTA") {
		t.Fatalf("APPEND over quota: %v", err)
	}
}
