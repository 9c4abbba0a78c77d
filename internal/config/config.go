// Package config holds the server's settings: embedded defaults, so that the
// server runs with no file at all, overridden by a TOML file and then by
// command-line flags.
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"agentmail/billing"
)

// Config is every setting of the server. config.example.toml at the top of
// the repository documents each key with its default.
type Config struct {
	DataDir string  `toml:"data_dir"`
	Domain  string  `toml:"domain"`
	SMTP    SMTP    `toml:"smtp"`
	IMAP    IMAP    `toml:"imap"`
	TLS     TLS     `toml:"tls"`
	HTTP    HTTP    `toml:"http"`
	Billing Billing `toml:"billing"`
	Mail    Mail    `toml:"mail"`
	Log     Log     `toml:"log"`
}

// SMTP configures the submission listeners.
type SMTP struct {
	Listen string `toml:"listen"`
	// ListenTLS is the implicit-TLS listener (the port 465 role); "" is off.
	ListenTLS       string   `toml:"listen_tls"`
	MaxMessageBytes int64    `toml:"max_message_bytes"`
	MaxRecipients   int      `toml:"max_recipients"`
	MaxLineBytes    int      `toml:"max_line_bytes"`
	MaxHeaderBytes  int      `toml:"max_header_bytes"`
	ReadTimeout     Duration `toml:"read_timeout"`
	WriteTimeout    Duration `toml:"write_timeout"`
	// SendRatePerMinute messages per agent on average, SendBurst at once;
	// 0 is unlimited.
	SendRatePerMinute int `toml:"send_rate_per_minute"`
	SendBurst         int `toml:"send_burst"`
	// MaxConnectionsPerAddress bounds concurrent connections from one IPv4
	// address or IPv6 /64, loopback exempt; 0 is unlimited.
	MaxConnectionsPerAddress int `toml:"max_connections_per_address"`
	// Failed AUTH: each recent failure adds AuthFailureDelay to the answer,
	// up to AuthFailureMaxDelay; AuthBlockAfter failures block the address
	// or account for AuthBlockFor (0: never).
	AuthFailureDelay    Duration `toml:"auth_failure_delay"`
	AuthFailureMaxDelay Duration `toml:"auth_failure_max_delay"`
	AuthBlockAfter      int      `toml:"auth_block_after"`
	AuthBlockFor        Duration `toml:"auth_block_for"`
}

// IMAP configures the IMAP listeners.
type IMAP struct {
	Listen string `toml:"listen"`
	// ListenTLS is the implicit-TLS listener (the port 993 role); "" is off.
	ListenTLS string `toml:"listen_tls"`
}

// TLS configures the certificate SMTP and IMAP share, and where plaintext
// authentication is allowed.
type TLS struct {
	// CertFile and KeyFile are PEM files, reloaded on SIGHUP; both empty
	// means a self-signed certificate generated into the data directory.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// AllowPlaintextAuthOnLoopback lets clients on the machine itself
	// authenticate without TLS; everyone else must use TLS first.
	AllowPlaintextAuthOnLoopback bool `toml:"allow_plaintext_auth_on_loopback"`
}

// HTTP configures the side-server for pricing and billing queries.
type HTTP struct {
	Listen string `toml:"listen"`
}

// Billing configures reservations.
type Billing struct {
	ReservationTTL Duration `toml:"reservation_ttl"`
	ExpiryInterval Duration `toml:"expiry_interval"`
	// PlatformFeePercent of each charge goes to the platform account.
	PlatformFeePercent Percent `toml:"platform_fee_percent"`
	// VerifyInterval is how often the running server checks the ledger's
	// invariants; zero turns the periodic check off.
	VerifyInterval Duration `toml:"verify_interval"`
	// AllowLedgerBreach lets the server start although the ledger check at
	// start-up found a breach. Off by default: money must add up first.
	AllowLedgerBreach bool `toml:"allow_ledger_breach"`
}

// Percent is a percentage with at most six decimals, kept exactly in
// millionths of a percent. TOML may write it as a number or a string.
type Percent struct{ Micros int64 }

// UnmarshalTOML implements toml.Unmarshaler.
func (p *Percent) UnmarshalTOML(v any) error {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case int64:
		s = strconv.FormatInt(x, 10)
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64) // the shortest text that reads back as x
	default:
		return fmt.Errorf("percent: want a number such as 2.5, got %T", v)
	}
	a, err := billing.ParseAmount(s)
	if err != nil {
		return fmt.Errorf("percent: %w", err)
	}
	if a > 100*billing.MicrosPerUnit {
		return fmt.Errorf("percent %s is above 100", s)
	}
	p.Micros = int64(a)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (p Percent) MarshalText() ([]byte, error) {
	return []byte(billing.Amount(p.Micros).Compact()), nil
}

