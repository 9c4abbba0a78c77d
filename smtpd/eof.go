package smtpd

import (
	"crypto/tls"
	"net"
	"sync/atomic"
)

// eofListener marks each connection so that a session can tell whether its
// client hung up. go-smtp copies a BDAT chunk with io.Copy from a
// LimitReader, which ends without an error when the connection ends early:
// a chunk cut short by a disconnect would otherwise reach Data whole-looking
// and be delivered and billed (RFC 3030 section 2: the chunk is exactly the
// declared size).
type eofListener struct{ net.Listener }

// Accept implements net.Listener.
func (l eofListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &eofConn{Conn: c}, nil
}

// eofConn records that a read found the end of the connection, or failed.
type eofConn struct {
	net.Conn
	ended atomic.Bool
}

// Read implements net.Conn.
func (c *eofConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.ended.Store(true)
	}
	return n, err
}

// TODO: under TLS the eofConn sits below the tls.Conn (go-smtp must see the
// tls.Conn itself to know the session is encrypted), so a client that ends
// the TLS stream with close_notify in the middle of a BDAT chunk is not
// noticed: the TLS layer stops reading before the TCP end. A connection that
// drops, or a plaintext one, is covered.
//
// clientGone reports whether the client of c, a connection this package
// accepted (under TLS or not), has closed it or it has failed.
func clientGone(c net.Conn) bool {
	for {
		switch x := c.(type) {
		case *eofConn:
			return x.ended.Load()
		case *tls.Conn:
			c = x.NetConn()
		default:
			return false
		}
	}
}
