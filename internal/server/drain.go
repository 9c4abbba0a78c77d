package server

import (
	"bytes"
	"context"
	"net"
	"sync"
	"time"
)

// drainTick is how often drain ends the sessions that wait for a command.
const drainTick = 20 * time.Millisecond

// drainListener wraps the SMTP listener so that shutting down ends sessions
// politely (RFC 5321 section 3.8): a message whose data is arriving or being
// committed gets its reply, every other session gets 421 and is closed.
//
// It works from outside go-smtp by reading the replies the server writes: a
// 354 reply starts message data; the next reply ends it. A session waiting
// for a command has its read deadline expired, which go-smtp answers with
// "421 4.4.2" and a close.
//
// TODO: move this into smtpd, where the session knows it is inside DATA.
// Replies on a TLS connection cannot be read here, so TLS sessions are not
// ended early: they finish or are cut when the drain's context ends.
type drainListener struct {
	net.Listener

	mu       sync.Mutex
	conns    map[*drainConn]struct{}
	draining bool
}

func newDrainListener(ln net.Listener) *drainListener {
	return &drainListener{Listener: ln, conns: make(map[*drainConn]struct{})}
}

// Accept implements net.Listener.
func (l *drainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	dc := &drainConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[dc] = struct{}{}
	l.mu.Unlock()
	return dc, nil
}

// drain stops accepting and ends every session as described on
// drainListener. It returns when no session is left or ctx ends.
func (l *drainListener) drain(ctx context.Context) {
	_ = l.Listener.Close()
	l.mu.Lock()
	l.draining = true
	l.mu.Unlock()
	tick := time.NewTicker(drainTick)
	defer tick.Stop()
	for {
		l.mu.Lock()
		left := len(l.conns)
		for c := range l.conns {
			c.endIfIdle()
		}
		l.mu.Unlock()
		if left == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (l *drainListener) isDraining() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.draining
}

// drainConn is one SMTP connection as the drain sees it.
type drainConn struct {
	net.Conn
	l *drainListener

	mu      sync.Mutex
	replies int  // replies written so far
	inData  bool // the last reply was 354: message data is arriving
	opaque  bool // TLS: the replies cannot be read
}

// Write implements net.Conn and notes where the session is.
func (c *drainConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.observe(b)
	inData := c.inData
	c.mu.Unlock()
	if inData && c.l.isDraining() {
		// Let the message arrive whole; the drain's context bounds it.
		_ = c.Conn.SetReadDeadline(time.Time{})
	}
	return c.Conn.Write(b)
}

func (c *drainConn) observe(b []byte) {
	if c.opaque {
		return
	}
	c.replies++
	line := lastLine(b)
	switch {
	case c.replies == 1 && !bytes.HasPrefix(line, []byte("220 ")):
		c.opaque = true // implicit TLS: the first write is a handshake record
	case c.replies > 1 && bytes.HasPrefix(line, []byte("220 ")):
		c.opaque = true // STARTTLS accepted: what follows is encrypted
	default:
		c.inData = bytes.HasPrefix(line, []byte("354"))
	}
}

// endIfIdle makes go-smtp answer 421 and close a session that is not
// inside a message. Called with the listener's lock held.
func (c *drainConn) endIfIdle() {
	c.mu.Lock()
	busy := c.inData || c.opaque
	c.mu.Unlock()
	if !busy {
		_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
	}
}

// Close implements net.Conn.
func (c *drainConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// lastLine returns the last CRLF-terminated line of b, without the CRLF.
func lastLine(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\r\n"))
	if i := bytes.LastIndex(b, []byte("\r\n")); i >= 0 {
		return b[i+2:]
	}
	return b
}
