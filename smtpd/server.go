package smtpd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/emersion/go-smtp"

	"agentmail/internal/authguard"
	"agentmail/mailstore"
	"agentmail/marketplace"
)

// Config holds the submission listener's settings. Zero limits mean "no
// limit" unless said otherwise.
type Config struct {
	Domain          string // primary domain; also the name in the greeting
	MaxMessageBytes int64  // advertised as SIZE (RFC 1870)
	MaxRecipients   int
	// MaxLineBytes bounds every line, commands and message data alike,
	// CRLF included; 0 keeps go-smtp's 2000.
	MaxLineBytes int
	// MaxHeaderBytes bounds a message's header section, the blank line
	// included.
	MaxHeaderBytes int
	// SendPerMinute messages per agent on average, SendBurst at once.
	SendPerMinute, SendBurst int
	// MaxConnsPerAddr bounds concurrent connections from one IPv4 address
	// or IPv6 /64, except those ConnLimitExempt names (nil: loopback, as
	// Postfix exempts $mynetworks; a local proxy or load generator would
	// otherwise count as one client).
	MaxConnsPerAddr int
	ConnLimitExempt func(net.Addr) bool
	// Auth slows and blocks repeated failed authentication; Guard, when set,
	// is a guard shared with the other protocols and Auth is ignored.
	Auth  AuthLimits
	Guard *authguard.Guard
	// InsecureAuth reports whether plaintext AUTH is allowed on a connection
	// without TLS; nil allows it only from loopback addresses.
	InsecureAuth func(net.Conn) bool
	// TLSConfig enables STARTTLS (RFC 3207) and ServeTLS.
	TLSConfig    *tls.Config
	Logger       *slog.Logger
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
}

// AuthLimits are the limits on failed authentication.
type AuthLimits = authguard.Limits

// Server is the SMTP submission server.
type Server struct {
	smtp   *smtp.Server
	mail   *mailstore.Store
	market *marketplace.Market
	cfg    Config
	log    *slog.Logger

	guard *authguard.Guard
	rate  *sendLimiter
	conns *connLimiter
	now   func() time.Time
}

// New builds a submission server over the given stores.
func New(ms *mailstore.Store, market *marketplace.Market, cfg Config) *Server {
	if cfg.InsecureAuth == nil {
		cfg.InsecureAuth = IsLoopback
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ConnLimitExempt == nil {
		cfg.ConnLimitExempt = isLoopbackAddr
	}
	if cfg.Guard == nil {
		cfg.Guard = authguard.New(cfg.Auth)
	}
	s := &Server{mail: ms, market: market, cfg: cfg, log: cfg.Logger.With("module", "smtp"),
		guard: cfg.Guard,
		rate:  newSendLimiter(cfg.SendPerMinute, cfg.SendBurst),
		conns: newConnLimiter(cfg.MaxConnsPerAddr, cfg.ConnLimitExempt),
		now:   time.Now,
	}
	srv := smtp.NewServer(s)
	srv.Domain = cfg.Domain
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	if cfg.MaxLineBytes > 0 {
		srv.MaxLineLength = cfg.MaxLineBytes
	}
	srv.ReadTimeout = cfg.ReadTimeout
	srv.WriteTimeout = cfg.WriteTimeout
	srv.TLSConfig = cfg.TLSConfig
	// Agent addresses are ASCII, but display names, subjects and bodies
	// may be UTF-8 (RFC 6531, RFC 6532); the message bytes are stored as
	// they arrive.
	srv.EnableSMTPUTF8 = true
	// go-smtp would hide AUTH without TLS on every connection; the session
	// decides per connection instead (AuthMechanisms), so loopback clients
	// can authenticate in plaintext and no one else is invited to.
	srv.AllowInsecureAuth = true
	srv.ErrorLog = slogLogger{s.log}
	s.smtp = srv
	return s
}

// Serve accepts plaintext connections on ln, which may upgrade with
// STARTTLS, until Close.
func (s *Server) Serve(ln net.Listener) error {
	return s.smtp.Serve(&limitedListener{Listener: eofListener{ln}, lim: s.conns,
		say421: true, refused: s.logRefused})
}

// ServeTLS accepts implicit-TLS connections on ln (RFC 8314 section 3.3,
// the port 465 role) until Close.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.cfg.TLSConfig == nil {
		return errors.New("smtpd: ServeTLS without a TLS configuration")
	}
	limited := &limitedListener{Listener: eofListener{ln}, lim: s.conns, refused: s.logRefused}
	return s.smtp.Serve(tls.NewListener(limited, s.cfg.TLSConfig))
}

func (s *Server) logRefused(remote net.Addr) {
	s.log.Warn("connection refused: too many from one address", "remote", remote.String(),
		"limit", s.cfg.MaxConnsPerAddr)
}

// Close stops listening and closes every connection.
func (s *Server) Close() error { return s.smtp.Close() }

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	remote := c.Conn().RemoteAddr()
	return &session{srv: s, conn: c, remote: remote.String(), addrKey: authguard.AddrKey(remote)}, nil
}

// IsLoopback reports whether c comes from the machine itself.
func IsLoopback(c net.Conn) bool { return isLoopbackAddr(c.RemoteAddr()) }

func isLoopbackAddr(a net.Addr) bool {
	addr, ok := a.(*net.TCPAddr)
	return ok && addr.IP.IsLoopback()
}

// slogLogger routes go-smtp's own error messages to slog.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Printf(format string, v ...any) {
	l.log.Warn("smtp library", "detail", fmt.Sprintf(format, v...))
}

func (l slogLogger) Println(v ...any) { l.log.Warn("smtp library", "detail", fmt.Sprint(v...)) }
