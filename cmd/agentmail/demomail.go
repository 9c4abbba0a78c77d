package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// demoAgent is one side of the demo's round trip.
type demoAgent struct {
	id, address, password string
}

// demoMessage is a message the demo submits.
type demoMessage struct {
	from    demoAgent
	to      string
	subject string
	headers [][2]string // extra header fields, in order
	body    string
}

// bytes writes the message in RFC 5322 form with CRLF line ends.
func (m demoMessage) bytes() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\n", m.from.address, m.to, m.subject)
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%d.%s>\r\n", time.Now().UnixNano(), m.from.address)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: application/json\r\n")
	for _, h := range m.headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n" + strings.ReplaceAll(m.body, "\n", "\r\n") + "\r\n")
	return []byte(b.String())
}

// sendMail submits m over SMTP: STARTTLS (RFC 3207), trusting what
// tlsConfig trusts, then AUTH PLAIN. smtp.SendMail cannot be told which
// certificate to trust, and the demo's is self-signed.
func sendMail(addr string, tlsConfig *tls.Config, m demoMessage) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	cfg := tlsConfig.Clone()
	cfg.ServerName = host
	err = c.StartTLS(cfg)
	if err == nil {
		err = c.Auth(smtp.PlainAuth("", m.from.address, m.from.password, host))
	}
	if err == nil {
		err = c.Mail(m.from.address)
	}
	if err == nil {
		err = c.Rcpt(m.to)
	}
	var w io.WriteCloser
	if err == nil {
		w, err = c.Data()
	}
	if err == nil {
		_, err = w.Write(m.bytes())
	}
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = c.Quit()
	}
	if err != nil {
		return fmt.Errorf("smtp send as %s: %w", m.from.id, err)
	}
	return nil
}

// dialIMAP logs a into the IMAP server and selects INBOX. handler, if not
// nil, receives the unilateral mailbox updates, such as EXISTS.
func dialIMAP(addr string, a demoAgent, handler *imapclient.UnilateralDataHandler) (
	*imapclient.Client, *imap.SelectData, error) {
	c, err := imapclient.DialInsecure(addr, &imapclient.Options{
		UnilateralDataHandler: handler,
		Dialer:                &net.Dialer{Timeout: 5 * time.Second},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("imap dial as %s: %w", a.id, err)
	}
	if err := c.Login(a.address, a.password).Wait(); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("imap login as %s: %w", a.id, err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("imap select INBOX as %s: %w", a.id, err)
	}
	return c, sel, nil
}

// fetchHeader fetches the named header fields of message seq without
// setting \Seen.
func fetchHeader(c *imapclient.Client, seq uint32, fields ...string) (textproto.MIMEHeader,
	error) {
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader,
		HeaderFields: fields, Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(seq), &imap.FetchOptions{
		BodySection: []*imap.FetchItemBodySection{section},
	}).Collect()
	if err != nil {
		return nil, fmt.Errorf("imap fetch %d: %w", seq, err)
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("imap fetch %d: got %d messages", seq, len(msgs))
	}
	raw := msgs[0].FindBodySection(section)
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	h, err := r.ReadMIMEHeader()
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("imap fetch %d: header: %w", seq, err)
	}
	return h, nil
}

// getJSON fetches url, with HTTP Basic auth as a unless a is nil, checks for
// 200 and decodes the reply into v. It returns the reply as sent.
func getJSON(url string, a *demoAgent, v any) (string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if a != nil {
		req.SetBasicAuth(a.address, a.password)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	text := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return text, fmt.Errorf("GET %s: %s: %s", url, resp.Status, text)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return text, fmt.Errorf("GET %s: %w", url, err)
	}
	return text, nil
}
