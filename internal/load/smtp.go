package load

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"time"
)

// dialTimeout bounds connecting and greeting; replyTimeout bounds the wait
// for any one reply, the end of a large DATA included.
const (
	dialTimeout  = 10 * time.Second
	replyTimeout = 2 * time.Minute
)

// smtpClient is a minimal submission client. It writes the message bytes as
// they are, without dot-stuffing: the load tool composes every message and
// none has a line that starts with a dot.
type smtpClient struct {
	conn net.Conn
	tp   *textproto.Conn
}

// dialSMTP connects, greets with EHLO and, unless user is empty,
// authenticates with AUTH PLAIN (RFC 4954, RFC 4616).
func dialSMTP(addr, user, password string) (*smtpClient, error) {
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		return nil, err
	}
	c := &smtpClient{conn: conn, tp: textproto.NewConn(conn)}
	if err := c.handshake(user, password); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *smtpClient) handshake(user, password string) error {
	c.conn.SetDeadline(time.Now().Add(dialTimeout))
	defer c.conn.SetDeadline(time.Time{})
	if _, _, err := c.tp.ReadResponse(220); err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	if err := c.cmd(250, "EHLO load.invalid"); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if user == "" {
		return nil
	}
	token := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	if err := c.cmd(235, "AUTH PLAIN %s", token); err != nil {
		return fmt.Errorf("AUTH as %s: %w", user, err)
	}
	return nil
}

func (c *smtpClient) cmd(expect int, format string, args ...any) error {
	c.conn.SetDeadline(time.Now().Add(replyTimeout))
	id, err := c.tp.Cmd(format, args...)
	if err != nil {
		return err
	}
	c.tp.StartResponse(id)
	defer c.tp.EndResponse(id)
	_, _, err = c.tp.ReadResponse(expect)
	return err
}

// send runs one mail transaction and returns how long the final reply took
// after the end-of-data line was handed to the kernel.
func (c *smtpClient) send(m message) (time.Duration, error) {
	if err := c.cmd(250, "MAIL FROM:<%s>", m.from); err != nil {
		return 0, c.reset(err)
	}
	if err := c.cmd(250, "RCPT TO:<%s>", m.to); err != nil {
		return 0, c.reset(err)
	}
	if err := c.cmd(354, "DATA"); err != nil {
		return 0, c.reset(err)
	}
	c.conn.SetDeadline(time.Now().Add(replyTimeout))
	w := c.tp.W
	w.Write(m.header)
	w.Write(m.body)
	w.WriteString(".\r\n")
	start := time.Now()
	if err := w.Flush(); err != nil {
		return 0, err
	}
	_, _, err := c.tp.ReadResponse(250)
	return time.Since(start), err
}

// reset abandons a transaction refused before DATA, so the session can go
// on; it returns the refusal.
func (c *smtpClient) reset(err error) error {
	var tpErr *textproto.Error
	if errors.As(err, &tpErr) {
		_ = c.cmd(250, "RSET")
	}
	return err
}

func (c *smtpClient) close() {
	_ = c.cmd(221, "QUIT")
	c.conn.Close()
}

// replyCode names an error for the report: the SMTP reply code, or "net"
// when the connection failed.
func replyCode(err error) string {
	var tpErr *textproto.Error
	if errors.As(err, &tpErr) {
		return fmt.Sprint(tpErr.Code)
	}
	return "net"
}
