package smtpd

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"agentmail/billing"
	"agentmail/internal/admin"
	"agentmail/internal/store"
	"agentmail/internal/testutil"
	"agentmail/internal/tlsconf"
	"agentmail/mailstore"
	"agentmail/marketplace"
)

const (
	testPassword = "correct-horse-battery"
	testDomain   = "localhost"
)

// harness is a submission server over real stores on loopback ports, with
// agents buyer, seller (per_request at 0.25 USD) and other; buyer has 10 USD.
type harness struct {
	t        testing.TB
	srv      *Server
	ms       *mailstore.Store
	ledger   *billing.Ledger
	admin    *admin.Service
	addr     string // plaintext listener, STARTTLS available
	tlsAddr  string // implicit TLS
	roots    *x509.CertPool
	logs     *testutil.Buffer
	password string
}

// newHarness starts a server; adjust may change the configuration first.
func newHarness(t testing.TB, adjust func(*Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ms, err := mailstore.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ms.SetPasswordCost(bcrypt.MinCost)
	ledger, err := billing.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	market, err := marketplace.New(ledger, ms, marketplace.Config{
		ReservationTTL: time.Hour, SaveSent: true})
	if err != nil {
		t.Fatal(err)
	}
	certs, err := tlsconf.New(tlsconf.Options{DataDir: dir, Domain: testDomain})
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(certs.SelfSignedCertFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemBytes)

	logs := &testutil.Buffer{}
	cfg := Config{
		Domain:          testDomain,
		MaxMessageBytes: 1 << 20,
		MaxRecipients:   10,
		MaxLineBytes:    1 << 16,
		MaxHeaderBytes:  1 << 16,
		MaxConnsPerAddr: 50,
		Auth:            AuthLimits{BlockAfter: 50, BlockFor: time.Minute},
		TLSConfig:       certs.Config(),
		Logger:          slog.New(slog.NewJSONHandler(logs, nil)),
		ReadTimeout:     5 * time.Second,
		WriteTimeout:    5 * time.Second,
	}
	if adjust != nil {
		adjust(&cfg)
	}
	h := &harness{t: t, srv: New(ms, market, cfg), ms: ms, ledger: ledger,
		admin: admin.NewService(ms, market, testDomain), roots: roots, logs: logs,
		password: testPassword}
	h.addr = h.listen(h.srv.Serve)
	h.tlsAddr = h.listen(h.srv.ServeTLS)
	t.Cleanup(func() { h.srv.Close() })

	for _, id := range []string{"buyer", "seller", "other"} {
		if _, err := h.admin.AddAgent(id, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	p, err := marketplace.ParsePricing([]byte(`{"pricing_model":"per_request","base_price":0.25}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.admin.SetPricing("seller", p); err != nil {
		t.Fatal(err)
	}
	amount, _ := billing.ParseAmount("10")
	if _, err := h.admin.Credit(admin.CreditRequest{Address: "buyer", Amount: amount,
		Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) listen(serve func(net.Listener) error) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	go serve(ln)
	return ln.Addr().String()
}

// state is every mailbox count and balance a refused message must leave
// alone, as one comparable string.
func (h *harness) state() string {
	h.t.Helper()
	var b strings.Builder
	for _, id := range []string{"buyer", "seller", "other"} {
		addr := id + "@" + testDomain
		inbox, err := h.ms.UIDs(addr, "INBOX")
		if err != nil {
			h.t.Fatal(err)
		}
		sent, err := h.ms.UIDs(addr, "Sent")
		if err != nil {
			h.t.Fatal(err)
		}
		bal, err := h.ledger.Balances(addr)
		if err != nil {
			h.t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s inbox=%d sent=%d", id, len(inbox), len(sent))
		for _, x := range bal {
			fmt.Fprintf(&b, " %s=%s/%s", x.Currency, x.Available, x.Reserved)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// inbox returns the raw messages in an agent's INBOX.
func (h *harness) inbox(id string) [][]byte {
	h.t.Helper()
	addr := id + "@" + testDomain
	uids, err := h.ms.UIDs(addr, "INBOX")
	if err != nil {
		h.t.Fatal(err)
	}
	var out [][]byte
	for _, uid := range uids {
		raw, err := h.ms.Raw(addr, "INBOX", uid)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

func (h *harness) verifyLedger() {
	h.t.Helper()
	breaches, err := h.ledger.Verify()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, b := range breaches {
		h.t.Errorf("ledger breach: %v", b)
	}
}

// client is a raw SMTP client: it writes exactly the bytes a test gives it.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	h    *harness
}

// dial connects to the plaintext listener and reads the greeting.
func (h *harness) dial() *client {
	h.t.Helper()
	conn, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
	if err != nil {
		h.t.Fatal(err)
	}
	c := &client{t: h.t, conn: conn, r: bufio.NewReader(conn), h: h}
	h.t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	c.expect(220)
	return c
}

// dialTLS connects to the implicit-TLS listener and reads the greeting.
func (h *harness) dialTLS() *client {
	h.t.Helper()
	conn, err := tls.Dial("tcp", h.tlsAddr, &tls.Config{RootCAs: h.roots, ServerName: testDomain})
	if err != nil {
		h.t.Fatal(err)
	}
	c := &client{t: h.t, conn: conn, r: bufio.NewReader(conn), h: h}
	h.t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	c.expect(220)
	return c
}

// write sends raw bytes as they are.
func (c *client) write(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// reply reads one reply, multi-line replies joined with "\n".
func (c *client) reply() (int, string) {
	c.t.Helper()
	var lines []string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading reply after %q: %v", lines, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 {
			c.t.Fatalf("short reply line %q", line)
		}
		lines = append(lines, line[4:])
		if line[3] == ' ' {
			code, err := strconv.Atoi(line[:3])
			if err != nil {
				c.t.Fatalf("bad reply line %q", line)
			}
			return code, strings.Join(lines, "\n")
		}
	}
}

// expect reads a reply and fails unless it has the code.
func (c *client) expect(code int) string {
	c.t.Helper()
	got, text := c.reply()
	if got != code {
		c.t.Fatalf("got %d %q, want %d", got, text, code)
	}
	return text
}

// cmd sends one command line and returns the reply.
func (c *client) cmd(line string) (int, string) {
	c.t.Helper()
	c.write(line + "\r\n")
	return c.reply()
}

// must sends a command and fails unless the reply has the code.
func (c *client) must(code int, line string) string {
	c.t.Helper()
	c.write(line + "\r\n")
	return c.expect(code)
}

// startTLS upgrades the connection.
func (c *client) startTLS() {
	c.t.Helper()
	c.must(220, "STARTTLS")
	tc := tls.Client(c.conn, &tls.Config{RootCAs: c.h.roots, ServerName: testDomain})
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
}

// login says EHLO and authenticates as id with AUTH PLAIN.
func (c *client) login(id string) {
	c.t.Helper()
	c.must(250, "EHLO client.test")
	c.must(235, "AUTH PLAIN "+plain(id, testPassword))
}

func plain(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// message is a CRLF message from one agent to another.
func message(from, to, subject, body string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s@localhost\r\nTo: %s@localhost\r\nSubject: %s\r\n", from, to, subject)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + body + "\r\n")
	return b.String()
}

// send runs one whole transaction over DATA and returns the final reply.
func (c *client) send(from, to, raw string) (int, string) {
	c.t.Helper()
	c.must(250, "MAIL FROM:<"+from+"@localhost>")
	c.must(250, "RCPT TO:<"+to+"@localhost>")
	c.must(354, "DATA")
	c.write(raw + ".\r\n")
	return c.reply()
}

func newReader(conn net.Conn) *bufio.Reader { return bufio.NewReader(conn) }
