package imapd

import (
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// emfileListener fails its first Accept as a process out of file
// descriptors does.
type emfileListener struct {
	net.Listener
	failed atomic.Bool
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if !l.failed.Swap(true) {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(),
			Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// One EMFILE must not stop the listener: the next client still gets its
// greeting.
func TestAcceptErrorKeepsServing(t *testing.T) {
	e := newEnv(t, t.TempDir(), "kelly")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(&emfileListener{Listener: ln}) }()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	if n, err := c.Read(buf); err != nil || string(buf[:4]) != "* OK" {
		select {
		case err := <-done:
			t.Fatalf("Serve returned after one EMFILE: %v", err)
		default:
		}
		t.Fatalf("no greeting after a passing EMFILE: %q, %v", buf[:n], err)
	}
}