// Mail configures delivery.
type Mail struct {
	SaveSent bool `toml:"save_sent"`
	// QuotaBytes bounds the mail one agent keeps across its mailboxes;
	// 0 means no quota. Over it, SMTP answers 552 5.2.2 and APPEND
	// [OVERQUOTA].
	QuotaBytes int64 `toml:"quota_bytes"`
}

// Log configures logging.
type Log struct {
	Format string `toml:"format"` // "text" or "json"
	Level  string `toml:"level"`  // "debug", "info", "warn", "error"
}

// Duration is a time.Duration written as "24h" or "90s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the embedded defaults.
func Default() Config {
	return Config{
		DataDir: "./data",
		Domain:  "localhost",
		SMTP: SMTP{
			Listen:                   "127.0.0.1:2525",
			MaxMessageBytes:          32 << 20,
			MaxRecipients:            100,
			MaxLineBytes:             64 << 10,
			MaxHeaderBytes:           1 << 20,
			ReadTimeout:              Duration{5 * time.Minute},
			WriteTimeout:             Duration{5 * time.Minute},
			SendRatePerMinute:        120,
			SendBurst:                60,
			MaxConnectionsPerAddress: 20,
			AuthFailureDelay:         Duration{500 * time.Millisecond},
			AuthFailureMaxDelay:      Duration{5 * time.Second},
			AuthBlockAfter:           10,
			AuthBlockFor:             Duration{15 * time.Minute},
		},
		IMAP: IMAP{Listen: "127.0.0.1:1143"},
		TLS:  TLS{AllowPlaintextAuthOnLoopback: true},
		HTTP: HTTP{Listen: "127.0.0.1:8080"},
		Billing: Billing{
			ReservationTTL: Duration{24 * time.Hour},
			ExpiryInterval: Duration{time.Second},
			VerifyInterval: Duration{time.Hour},
		},
		Mail: Mail{SaveSent: true},
		Log:  Log{Format: "text", Level: "info"},
	}
}

// Load reads a TOML file over the defaults. Unknown keys are errors, so a
// misspelt setting is never silently ignored.
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return cfg, fmt.Errorf("config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	return cfg, cfg.Validate()
}

// Validate checks the settings and names every bad one.
func (c Config) Validate() error {
	var errs []error
	if c.Domain == "" {
		errs = append(errs, errors.New("domain must not be empty"))
	}
	if c.Billing.ReservationTTL.Duration <= 0 {
		errs = append(errs, errors.New("billing.reservation_ttl must be positive"))
	}
	if c.Billing.VerifyInterval.Duration < 0 {
		errs = append(errs, errors.New("billing.verify_interval must not be negative"))
	}
	if c.Billing.ExpiryInterval.Duration <= 0 {
		errs = append(errs, errors.New("billing.expiry_interval must be positive"))
	}
	if c.SMTP.MaxMessageBytes <= 0 || c.SMTP.MaxRecipients <= 0 {
		errs = append(errs, errors.New("smtp.max_message_bytes and smtp.max_recipients must be positive"))
	}
	errs = append(errs, c.SMTP.validate()...)
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("tls.cert_file and tls.key_file: set both or neither"))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level %q: want debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format %q: want text or json", c.Log.Format))
	}
	if c.Mail.QuotaBytes < 0 {
		errs = append(errs, errors.New("mail.quota_bytes must not be negative"))
	}
	return errors.Join(errs...)
}

// validate checks the SMTP limits.
func (s SMTP) validate() []error {
	var errs []error
	if s.MaxLineBytes < 1000 {
		// RFC 5321 section 4.5.3.1.6: a line of 1000 octets must fit.
		errs = append(errs, errors.New("smtp.max_line_bytes must be at least 1000"))
	}
	for name, v := range map[string]int{"max_header_bytes": s.MaxHeaderBytes,
		"send_rate_per_minute": s.SendRatePerMinute, "send_burst": s.SendBurst,
		"max_connections_per_address": s.MaxConnectionsPerAddress,
		"auth_block_after":            s.AuthBlockAfter} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("smtp.%s must not be negative", name))
		}
	}
	for name, d := range map[string]Duration{"auth_failure_delay": s.AuthFailureDelay,
		"auth_failure_max_delay": s.AuthFailureMaxDelay, "auth_block_for": s.AuthBlockFor} {
		if d.Duration < 0 {
			errs = append(errs, fmt.Errorf("smtp.%s must not be negative", name))
		}
	}
	return errs
}
