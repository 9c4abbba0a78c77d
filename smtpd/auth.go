package smtpd

import (
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"agentmail/mailstore"
)

var (
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0},
		Message: "authentication required"}
	// RFC 4954 section 6.
	errEncryptionRequired = &smtp.SMTPError{Code: 538, EnhancedCode: smtp.EnhancedCode{5, 7, 11},
		Message: "encryption required: use STARTTLS before AUTH"}
	errBadCredentials = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
		Message: "authentication credentials invalid"}
)

// userLogMax bounds how much of a claimed user name is logged and counted.
const userLogMax = 100

// authAllowed reports whether this connection may authenticate: over TLS,
// or in plaintext where InsecureAuth allows it (by default loopback only).
func (s *session) authAllowed() bool {
	_, isTLS := s.conn.TLSConnectionState()
	return isTLS || s.srv.cfg.InsecureAuth(s.conn.Conn())
}

// AuthMechanisms implements smtp.AuthSession. Where authentication is not
// allowed no mechanism is advertised, so that clients never offer a
// password in the clear (RFC 4954 section 4).
func (s *session) AuthMechanisms() []string {
	if !s.authAllowed() {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth implements smtp.AuthSession.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if !s.authAllowed() {
		return nil, errEncryptionRequired
	}
	now := s.srv.now()
	if until := s.srv.guard.BlockedUntil(s.addrKey, "", now); !until.IsZero() {
		s.srv.log.Warn("authentication refused: address blocked", "remote", s.remote,
			"until", until.UTC().Format(time.RFC3339))
		return nil, errBlocked(until, now)
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return errBadCredentials
			}
			return s.login(username, password)
		}), nil
	case sasl.Login:
		return newLoginServer(s.login), nil
	}
	return nil, &smtp.SMTPError{Code: 504, EnhancedCode: smtp.EnhancedCode{5, 5, 4},
		Message: "unsupported authentication mechanism"}
}

// login checks a user name and password. Every answer depends only on the
// recent failures of the address and of the name typed, never on whether
// that agent exists; mailstore.Authenticate spends the same bcrypt time
// either way.
func (s *session) login(username, password string) error {
	now := s.srv.now()
	user := username
	if len(user) > userLogMax {
		user = user[:userLogMax]
	}
	account, err := mailstore.ResolveAgent(username, s.srv.cfg.Domain)
	if err != nil {
		account = strings.ToLower(user)
	}
	if until := s.srv.guard.BlockedUntil(s.addrKey, account, now); !until.IsZero() {
		s.srv.log.Warn("authentication refused: blocked", "remote", s.remote, "user", user,
			"until", until.UTC().Format(time.RFC3339))
		return errBlocked(until, now)
	}

	if err != nil || !s.srv.mail.Authenticate(account, password) {
		count, delay, blocked := s.srv.guard.Fail(s.addrKey, account, now)
		s.srv.log.Warn("authentication failed", "remote", s.remote, "user", user,
			"failures", count, "delay", delay)
		if blocked {
			s.srv.log.Warn("authentication blocked", "remote", s.remote, "user", user,
				"failures", count, "for", s.srv.guard.Limits().BlockFor)
		}
		time.Sleep(delay)
		return errBadCredentials
	}
	s.srv.guard.Succeed(account)
	s.agent = account
	return nil
}

// errBlocked is the answer while an address or account is blocked: a
// temporary failure (RFC 4954 section 6) that says when to try again.
func errBlocked(until, now time.Time) error {
	wait := until.Sub(now).Round(time.Second)
	return &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: fmt.Sprintf("too many failed authentication attempts; try again in %s", wait)}
}
