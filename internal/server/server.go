// Package server wires the stores and the protocol edges into one running
// process: SMTP submission, IMAP, the HTTP side-server, the admin socket and
// the reservation expiry loop, over one data directory.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"agentmail/billing"
	"agentmail/imapd"
	"agentmail/internal/admin"
	"agentmail/internal/authguard"
	"agentmail/internal/config"
	"agentmail/internal/httpapi"
	"agentmail/internal/store"
	"agentmail/internal/tlsconf"
	"agentmail/mailstore"
	"agentmail/marketplace"
	"agentmail/smtpd"
)

// Stores are the opened data of one data directory.
type Stores struct {
	DB     *store.DB
	Mail   *mailstore.Store
	Ledger *billing.Ledger
	Market *marketplace.Market
}

// OpenStores opens the data directory. now is the ledger clock (nil: wall
// clock).
func OpenStores(cfg config.Config, now func() time.Time) (*Stores, error) {
	db, err := store.Open(cfg.DataDir, store.Options{})
	if err != nil {
		return nil, err
	}
	st := &Stores{DB: db}
	if st.Mail, err = mailstore.Open(db, nil); err == nil {
		if st.Ledger, err = billing.Open(db, now); err == nil {
			st.Market, err = marketplace.New(st.Ledger, st.Mail, marketplace.Config{
				ReservationTTL:          cfg.Billing.ReservationTTL.Duration,
				SaveSent:                cfg.Mail.SaveSent,
				PlatformFeeMicroPercent: cfg.Billing.PlatformFeePercent.Micros,
			})
		}
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	st.Mail.SetQuota(cfg.Mail.QuotaBytes)
	return st, nil
}

// Admin returns the in-process admin operations over these stores.
func (st *Stores) Admin(domain string) *admin.Service {
	return admin.NewService(st.Mail, st.Market, domain)
}

// Server is a running agentmail.
type Server struct {
	cfg    config.Config
	log    *slog.Logger
	Stores *Stores

	smtp  *smtpd.Server
	imap  *imapd.Server
	http  *http.Server
	admin *http.Server

	smtpLn, imapLn, httpLn, adminLn net.Listener
	smtpsLn, imapsLn                net.Listener // implicit TLS; nil when off
	certs                           *tlsconf.Manager
	smtpDrain                       *drainListener

	stop chan struct{}
	wg   sync.WaitGroup
}

// Options adjust a server for tests and the demo.
type Options struct {
	Now func() time.Time // ledger clock; nil means the wall clock
}

// Start opens the data directory, listens on every configured address and
// serves until Close. Addresses with port 0 get a free port; Addrs reports it.
func Start(cfg config.Config, log *slog.Logger, opts Options) (*Server, error) {
	st, err := OpenStores(cfg, opts.Now)
	if err != nil {
		return nil, err
	}
	if from := st.DB.UpgradedFrom(); from != store.FormatVersion {
		log.Info("data format upgraded", "from", from, "to", store.FormatVersion)
	}
	s := &Server{cfg: cfg, log: log, Stores: st, stop: make(chan struct{})}
	s.certs, err = tlsconf.New(tlsconf.Options{CertFile: cfg.TLS.CertFile,
		KeyFile: cfg.TLS.KeyFile, DataDir: cfg.DataDir, Domain: cfg.Domain, Logger: log})
	if err != nil {
		st.DB.Close()
		return nil, err
	}
	if err := s.listen(); err != nil {
		s.closeListeners()
		st.DB.Close()
		return nil, err
	}

	if err := s.prepareLedger(); err != nil {
		s.closeListeners()
		st.DB.Close()
		return nil, err
	}

	// One guard for every protocol that takes a password, so a guesser
	// gains nothing by switching from SMTP to IMAP or HTTP.
	guard := authguard.New(authguard.Limits{Delay: cfg.SMTP.AuthFailureDelay.Duration,
		MaxDelay:   cfg.SMTP.AuthFailureMaxDelay.Duration,
		BlockAfter: cfg.SMTP.AuthBlockAfter, BlockFor: cfg.SMTP.AuthBlockFor.Duration})
	s.smtp = smtpd.New(st.Mail, st.Market, smtpd.Config{
		Domain:          cfg.Domain,
		MaxMessageBytes: cfg.SMTP.MaxMessageBytes,
		MaxRecipients:   cfg.SMTP.MaxRecipients,
		ReadTimeout:     cfg.SMTP.ReadTimeout.Duration,
		WriteTimeout:    cfg.SMTP.WriteTimeout.Duration,
		Logger:          log,
		MaxLineBytes:    cfg.SMTP.MaxLineBytes,
		MaxHeaderBytes:  cfg.SMTP.MaxHeaderBytes,
		SendPerMinute:   cfg.SMTP.SendRatePerMinute,
		SendBurst:       cfg.SMTP.SendBurst,
		MaxConnsPerAddr: cfg.SMTP.MaxConnectionsPerAddress,
		Guard:           guard,
		InsecureAuth:    s.plaintextAuth,
		TLSConfig:       s.certs.Config(),
	})
	s.imap = imapd.New(st.Mail, imapd.Config{Domain: cfg.Domain, Logger: log,
		TLSConfig: s.certs.Config(), InsecureAuth: s.plaintextAuth, Guard: guard})
	st.Mail.SetObserver(s.imap)
	s.http = &http.Server{
		Handler: httpapi.New(st.Mail, st.Market, httpapi.Config{Domain: cfg.Domain,
			Logger: log, Guard: guard}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	s.admin = &http.Server{Handler: admin.WithBackup(admin.Handler(st.Admin(cfg.Domain)), st.DB)}

	s.serve("smtp", func() error { return s.smtp.Serve(s.smtpLn) })
	s.serve("imap", func() error { return s.imap.Serve(s.imapLn) })
	if s.smtpsLn != nil {
		s.serve("smtps", func() error { return s.smtp.ServeTLS(s.smtpsLn) })
	}
	if s.imapsLn != nil {
		imaps := tls.NewListener(s.imapsLn, s.certs.Config())
		s.serve("imaps", func() error { return s.imap.Serve(imaps) })
	}
	s.serve("http", func() error { return s.http.Serve(s.httpLn) })
	s.serve("admin", func() error { return s.admin.Serve(s.adminLn) })
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		st.Market.RunExpiry(cfg.Billing.ExpiryInterval.Duration, s.stop, func(err error) {
			log.Error("billing upkeep", "err", err)
		})
	}()
	if every := cfg.Billing.VerifyInterval.Duration; every > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.verifyEvery(every)
		}()
	}
	log.Info("agentmail serving", "domain", cfg.Domain, "data", cfg.DataDir,
		"smtp", s.smtpLn.Addr().String(), "imap", s.imapLn.Addr().String(),
		"http", s.httpLn.Addr().String(), "smtps", addrOf(s.smtpsLn), "imaps", addrOf(s.imapsLn))
	return s, nil
}

