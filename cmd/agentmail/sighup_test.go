package main

import (
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"agentmail/internal/testutil"
	"agentmail/internal/tlsconf"
)

// SIGHUP makes a running server read its certificate files again: new
// connections to the implicit-TLS listener get the new certificate.
func TestServeSIGHUPReloadsCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	copyNewPair(t, certFile, keyFile)
	conf := filepath.Join(dir, "agentmail.toml")
	body := "[tls]\ncert_file = \"" + certFile + "\"\nkey_file = \"" + keyFile + "\"\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command(binary, "serve", "--config", conf, "--data", filepath.Join(dir, "data"),
		"--smtp", "127.0.0.1:0", "--smtp-tls", "127.0.0.1:0", "--imap", "127.0.0.1:0",
		"--http", "127.0.0.1:0")
	srv.Env = cliEnv()
	log := &testutil.Buffer{}
	srv.Stdout, srv.Stderr = log, log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		_ = srv.Wait()
	})

	smtps := waitFor(t, log, regexp.MustCompile(`smtps=(127\.0\.0\.1:\d+)`))
	first := servedFingerprint(t, smtps)
	copyNewPair(t, certFile, keyFile)
	if err := srv.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for servedFingerprint(t, smtps) == first {
		if time.Now().After(deadline) {
			t.Fatalf("certificate unchanged 10s after SIGHUP\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The server logs the load as it swaps the certificate in, and its
	// output reaches log through a pipe: wait for the line too.
	for strings.Count(log.String(), "tls certificate loaded") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(log.String(), "tls certificate loaded"); n != 2 {
		t.Errorf("%d certificate loads logged, want 2\n%s", n, log)
	}
}

// copyNewPair writes a fresh certificate and key for localhost.
func copyNewPair(t *testing.T, certFile, keyFile string) {
	t.Helper()
	scratch := t.TempDir()
	m, err := tlsconf.New(tlsconf.Options{DataDir: scratch, Domain: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{m.SelfSignedCertFile(): certFile,
		filepath.Join(scratch, "tls", "selfsigned-key.pem"): keyFile} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor returns the first submatch of re once the log shows it.
func waitFor(t *testing.T, log *testutil.Buffer, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(log.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("log never matched %s:\n%s", re, log)
		}
		time.Sleep(20 * time.Millisecond)
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
