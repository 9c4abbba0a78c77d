package smtpd

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/emersion/go-smtp"

	"agentmail/mailstore"
	"agentmail/marketplace"
)

// Config holds the submission listener's settings.
type Config struct {
	Domain          string // primary domain; also the name in the greeting
	MaxMessageBytes int64
	MaxRecipients   int
	// InsecureAuth reports whether plaintext AUTH is allowed on a connection
	// without TLS; nil allows it only from loopback addresses.
	InsecureAuth func(net.Conn) bool
	TLSConfig    *tls.Config
	Logger       *slog.Logger
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
}

// Server is the SMTP submission server.
type Server struct {
	smtp   *smtp.Server
	mail   *mailstore.Store
	market *marketplace.Market
	cfg    Config
	log    *slog.Logger
}

// New builds a submission server over the given stores.
func New(ms *mailstore.Store, market *marketplace.Market, cfg Config) *Server {
	if cfg.InsecureAuth == nil {
		cfg.InsecureAuth = isLoopback
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{mail: ms, market: market, cfg: cfg, log: cfg.Logger.With("module", "smtp")}
	srv := smtp.NewServer(s)
	srv.Domain = cfg.Domain
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	srv.ReadTimeout = cfg.ReadTimeout
	srv.WriteTimeout = cfg.WriteTimeout
	srv.TLSConfig = cfg.TLSConfig
	srv.EnableSMTPUTF8 = true
	// go-smtp would hide AUTH without TLS altogether; the session decides per
	// connection instead, so loopback clients can authenticate in plaintext.
	srv.AllowInsecureAuth = true
	srv.ErrorLog = slogLogger{s.log}
	s.smtp = srv
	return s
}

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error { return s.smtp.Serve(ln) }

// Close stops listening and closes every connection.
func (s *Server) Close() error { return s.smtp.Close() }

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{srv: s, conn: c, remote: c.Conn().RemoteAddr().String()}, nil
}

func isLoopback(c net.Conn) bool {
	addr, ok := c.RemoteAddr().(*net.TCPAddr)
	return ok && addr.IP.IsLoopback()
}

// slogLogger routes go-smtp's own error messages to slog.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Printf(format string, v ...any) {
	l.log.Warn("smtp library", "detail", fmt.Sprintf(format, v...))
}

func (l slogLogger) Println(v ...any) { l.log.Warn("smtp library", "detail", fmt.Sprint(v...)) }
