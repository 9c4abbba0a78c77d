// Package imapd is the IMAP edge of agentmail: it lets agents read, file and
// flag their mail with any IMAP4rev1 or IMAP4rev2 client.
//
// It owns the protocol (through go-imap's imapserver) and each mailbox's
// live state while a session has it selected, and for a while after (the
// latest few mailboxes left by every session): the sorted UIDs that turn
// sequence numbers into messages, and the tracker that tells every session
// what the others changed. Messages, flags and folders live in mailstore;
// this package changes them only through mailstore's functions and learns
// of committed changes as its Observer. It knows nothing of money.
package imapd

import (
	"container/list"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	_ "github.com/emersion/go-message/charset" // legacy charsets in FETCH and SEARCH

	"agentmail/internal/authguard"
	"agentmail/mailstore"
)

// appendSizeMax bounds one APPEND (RFC 7889 APPENDLIMIT).
const appendSizeMax = 50 << 20

// byeTimeout bounds how long Close waits for BYE to reach each client.
const byeTimeout = 2 * time.Second

// Config configures a Server.
type Config struct {
	// Domain is the primary domain: LOGIN "seller" means seller@Domain;
	// full addresses are accepted too.
	Domain string
	// TLSConfig enables STARTTLS when not nil.
	TLSConfig *tls.Config
	// InsecureAuth reports whether a connection may log in without TLS.
	// nil allows it only from loopback addresses.
	InsecureAuth func(net.Conn) bool
	// Logger receives one line per session and errors; nil discards.
	Logger *slog.Logger
	// Guard slows and blocks repeated failed logins, shared with the other
	// protocols; nil leaves logins unlimited.
	Guard *authguard.Guard
}

// Server serves IMAP for the agents of a mailstore. It implements
// mailstore.Observer and mailstore.OriginObserver.
type Server struct {
	ms  *mailstore.Store
	cfg Config
	log *slog.Logger

	// Two library servers differ only in whether they allow LOGIN without
	// TLS; Serve hands each connection to one of them, so that CAPABILITY
	// advertises LOGINDISABLED exactly where login is refused (RFC 9051
	// section 6.2.3).
	plain, strict *imapserver.Server
	plainLn       *chanListener
	strictLn      *chanListener
	served        sync.WaitGroup

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	closed    bool

	liveMu sync.Mutex
	live   map[mailboxKey]*liveMailbox
	idle   list.List // of *liveMailbox no session has selected, latest first
}

var (
	_ mailstore.OriginObserver    = (*Server)(nil)
	_ imapserver.SessionIMAP4rev2 = (*session)(nil)
)

// New returns a server for ms. Call ms.SetObserver(srv) before serving.
func New(ms *mailstore.Store, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.InsecureAuth == nil {
		cfg.InsecureAuth = isLoopback
	}
	s := &Server{
		ms:        ms,
		cfg:       cfg,
		log:       cfg.Logger.With("module", "imapd"),
		listeners: make(map[net.Listener]struct{}),
		sessions:  make(map[*session]struct{}),
		live:      make(map[mailboxKey]*liveMailbox),
		plainLn:   newChanListener(),
		strictLn:  newChanListener(),
	}
	s.plain = imapserver.New(s.options(true))
	s.strict = imapserver.New(s.options(false))
	s.served.Add(2)
	go s.runLibrary(s.plain, s.plainLn)
	go s.runLibrary(s.strict, s.strictLn)
	return s
}

func (s *Server) options(insecureAuth bool) *imapserver.Options {
	return &imapserver.Options{
		NewSession: s.newSession,
		Caps: imap.CapSet{
			imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {},
			imap.CapIdle: {}, imap.CapUIDPlus: {}, imap.CapMove: {},
			imap.CapNamespace: {}, imap.CapUnselect: {}, imap.CapESearch: {},
			imap.CapSearchRes: {}, imap.CapListExtended: {}, imap.CapListStatus: {},
			imap.CapStatusSize: {}, imap.CapBinary: {}, imap.CapChildren: {},
			imap.CapSpecialUse: {}, imap.CapCreateSpecialUse: {}, imap.CapLiteralPlus: {},
			imap.CapUnauthenticate: {},
		},
		Logger:       slogPrintf{s.log},
		TLSConfig:    s.cfg.TLSConfig,
		InsecureAuth: insecureAuth,
	}
}

func (s *Server) runLibrary(srv *imapserver.Server, ln *chanListener) {
	defer s.served.Done()
	if err := srv.Serve(ln); err != nil {
		s.log.Error("imap server stopped", "err", err)
	}
}

// Serve accepts connections on ln until Close. It returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("imapd: server closed")
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Anything but a closed listener is taken as passing: running out
			// of file descriptors (EMFILE) or an aborted handshake must not
			// stop IMAP for good while SMTP and HTTP carry on.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("imap accept failed; retrying", "err", err, "in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		target := s.strictLn
		if s.cfg.InsecureAuth(conn) {
			target = s.plainLn
		}
		if !target.deliver(conn) {
			conn.Close()
			return nil
		}
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting, says BYE to every session (RFC 9051 section
// 7.1.5) and closes the connections.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("imapd: server already closed")
	}
	s.closed = true
	var err error
	for ln := range s.listeners {
		if cerr := ln.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	sessions := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()

	s.sayBye(sessions)
	// The library servers are closed only once their Serve has returned:
	// their Close waits on a WaitGroup that Serve adds to.
	s.plainLn.Close()
	s.strictLn.Close()
	s.served.Wait()
	s.plain.Close()
	s.strict.Close()
	return err
}

// sayBye sends BYE to each session in parallel; a client that does not read
// holds Close up for byeTimeout at most.
func (s *Server) sayBye(sessions []*session) {
	var wg sync.WaitGroup
	for _, sess := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = sess.conn.NetConn().SetWriteDeadline(time.Now().Add(byeTimeout))
			_ = sess.conn.Bye("Server shutting down")
		}()
	}
	wg.Wait()
}

func (s *Server) newSession(conn *imapserver.Conn) (imapserver.Session,
	*imapserver.GreetingData, error) {
	remote := conn.NetConn().RemoteAddr()
	sess := &session{srv: s, conn: conn, remote: remote.String(),
		addrKey: authguard.AddrKey(remote)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Server shutting down"}
	}
	s.sessions[sess] = struct{}{}
	return sess, nil, nil
}

func (s *Server) forgetSession(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
}

// isLoopback is the default InsecureAuth: plaintext LOGIN only from the
// machine itself.
func isLoopback(c net.Conn) bool {
	if _, ok := c.(*tls.Conn); ok {
		return true
	}
	addr, ok := c.RemoteAddr().(*net.TCPAddr)
	return ok && addr.IP.IsLoopback()
}

// slogPrintf adapts slog to the library's Printf logger.
type slogPrintf struct{ log *slog.Logger }

func (l slogPrintf) Printf(format string, args ...any) {
	l.log.Warn(fmt.Sprintf(format, args...))
}
