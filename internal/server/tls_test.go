package server

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
	"golang.org/x/crypto/bcrypt"

	"agentmail/internal/config"
	"agentmail/internal/testutil"
	"agentmail/internal/tlsconf"
)

// tlsServer is a test server with both implicit-TLS listeners on, plaintext
// AUTH refused even on loopback (so every client below must use TLS), and
// its self-signed certificate's file as the clients' only trust anchor.
type tlsServer struct {
	*testServer
	smtpsA, imapsA string
	caFile         string
	roots          *x509.CertPool
	log            *testutil.Buffer
}

func startTLSServer(t *testing.T, adjust func(*config.Config)) *tlsServer {
	t.Helper()
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.SMTP.ListenTLS, cfg.IMAP.ListenTLS = "127.0.0.1:0", "127.0.0.1:0"
	cfg.TLS.AllowPlaintextAuthOnLoopback = false
	if adjust != nil {
		adjust(&cfg)
	}
	logs := &testutil.Buffer{}
	clk := newClock()
	srv, err := Start(cfg, slog.New(slog.NewTextHandler(logs, nil)), Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.Stores.Mail.SetPasswordCost(bcrypt.MinCost)
	ts := &tlsServer{testServer: &testServer{Server: srv, t: t, dir: dir, clock: clk,
		admin: srv.Stores.Admin(cfg.Domain)}, log: logs}
	ts.smtpA, ts.imapA, ts.httpA = srv.Addrs()
	ts.smtpsA, ts.imapsA = srv.TLSAddrs()
	ts.caFile = srv.SelfSignedCertFile()
	if cfg.TLS.CertFile != "" {
		ts.caFile = cfg.TLS.CertFile
	}
	pemBytes, err := os.ReadFile(ts.caFile)
	if err != nil {
		t.Fatal(err)
	}
	ts.roots = x509.NewCertPool()
	ts.roots.AppendCertsFromPEM(pemBytes)
	for _, id := range []string{"buyer", "seller"} {
		ts.addAgent(id)
	}
	ts.credit("buyer", "10")
	ts.price("seller", perRequestPricing)
	return ts
}

// inboxCount reads the store directly: IMAP without TLS is refused here.
func (ts *tlsServer) inboxCount(id string) int {
	ts.t.Helper()
	uids, err := ts.Stores.Mail.UIDs(id+"@localhost", "INBOX")
	if err != nil {
		ts.t.Fatal(err)
	}
	return len(uids)
}

func (ts *tlsServer) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: ts.roots, ServerName: "localhost"}
}

