package imapd

import (
	"net"
	"sync"
)

// chanListener is a net.Listener fed by Serve: it lets one accept loop hand
// connections to either library server.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// deliver hands c to Accept; false means the listener is closed.
func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

// Accept implements net.Listener. Connections reach the library with
// their writes gathered (see flushConn).
func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return withFlushConn(c), nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr implements net.Listener; the address is not meaningful.
func (l *chanListener) Addr() net.Addr { return chanAddr{} }

type chanAddr struct{}

func (chanAddr) Network() string { return "chan" }
func (chanAddr) String() string  { return "imapd" }
