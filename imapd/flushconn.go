package imapd

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// The library flushes its buffer after every response line, one system
// call per line: FETCH 1:* FLAGS of 100,000 messages made 100,000 writes
// and spent most of its time in them. flushConn gathers those writes and
// sends them when its buffer fills, before the connection waits for the
// client, or flushDelay after the first unsent byte, whichever is first.
// A client reading responses therefore waits at most flushDelay longer,
// and only for responses written while the server was not reading. After
// each read the buffer is sent once it holds flushFirstMax bytes, then
// twice as many each time up to flushBufMax, so a client starts parsing a
// long response at once and is kept busy while the rest is produced.
const (
	flushDelay       = time.Millisecond
	flushFirstMax    = 4 << 10
	flushBufMax      = 64 << 10
	flushWriteTimout = 30 * time.Second // when the library set no deadline
)

// flushConn is a net.Conn whose writes are gathered as described above.
// It sits between the library and a plain TCP connection; TLS, when
// started, runs on top of it.
type flushConn struct {
	net.Conn

	mu       sync.Mutex
	buf      []byte
	timer    *time.Timer
	armed    bool      // timer set for the bytes in buf
	deadline time.Time // write deadline the library asked for
	err      error     // first write error; later writes return it
	closed   bool
	limit    int // buffered bytes that are sent at once; grows after each Read
}

// withFlushConn wraps c, unless it is already TLS: the library must see
// a *tls.Conn to know the connection is secure.
func withFlushConn(c net.Conn) net.Conn {
	if _, ok := c.(*tls.Conn); ok {
		return c
	}
	return newFlushConn(c)
}

func newFlushConn(c net.Conn) *flushConn {
	fc := &flushConn{Conn: c, limit: flushFirstMax}
	fc.timer = time.AfterFunc(time.Hour, fc.flushAsync)
	fc.timer.Stop()
	return fc
}

// Write implements net.Conn.
func (c *flushConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if len(c.buf)+len(p) > flushBufMax {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > flushBufMax {
			return c.writeLocked(p)
		}
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) >= c.limit {
		c.limit = min(2*c.limit, flushBufMax)
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if !c.armed {
		c.armed = true
		c.timer.Reset(flushDelay)
	}
	return len(p), nil
}

// Read implements net.Conn: what was written goes out before waiting for
// the client, who may be waiting for it.
func (c *flushConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	err := c.flushLocked()
	c.limit = flushFirstMax
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// SetWriteDeadline implements net.Conn; the deadline applies to the
// writes that send the buffer.
func (c *flushConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}

// SetDeadline implements net.Conn.
func (c *flushConn) SetDeadline(t time.Time) error {
	if err := c.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetReadDeadline(t)
}

// Close sends what is buffered, unless a send is already stuck, and
// closes the connection.
func (c *flushConn) Close() error {
	if c.mu.TryLock() {
		_ = c.flushLocked()
		c.closed = true
		c.timer.Stop()
		c.mu.Unlock()
	}
	return c.Conn.Close()
}

func (c *flushConn) flushAsync() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		_ = c.flushLocked()
		c.buf = nil // an idle session keeps no buffer
	}
}

func (c *flushConn) flushLocked() error {
	if c.armed {
		c.timer.Stop()
		c.armed = false
	}
	if len(c.buf) == 0 || c.err != nil {
		return c.err
	}
	_, err := c.writeLocked(c.buf)
	c.buf = c.buf[:0]
	return err
}

func (c *flushConn) writeLocked(p []byte) (int, error) {
	deadline := c.deadline
	if deadline.IsZero() {
		deadline = time.Now().Add(flushWriteTimout)
	}
	if err := c.Conn.SetWriteDeadline(deadline); err != nil {
		c.err = err
		return 0, err
	}
	n, err := c.Conn.Write(p)
	if err != nil {
		c.err = err
	}
	return n, err
}
