package imapd

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// rawClient speaks IMAP as lines over a socket, so that a test sees every
// untagged response exactly as sent and in order. It does not parse
// literals: the tests that use it fetch none.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	tag  int
}

func (e *testEnv) rawDial(user string) *rawClient {
	e.t.Helper()
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	c := &rawClient{t: e.t, conn: conn, r: bufio.NewReader(conn)}
	if greeting := c.line(); !strings.HasPrefix(greeting, "* OK") {
		e.t.Fatalf("greeting %q", greeting)
	}
	if user != "" {
		c.ok("LOGIN " + user + ` "` + testPassword + `"`)
	}
	return c
}

// line reads one response line without its CRLF.
func (c *rawClient) line() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (after %q)", err, s)
	}
	return strings.TrimRight(s, "\r\n")
}

// cmd sends a command and returns its untagged responses and the tagged
// status line.
func (c *rawClient) cmd(command string) (untagged []string, status string) {
	c.t.Helper()
	c.tag++
	tag := fmt.Sprintf("t%d", c.tag)
	c.send(tag + " " + command)
	for {
		l := c.line()
		if rest, ok := strings.CutPrefix(l, tag+" "); ok {
			return untagged, rest
		}
		untagged = append(untagged, l)
	}
}

// ok runs a command that must succeed and returns its untagged responses.
func (c *rawClient) ok(command string) []string {
	c.t.Helper()
	untagged, status := c.cmd(command)
	if !strings.HasPrefix(status, "OK") {
		c.t.Fatalf("%s: %s", command, status)
	}
	return untagged
}

func (c *rawClient) send(line string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
		c.t.Fatal(err)
	}
}

// idle starts IDLE (RFC 2177) and waits for the continuation.
func (c *rawClient) idle() {
	c.t.Helper()
	c.tag++
	c.send(fmt.Sprintf("t%d IDLE", c.tag))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		c.t.Fatalf("IDLE: %q", l)
	}
}

// idleRead collects n untagged responses sent during IDLE.
func (c *rawClient) idleRead(n int) []string {
	c.t.Helper()
	var out []string
	for len(out) < n {
		out = append(out, c.line())
	}
	return out
}

// done ends IDLE and returns what arrived after the responses already
// read.
func (c *rawClient) done() []string {
	c.t.Helper()
	c.send("DONE")
	tag := fmt.Sprintf("t%d ", c.tag)
	var out []string
	for {
		l := c.line()
		if strings.HasPrefix(l, tag) {
			if !strings.HasPrefix(l, tag+"OK") {
				c.t.Fatalf("IDLE ended with %q", l)
			}
			return out
		}
		out = append(out, l)
	}
}
