package server

import (
	"errors"
	"net/http"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Failed logins count across protocols: guesses over SMTP block IMAP and
// HTTP too, for the right password as well, with answers that say to wait.
func TestFailedLoginsBlockEveryProtocol(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.SMTP.AuthFailureDelay.Duration = 0
	cfg.SMTP.AuthBlockAfter = 3
	cfg.SMTP.AuthBlockFor.Duration = time.Minute
	ts := startServerWith(t, cfg, newClock())
	defer ts.Close()
	ts.addAgent("buyer")

	for range 3 {
		c, err := smtp.Dial(ts.smtpA)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Auth(smtp.PlainAuth("", "buyer", "wrong-password", "127.0.0.1"))
		c.Close()
		if code, _ := smtpCode(t, err); code != 535 {
			t.Fatalf("wrong SMTP password answered %d", code)
		}
	}

	c, err := imapclient.DialInsecure(ts.imapA, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Login("buyer", testPassword).Wait()
	var imapErr *imap.Error
	if !errors.As(err, &imapErr) || imapErr.Code != imap.ResponseCodeUnavailable ||
		!strings.Contains(imapErr.Text, "try again in") {
		t.Errorf("IMAP LOGIN with the right password while blocked: %v", err)
	}

	req, _ := http.NewRequest("GET", "http://"+ts.httpA+"/agents/buyer/billing/balance", nil)
	req.SetBasicAuth("buyer", testPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("HTTP while blocked: %d, Retry-After %q", resp.StatusCode,
			resp.Header.Get("Retry-After"))
	}
}
