// Package tlsconf owns the server's TLS certificate: it loads the
// configured certificate and key, or generates a self-signed one into the
// data directory when none is configured, and swaps in a new certificate on
// Reload without dropping connections. SMTP and IMAP share one Manager.
//
// It knows nothing of the protocols that use the certificate.
package tlsconf

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
)

// Options say where the certificate comes from.
type Options struct {
	// CertFile and KeyFile are PEM files; both empty means a self-signed
	// certificate in DataDir.
	CertFile, KeyFile string
	// DataDir holds the self-signed certificate.
	DataDir string
	// Domain is the primary domain the self-signed certificate names.
	Domain string
	Logger *slog.Logger
}

// Manager serves one certificate to every TLS handshake and replaces it on
// Reload.
type Manager struct {
	opts Options
	log  *slog.Logger

	reloadMu sync.Mutex // one Reload at a time
	cert     atomic.Pointer[tls.Certificate]
}

// New loads or generates the certificate and logs its SHA-256 fingerprint.
func New(opts Options) (*Manager, error) {
	if (opts.CertFile == "") != (opts.KeyFile == "") {
		return nil, errors.New("tls: set both cert_file and key_file, or neither")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{opts: opts, log: opts.Logger.With("module", "tls")}
	if err := m.Reload(); err != nil {
		return nil, err
	}
	return m, nil
}

// Reload reads the certificate again (or checks the self-signed one is still
// valid for the domain) and swaps it in for new handshakes. On error the
// previous certificate stays in use.
func (m *Manager) Reload() error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()

	var cert tls.Certificate
	var err error
	source := m.opts.CertFile
	if m.opts.CertFile != "" {
		cert, err = tls.LoadX509KeyPair(m.opts.CertFile, m.opts.KeyFile)
		if err != nil {
			err = fmt.Errorf("tls: load %s: %w", m.opts.CertFile, err)
		}
	} else {
		source = m.SelfSignedCertFile()
		cert, err = ensureSelfSigned(m.opts.DataDir, m.opts.Domain, m.log)
	}
	if err != nil {
		return err
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return fmt.Errorf("tls: parse %s: %w", source, err)
		}
	}
	m.cert.Store(&cert)
	m.log.Info("tls certificate loaded", "file", source,
		"names", strings.Join(cert.Leaf.DNSNames, ","),
		"not_after", cert.Leaf.NotAfter.UTC().Format("2006-01-02"),
		"sha256", Fingerprint(cert.Leaf))
	return nil
}

// Certificate returns the certificate in use.
func (m *Manager) Certificate() *tls.Certificate { return m.cert.Load() }

// SelfSignedCertFile is where the generated certificate lives; clients
// that should trust it can use this file as their CA.
func (m *Manager) SelfSignedCertFile() string { return selfSignedPaths(m.opts.DataDir).cert }

// Config returns a server TLS configuration whose certificate follows
// Reload. Each listener should get its own copy.
func (m *Manager) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return m.cert.Load(), nil
		},
	}
}

// Fingerprint is the SHA-256 of the certificate's DER bytes, in the
// colon-separated hex that openssl x509 -fingerprint -sha256 prints.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	hexSum := strings.ToUpper(hex.EncodeToString(sum[:]))
	pairs := make([]string, 0, len(sum))
	for i := 0; i < len(hexSum); i += 2 {
		pairs = append(pairs, hexSum[i:i+2])
	}
	return strings.Join(pairs, ":")
}
