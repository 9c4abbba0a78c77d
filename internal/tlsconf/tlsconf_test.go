package tlsconf

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestSelfSignedGeneratedOnceAndReused(t *testing.T) {
	dir := t.TempDir()
	m1, err := New(Options{DataDir: dir, Domain: "agents.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	leaf := m1.Certificate().Leaf
	for _, name := range []string{"agents.example.com", "localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("certificate does not name %s: %v", name, err)
		}
	}
	if _, ok := m1.Certificate().PrivateKey.(*ecdsa.PrivateKey); !ok {
		t.Errorf("private key is %T, want ECDSA", m1.Certificate().PrivateKey)
	}
	st, err := os.Stat(filepath.Join(dir, "tls", "selfsigned-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}

	m2, err := New(Options{DataDir: dir, Domain: "agents.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := Fingerprint(leaf), Fingerprint(m2.Certificate().Leaf); a != b {
		t.Errorf("second start generated a new certificate: %s then %s", a, b)
	}

	m3, err := New(Options{DataDir: dir, Domain: "other.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if m3.Certificate().Leaf.VerifyHostname("other.example.com") != nil {
		t.Error("a new domain kept the old certificate")
	}
}

func TestSelfSignedIsItsOwnTrustAnchor(t *testing.T) {
	m, err := New(Options{DataDir: t.TempDir(), Domain: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(m.SelfSignedCertFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("certificate file holds no PEM certificate")
	}
	ln := serveTLS(t, m.Config())
	conn, err := tls.Dial("tcp", ln, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}

func TestReloadSwapsConfiguredCertificate(t *testing.T) {
	dir := t.TempDir()
	certA, keyA := writePair(t, t.TempDir(), "a.example")
	certB, keyB := writePair(t, t.TempDir(), "b.example")
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	copyFile(t, certA, certFile)
	copyFile(t, keyA, keyFile)

	m, err := New(Options{CertFile: certFile, KeyFile: keyFile, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, m.Config())
	if got := servedNames(t, addr); !slices.Contains(got, "a.example") {
		t.Fatalf("served %v, want a.example", got)
	}

	copyFile(t, certB, certFile)
	copyFile(t, keyB, keyFile)
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := servedNames(t, addr); !slices.Contains(got, "b.example") {
		t.Fatalf("after reload served %v, want b.example", got)
	}

	// A broken file on reload keeps the certificate in use.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(); err == nil {
		t.Fatal("reload of a broken certificate succeeded")
	}
	if got := servedNames(t, addr); !slices.Contains(got, "b.example") {
		t.Fatalf("after failed reload served %v, want b.example", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "tls")); err == nil {
		t.Error("a configured certificate also generated a self-signed one")
	}
}

func TestCertWithoutKeyRefused(t *testing.T) {
	if _, err := New(Options{CertFile: "x.pem", DataDir: t.TempDir()}); err == nil {
		t.Fatal("cert_file without key_file accepted")
	}
}

func TestExpiringSelfSignedRenewed(t *testing.T) {
	dir := t.TempDir()
	if _, err := generate(selfSignedPaths(dir), "localhost",
		time.Now().Add(-selfSignedValidity+time.Hour)); err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{DataDir: dir, Domain: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(m.Certificate().Leaf.NotAfter); left < selfSignedRenewBefore {
		t.Errorf("certificate expiring in %v was not renewed", left)
	}
}

// writePair generates a self-signed pair for name into dir.
func writePair(t *testing.T, dir, name string) (cert, key string) {
	t.Helper()
	p := selfSignedPaths(dir)
	if _, err := generate(p, name, time.Now()); err != nil {
		t.Fatal(err)
	}
	return p.cert, p.key
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// serveTLS accepts TLS connections on a loopback port and completes each
// handshake.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

func servedNames(t *testing.T, addr string) []string {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true}) // the test reads the certificate, trusts nothing
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].DNSNames
}