// The generated certificate's fingerprint is logged at start-up and
// matches the file clients are told to trust.
func TestSelfSignedFingerprintLogged(t *testing.T) {
	ts := startTLSServer(t, nil)
	pemBytes, _ := os.ReadFile(ts.caFile)
	cert, err := tls.X509KeyPair(pemBytes, mustRead(t, filepath.Join(ts.dir, "tls",
		"selfsigned-key.pem")))
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	if want := "sha256=" + tlsconf.Fingerprint(leaf); !strings.Contains(ts.log.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, ts.log.String())
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Go's own clients: SMTP STARTTLS and implicit TLS, IMAP STARTTLS and
// implicit TLS; no AUTH or LOGIN before TLS when plaintext is off.
func TestTLSListenersWithGoClients(t *testing.T) {
	ts := startTLSServer(t, nil)

	c, err := smtp.Dial(ts.smtpA)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH advertised before STARTTLS")
	}
	if err := c.StartTLS(ts.clientTLS()); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtp.PlainAuth("", "buyer", testPassword, "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	raw := message("buyer", "seller", "starttls", "b")
	if err := writeMessage(c, "buyer", "seller", raw); err != nil {
		t.Fatal(err)
	}
	c.Close()

	conn, err := tls.Dial("tcp", ts.smtpsA, ts.clientTLS())
	if err != nil {
		t.Fatal(err)
	}
	c, err = smtp.NewClient(conn, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtp.PlainAuth("", "buyer", testPassword, "localhost")); err != nil {
		t.Fatal(err)
	}
	raw = message("buyer", "seller", "implicit", "b")
	if err := writeMessage(c, "buyer", "seller", raw); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if n := ts.inboxCount("seller"); n != 2 {
		t.Errorf("seller has %d messages, want 2", n)
	}

	plain, err := imapclient.DialInsecure(ts.imapA, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Login("seller", testPassword).Wait(); err == nil {
		t.Error("IMAP LOGIN without TLS succeeded with plaintext auth off")
	}
	plain.Close()
	for name, dial := range map[string]func() (*imapclient.Client, error){
		"STARTTLS": func() (*imapclient.Client, error) {
			return imapclient.DialStartTLS(ts.imapA, &imapclient.Options{TLSConfig: ts.clientTLS()})
		},
		"implicit": func() (*imapclient.Client, error) {
			return imapclient.DialTLS(ts.imapsA, &imapclient.Options{TLSConfig: ts.clientTLS()})
		},
	} {
		ic, err := dial()
		if err != nil {
			t.Fatalf("IMAP %s: %v", name, err)
		}
		if err := ic.Login("seller", testPassword).Wait(); err != nil {
			t.Errorf("IMAP %s LOGIN: %v", name, err)
		}
		ic.Close()
	}
}

func writeMessage(c *smtp.Client, from, to, raw string) error {
	if err := c.Mail(from + "@localhost"); err != nil {
		return err
	}
	if err := c.Rcpt(to + "@localhost"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// A configured certificate is read again on Reload (SIGHUP): new
// handshakes get the new one, a broken file keeps the old.
func TestCertificateReload(t *testing.T) {
	certDir := t.TempDir()
	certFile, keyFile := filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem")
	writeCert(t, "localhost", certFile, keyFile)
	ts := startTLSServer(t, func(c *config.Config) {
		c.TLS.CertFile, c.TLS.KeyFile = certFile, keyFile
	})
	first := servedFingerprint(t, ts.smtpsA)

	writeCert(t, "localhost", certFile, keyFile)
	if err := ts.Reload(); err != nil {
		t.Fatal(err)
	}
	second := servedFingerprint(t, ts.smtpsA)
	if second == first {
		t.Fatal("reload kept the old certificate")
	}
	if err := os.WriteFile(certFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ts.Reload(); err == nil {
		t.Error("reload of a broken file succeeded")
	}
	if got := servedFingerprint(t, ts.smtpsA); got != second {
		t.Error("a failed reload changed the certificate")
	}
	if _, err := os.Stat(filepath.Join(ts.dir, "tls")); err == nil {
		t.Error("a self-signed certificate was generated although one is configured")
	}
}

// writeCert makes a fresh self-signed pair with tlsconf in a scratch
// directory and copies it to certFile and keyFile.
func writeCert(t *testing.T, domain, certFile, keyFile string) {
	t.Helper()
	scratch := t.TempDir()
	m, err := tlsconf.New(tlsconf.Options{DataDir: scratch, Domain: domain})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, mustRead(t, m.SelfSignedCertFile()), 0o600); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(scratch, "tls", "selfsigned-key.pem")
	if err := os.WriteFile(keyFile, mustRead(t, key), 0o600); err != nil {
		t.Fatal(err)
	}
}

func servedFingerprint(t *testing.T, addr string) string {
	t.Helper()
	// The test inspects the certificate served; it trusts nothing.
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return tlsconf.Fingerprint(conn.ConnectionState().PeerCertificates[0])
}

// Real clients, as agents' operators use them: swaks (STARTTLS and implicit
// TLS, AUTH PLAIN and LOGIN, pipelining), Python's smtplib (starttls() and
// SMTP_SSL) and curl over smtps://, each verifying the server's
// certificate against the generated one.
func TestInteropRealClients(t *testing.T) {
	ts := startTLSServer(t, nil)
	smtpPort := portOf(ts.smtpA)
	smtpsPort := portOf(ts.smtpsA)
	swaks := func(extra ...string) []string {
		args := []string{"swaks", "--server", "127.0.0.1", "--from", "buyer@localhost",
			"--to", "seller@localhost", "--auth-user", "buyer", "--auth-password", testPassword,
			"--tls-verify", "--tls-ca-path", ts.caFile, "--helo", "client.test"}
		return append(args, extra...)
	}
	msgFile := filepath.Join(t.TempDir(), "msg.eml")
	if err := os.WriteFile(msgFile, []byte(message("buyer", "seller", "curl smtps",
		"sent by curl")), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		argv []string
	}{
		{"swaks STARTTLS AUTH PLAIN pipelined", swaks("--port", smtpPort, "--tls",
			"--auth", "PLAIN", "--pipeline", "--header", "Subject: swaks starttls plain")},
		{"swaks STARTTLS AUTH LOGIN paid", swaks("--port", smtpPort, "--tls", "--auth", "LOGIN",
			"--header", "X-AgentMail-Marketplace-Request-Id: swaks-1")},
		{"swaks implicit TLS AUTH LOGIN", swaks("--port", smtpsPort, "--tlsc", "--auth", "LOGIN",
			"--header", "Subject: swaks implicit login")},
		{"swaks implicit TLS AUTH PLAIN pipelined", swaks("--port", smtpsPort, "--tlsc",
			"--auth", "PLAIN", "--pipeline", "--header", "Subject: swaks implicit plain")},
		{"python smtplib starttls", []string{"python3", "testdata/smtplib_tls.py", "starttls",
			"127.0.0.1", smtpPort, ts.caFile, "buyer", testPassword, "seller"}},
		{"python smtplib SMTP_SSL", []string{"python3", "testdata/smtplib_tls.py", "implicit",
			"127.0.0.1", smtpsPort, ts.caFile, "buyer", testPassword, "seller"}},
		{"curl smtps", []string{"curl", "--silent", "--show-error", "--url",
			"smtps://127.0.0.1:" + smtpsPort, "--cacert", ts.caFile, "--user",
			"buyer:" + testPassword, "--mail-from", "buyer@localhost", "--mail-rcpt",
			"seller@localhost", "--upload-file", msgFile}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := exec.LookPath(c.argv[0]); err != nil {
				t.Fatalf("%s is required (.ci/run installs it)", c.argv[0])
			}
			out, err := exec.Command(c.argv[0], c.argv[1:]...).CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if n := ts.inboxCount("seller"); n != i+1 {
				t.Fatalf("seller has %d messages after %d clients\n%s", n, i+1, out)
			}
			if c.name == "swaks STARTTLS AUTH PLAIN pipelined" && !strings.Contains(string(out),
				"PIPELINING") {
				t.Errorf("swaks did not see PIPELINING:\n%s", out)
			}
		})
	}
	if got := ts.balance("buyer"); got != "9.750000/0.250000" {
		t.Errorf("buyer after one paid swaks request = %s, want 9.750000/0.250000", got)
	}
	if strings.Contains(ts.log.String(), testPassword) {
		t.Error("the log holds a password")
	}
	ts.verifyLedger()
}

func portOf(addr string) string { return addr[strings.LastIndex(addr, ":")+1:] }
