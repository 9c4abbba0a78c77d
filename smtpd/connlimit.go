package smtpd

import (
	"net"
	"sync"
	"time"

	"agentmail/internal/authguard"
)

// connLimiter counts open connections per remote address (see
// authguard.AddrKey) across all of a server's listeners.
//
// TODO: there is no limit on all connections together; many addresses can
// still hold many sessions (each bounded by the read timeout).
type connLimiter struct {
	max    int // 0: unlimited
	exempt func(net.Addr) bool

	mu   sync.Mutex
	open map[string]int
}

func newConnLimiter(maxPerAddr int, exempt func(net.Addr) bool) *connLimiter {
	return &connLimiter{max: maxPerAddr, exempt: exempt, open: make(map[string]int)}
}

func (l *connLimiter) acquire(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.open[key] >= l.max {
		return false
	}
	l.open[key]++
	return true
}

func (l *connLimiter) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// limitedListener refuses connections over the per-address limit. On a
// plaintext listener the refusal is a 421 greeting (RFC 5321 section
// 3.1); on an implicit-TLS listener, where the client expects a handshake,
// the connection is just closed.
type limitedListener struct {
	net.Listener
	lim     *connLimiter
	say421  bool
	refused func(remote net.Addr)
}

// Accept implements net.Listener.
func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.lim.exempt(c.RemoteAddr()) {
			return c, nil
		}
		key := authguard.AddrKey(c.RemoteAddr())
		if l.lim.acquire(key) {
			return &countedConn{Conn: c, release: func() { l.lim.release(key) }}, nil
		}
		l.refused(c.RemoteAddr())
		if l.say421 {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte("421 4.7.0 too many connections from your address; " +
				"try again later\r\n"))
		}
		c.Close()
	}
}

// countedConn gives its slot back exactly once, however often it is closed.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close implements net.Conn.
func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
