package crashtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Password is every test agent's password.
const Password = "crash-test-password"

// Domain is the server's default domain.
const Domain = "localhost"

// ioTimeout bounds one client conversation.
const ioTimeout = 15 * time.Second

// Outcome is what a client knows of one submission.
type Outcome int

// Outcomes, from what the client saw.
const (
	Pending    Outcome = iota // not sent yet
	Unsent                    // failed before the message data was sent: cannot be stored
	Accepted                  // 250 after DATA: must be stored exactly once
	Refused                   // 5xx: must be stored nowhere
	TempFailed                // 4xx: must be stored nowhere
	Unknown                   // the connection died after the data: stored once or not at all
)

func (o Outcome) String() string {
	return [...]string{"pending", "unsent", "accepted", "refused", "temp-failed", "unknown"}[o]
}

// Send submits raw from agent to the agents rcpts and says what came of it,
// with the SMTP reply or network error that decided it.
func Send(addr, agent string, rcpts []string, raw string) (Outcome, error) {
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return Unsent, err
	}
	_ = conn.SetDeadline(time.Now().Add(ioTimeout))
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		conn.Close()
		return early(err), err
	}
	defer c.Close()
	if err := c.Auth(smtp.PlainAuth("", agent, Password, "127.0.0.1")); err != nil {
		return early(err), err
	}
	if err := c.Mail(agent + "@" + Domain); err != nil {
		return early(err), err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r + "@" + Domain); err != nil {
			return early(err), err
		}
	}
	w, err := c.Data()
	if err != nil {
		return early(err), err
	}
	if _, err := w.Write([]byte(raw)); err != nil {
		return Unknown, err
	}
	if err := w.Close(); err != nil {
		return late(err), err
	}
	_ = c.Quit()
	return Accepted, nil
}

// early classifies a failure before any message data was sent.
func early(err error) Outcome {
	if o := replyOutcome(err); o != Unknown {
		return o
	}
	return Unsent
}

// late classifies a failure after the message data was sent.
func late(err error) Outcome { return replyOutcome(err) }

func replyOutcome(err error) Outcome {
	var tp *textproto.Error
	switch {
	case !errors.As(err, &tp):
		return Unknown
	case tp.Code >= 500:
		return Refused
	case tp.Code >= 400:
		return TempFailed
	}
	return Unknown
}

// Message is one message in a mailbox as the checks see it.
type Message struct {
	UID         imap.UID
	Token       string // the local part of the Message-Id: <token@crash.test>
	Reservation string // request_id of an X-AgentMail-Reservation stamp
	Settlement  string // request_id of an X-AgentMail-Settlement stamp
}

var stampFields = []string{"Message-Id", "X-AgentMail-Reservation", "X-AgentMail-Settlement"}

// IMAPLogin opens an IMAP session as agent.
func IMAPLogin(addr, agent string) (*imapclient.Client, error) {
	return IMAPLoginWith(addr, agent, Password)
}

// IMAPLoginWith opens an IMAP session as agent with the given password.
func IMAPLoginWith(addr, agent, password string) (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return nil, err
	}
	if err := c.Login(agent, password).Wait(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// ReadMailbox selects a mailbox (read-only unless writable) and returns its
// messages with UID above after. A mailbox that does not exist reads as
// empty.
func ReadMailbox(c *imapclient.Client, mailbox string, after imap.UID,
	writable bool) ([]Message, error) {
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: !writable}).Wait()
	if err != nil {
		var imapErr *imap.Error
		if errors.As(err, &imapErr) && imapErr.Code == imap.ResponseCodeNonExistent {
			return nil, nil
		}
		return nil, fmt.Errorf("select %s: %w", mailbox, err)
	}
	if sel.NumMessages == 0 {
		return nil, nil
	}
	var uids imap.UIDSet
	uids.AddRange(after+1, 0)
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader,
		HeaderFields: stampFields, Peek: true}
	msgs, err := c.Fetch(uids, &imap.FetchOptions{UID: true,
		BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", mailbox, err)
	}
	out := make([]Message, 0, len(msgs))
	for _, m := range msgs {
		if m.UID <= after {
			continue // n:* always includes the last message
		}
		out = append(out, parseHeader(m.UID, m.FindBodySection(section)))
	}
	return out, nil
}

func parseHeader(uid imap.UID, hdr []byte) Message {
	m := Message{UID: uid}
	for _, line := range strings.Split(string(hdr), "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "message-id":
			m.Token, _, _ = strings.Cut(strings.TrimPrefix(value, "<"), "@")
		case "x-agentmail-reservation":
			m.Reservation = stampField(value, "request_id")
		case "x-agentmail-settlement":
			m.Settlement = stampField(value, "request_id")
		}
	}
	return m
}

// stampField returns one key's value from a "k=v; k=v" stamp.
func stampField(stamp, key string) string {
	for _, kv := range strings.Split(stamp, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if k == key {
			return v
		}
	}
	return ""
}

// UsageRow is one marketplace request as the HTTP usage endpoint shows it.
type UsageRow struct {
	RequestID    string `json:"marketplace_request_id"`
	Role         string `json:"role"`
	Counterparty string `json:"counterparty"`
	Status       string `json:"status"`
}

// Usage returns every request an agent took part in, from the HTTP
// side-server, following next_cursor to the end.
func Usage(httpAddr, agent string) ([]UsageRow, error) {
	var rows []UsageRow
	cursor := ""
	hc := &http.Client{Timeout: ioTimeout}
	for {
		u := fmt.Sprintf("http://%s/agents/%s/billing/usage?limit=500&cursor=%s",
			httpAddr, agent, url.QueryEscape(cursor))
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.SetBasicAuth(agent, Password)
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		var page struct {
			Items      []UsageRow `json:"items"`
			NextCursor string     `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("usage of %s: %s, %v", agent, resp.Status, err)
		}
		rows = append(rows, page.Items...)
		if page.NextCursor == "" {
			return rows, nil
		}
		cursor = page.NextCursor
	}
}
