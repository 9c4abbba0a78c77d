package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

const (
	// selfSignedValidity is how long a generated certificate is valid.
	selfSignedValidity = 365 * 24 * time.Hour
	// selfSignedRenewBefore: a generated certificate this close to expiry is
	// replaced at start-up or on Reload.
	selfSignedRenewBefore = 30 * 24 * time.Hour
)

type pemPaths struct{ dir, cert, key string }

func selfSignedPaths(dataDir string) pemPaths {
	dir := filepath.Join(dataDir, "tls")
	return pemPaths{dir: dir, cert: filepath.Join(dir, "selfsigned-cert.pem"),
		key: filepath.Join(dir, "selfsigned-key.pem")}
}

// ensureSelfSigned returns the generated certificate in dataDir, making a
// new one when there is none, when it does not name domain, or when it
// expires within selfSignedRenewBefore.
func ensureSelfSigned(dataDir, domain string, log *slog.Logger) (tls.Certificate, error) {
	p := selfSignedPaths(dataDir)
	cert, err := tls.LoadX509KeyPair(p.cert, p.key)
	switch {
	case err == nil && usable(cert.Leaf, domain, time.Now()):
		return cert, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		log.Warn("self-signed certificate unreadable; generating a new one",
			"file", p.cert, "err", err)
	case err == nil:
		log.Info("self-signed certificate expiring or for another domain; generating a new one",
			"file", p.cert)
	}
	return generate(p, domain, time.Now())
}

// usable reports whether a generated certificate still serves domain.
func usable(leaf *x509.Certificate, domain string, now time.Time) bool {
	return leaf != nil && leaf.VerifyHostname(domain) == nil &&
		now.Add(selfSignedRenewBefore).Before(leaf.NotAfter)
}

// generate writes a new ECDSA P-256 key (mode 0600) and a self-signed
// certificate for domain, localhost, 127.0.0.1 and ::1.
func generate(p pemPaths, domain string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: generate key: %w", err)
	}
	der, err := selfSignedDER(key, domain, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: encode key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})

	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: %w", err)
	}
	// The key goes first: a certificate file on disk always has its key.
	if err := writeFileAtomic(p.key, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(p.cert, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

func selfSignedDER(key *ecdsa.PrivateKey, domain string, now time.Time) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("tls: serial: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("tls: encode public key: %w", err)
	}
	// RFC 5280 section 4.2.1.2, method 1 asks for SHA-1 of the key bits;
	// hashing the whole SubjectPublicKeyInfo is the common, equally unique,
	// variant. The key id is an identifier here, not a security property.
	keyID := sha1.Sum(pub)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: domain, Organization: []string{"agentmail self-signed"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(selfSignedValidity),
		// A self-signed certificate is its own trust anchor: clients given
		// it as their CA file (curl --cacert, Python's cafile) need it to be
		// a CA, as openssl req -x509 makes it.
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		SubjectKeyId:          keyID[:],
		AuthorityKeyId:        keyID[:],
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, name := range []string{domain, "localhost"} {
		if ip := net.ParseIP(name); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if !slices.Contains(tmpl.DNSNames, name) {
			tmpl.DNSNames = append(tmpl.DNSNames, name)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("tls: create certificate: %w", err)
	}
	return der, nil
}

// writeFileAtomic writes data to a temporary file with the given mode,
// syncs it and renames it over path, so a reader sees the old or the new
// file, never half of one.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("tls: write %s: %w", path, err)
	}
	tmp := f.Name()
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("tls: write %s: %w", path, err)
	}
	return nil
}