// plaintextAuth reports whether a connection without TLS may authenticate:
// only from loopback, and only when the configuration allows it.
func (s *Server) plaintextAuth(c net.Conn) bool {
	return s.cfg.TLS.AllowPlaintextAuthOnLoopback && smtpd.IsLoopback(c)
}

// Reload reads the TLS certificate again (SIGHUP); on error the one in use
// stays.
func (s *Server) Reload() error { return s.certs.Reload() }

// TLSAddrs returns the implicit-TLS listeners' addresses, "" when off.
func (s *Server) TLSAddrs() (smtps, imaps string) {
	return addrOf(s.smtpsLn), addrOf(s.imapsLn)
}

// SelfSignedCertFile is where a generated certificate is kept, for clients
// that should trust it.
func (s *Server) SelfSignedCertFile() string { return s.certs.SelfSignedCertFile() }

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}

// listenTLS opens an implicit-TLS listener; "" leaves it off.
func listenTLS(addr, name string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener: %w", name, err)
	}
	return ln, nil
}

func (s *Server) listen() error {
	var err error
	if s.smtpLn, err = net.Listen("tcp", s.cfg.SMTP.Listen); err != nil {
		return fmt.Errorf("smtp listener: %w", err)
	}
	s.smtpDrain = newDrainListener(s.smtpLn)
	s.smtpLn = s.smtpDrain
	if s.imapLn, err = net.Listen("tcp", s.cfg.IMAP.Listen); err != nil {
		return fmt.Errorf("imap listener: %w", err)
	}
	if s.smtpsLn, err = listenTLS(s.cfg.SMTP.ListenTLS, "smtps"); err != nil {
		return err
	}
	if s.imapsLn, err = listenTLS(s.cfg.IMAP.ListenTLS, "imaps"); err != nil {
		return err
	}
	if s.httpLn, err = net.Listen("tcp", s.cfg.HTTP.Listen); err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	s.adminLn, err = admin.Listen(s.cfg.DataDir)
	return err
}

func (s *Server) closeListeners() {
	for _, ln := range []net.Listener{s.smtpLn, s.imapLn, s.httpLn, s.adminLn, s.smtpsLn,
		s.imapsLn} {
		if ln != nil {
			ln.Close()
		}
	}
}

func (s *Server) serve(name string, run func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := run()
		select {
		case <-s.stop:
		default:
			if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("listener stopped", "listener", name, "err", err)
			}
		}
	}()
}

// Addrs returns the addresses the server listens on.
func (s *Server) Addrs() (smtp, imap, http string) {
	return s.smtpLn.Addr().String(), s.imapLn.Addr().String(), s.httpLn.Addr().String()
}

// Close stops accepting and ends sessions: SMTP messages whose data is
// arriving or being committed get their reply, other SMTP sessions get 421,
// IMAP sessions (IDLE too) get BYE. Then it waits for the writer to commit
// what it has queued and closes the database.
func (s *Server) Close() error {
	close(s.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.smtpDrain.drain(ctx)
	_ = s.smtp.Close()
	_ = s.imap.Close()
	_ = s.http.Shutdown(ctx)
	if err := s.admin.Shutdown(ctx); err != nil {
		_ = s.admin.Close() // a backup still streaming holds a read transaction
	}
	// go-smtp closes only the listeners its Serve has registered; one whose
	// goroutine had not started yet would block in Accept for ever.
	s.closeListeners()
	s.wg.Wait()
	_ = os.Remove(filepath.Join(s.cfg.DataDir, admin.SocketName))
	return s.Stores.DB.Close()
}
