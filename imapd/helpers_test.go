package imapd

import (
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"golang.org/x/crypto/bcrypt"

	"agentmail/internal/store"
	"agentmail/mailstore"
)

const (
	testDomain   = "example.com"
	testPassword = "correct horse battery"
)

// testEnv is a server on a real listener over a real database.
type testEnv struct {
	t    testing.TB
	dir  string
	db   *store.DB
	ms   *mailstore.Store
	srv  *Server
	addr string
	done chan error
}

func newEnv(t testing.TB, dir string, agents ...string) *testEnv {
	t.Helper()
	return newEnvConfig(t, dir, Config{}, agents...)
}

// newEnvConfig is newEnv with a server configuration; Domain and Logger
// are filled in.
func newEnvConfig(t testing.TB, dir string, cfg Config, agents ...string) *testEnv {
	t.Helper()
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mailstore.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ms.SetPasswordCost(bcrypt.MinCost)
	for _, a := range agents {
		if err := ms.AddAgent(a+"@"+testDomain, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.Domain, cfg.Logger = testDomain, log
	srv := New(ms, cfg)
	ms.SetObserver(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, dir: dir, db: db, ms: ms, srv: srv, addr: ln.Addr().String(),
		done: make(chan error, 1)}
	go func() { e.done <- srv.Serve(ln) }()
	t.Cleanup(e.stop)
	return e
}

// stop closes the server and the database; it may be called twice.
func (e *testEnv) stop() {
	if e.srv == nil {
		return
	}
	_ = e.srv.Close()
	if err := <-e.done; err != nil {
		e.t.Errorf("Serve: %v", err)
	}
	_ = e.db.Close()
	e.srv = nil
}

// events collects what a client hears without asking.
type events struct {
	mu       sync.Mutex
	exists   []uint32
	expunges []uint32
	flags    map[uint32][]imap.Flag // by sequence number
	notify   chan struct{}
}

func (ev *events) handler() *imapclient.UnilateralDataHandler {
	return &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) {
			ev.mu.Lock()
			ev.expunges = append(ev.expunges, seq)
			ev.mu.Unlock()
			ev.poke()
		},
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				ev.mu.Lock()
				ev.exists = append(ev.exists, *d.NumMessages)
				ev.mu.Unlock()
				ev.poke()
			}
		},
		Fetch: func(msg *imapclient.FetchMessageData) {
			buf, err := msg.Collect()
			if err != nil {
				return
			}
			ev.mu.Lock()
			ev.flags[buf.SeqNum] = buf.Flags
			ev.mu.Unlock()
			ev.poke()
		},
	}
}

func (ev *events) poke() {
	select {
	case ev.notify <- struct{}{}:
	default:
	}
}

// dial logs in as user and returns the client with its event log.
func (e *testEnv) dial(user string) (*imapclient.Client, *events) {
	e.t.Helper()
	ev := &events{flags: make(map[uint32][]imap.Flag), notify: make(chan struct{}, 1)}
	c, err := imapclient.DialInsecure(e.addr, &imapclient.Options{
		UnilateralDataHandler: ev.handler(),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	if err := c.Login(user, testPassword).Wait(); err != nil {
		e.t.Fatalf("login %s: %v", user, err)
	}
	return c, ev
}

func (e *testEnv) deliver(agent, mailbox, raw string) uint32 {
	e.t.Helper()
	_, uid, err := e.ms.Append(mailstore.Delivery{Agent: agent + "@" + testDomain,
		Mailbox: mailbox, Raw: []byte(raw)})
	if err != nil {
		e.t.Fatal(err)
	}
	return uid
}

func fetchAll(t *testing.T, c *imapclient.Client, set imap.NumSet,
	opts *imap.FetchOptions) []*imapclient.FetchMessageBuffer {
	t.Helper()
	msgs, err := c.Fetch(set, opts).Collect()
	if err != nil {
		t.Fatalf("fetch %v: %v", set, err)
	}
	return msgs
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func msg(subject, body string) string {
	return "From: a@example.org\r\nTo: seller@example.com\r\nSubject: " + subject +
		"\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\n\r\n" + body + "\r\n"
}
