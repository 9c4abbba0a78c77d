package smtpd

import (
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"agentmail/internal/rawmsg"
	"agentmail/mailstore"
	"agentmail/marketplace"
)

// session is one SMTP connection's state.
type session struct {
	srv    *Server
	conn   *smtp.Conn
	remote string
	agent  string // authenticated address, "" before AUTH
	from   string
	rcpts  []string
}

var (
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0},
		Message: "authentication required"}
	errEncryptionRequired = &smtp.SMTPError{Code: 538, EnhancedCode: smtp.EnhancedCode{5, 7, 11},
		Message: "encryption required: use STARTTLS before AUTH"}
	errBadCredentials = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
		Message: "authentication credentials invalid"}
)

// AuthMechanisms implements smtp.AuthSession.
func (s *session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

// Auth implements smtp.AuthSession.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if _, isTLS := s.conn.TLSConnectionState(); !isTLS && !s.srv.cfg.InsecureAuth(s.conn.Conn()) {
		return nil, errEncryptionRequired
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

func (s *session) login(username, password string) error {
	addr, err := mailstore.ResolveAgent(username, s.srv.cfg.Domain)
	if err != nil || !s.srv.mail.Authenticate(addr, password) {
		s.srv.log.Warn("authentication failed", "remote", s.remote, "user", username)
		return errBadCredentials
	}
	s.agent = addr
	return nil
}

// Mail implements smtp.Session: the envelope sender must be the agent.
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.agent == "" {
		return errAuthRequired
	}
	addr, err := mailstore.NormalizeAddress(from)
	if err != nil || addr != s.agent {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: fmt.Sprintf("sender <%s> is not the authenticated agent %s", from, s.agent)}
	}
	s.from = addr
	return nil
}

// Rcpt implements smtp.Session: only local agents receive mail here.
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.agent == "" {
		return errAuthRequired
	}
	addr, err := mailstore.NormalizeAddress(to)
	if err == nil {
		_, err = s.srv.mail.Agent(addr)
	}
	if err != nil {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: fmt.Sprintf("no such agent <%s> here", to)}
	}
	s.rcpts = append(s.rcpts, addr)
	return nil
}

// Data implements smtp.Session. The reply is sent only after the marketplace
// has committed the delivery and its billing step.
func (s *session) Data(r io.Reader) error {
	start := time.Now()
	raw, err := io.ReadAll(r)
	if err != nil {
		return err // go-smtp answers 552 for oversize messages itself
	}
	res, err := s.submit(raw)
	s.logTransaction(res, len(raw), err, time.Since(start))
	return err
}

func (s *session) submit(raw []byte) (marketplace.Result, error) {
	if err := checkLineEndings(raw); err != nil {
		return marketplace.Result{}, err
	}
	if err := s.checkFrom(raw); err != nil {
		return marketplace.Result{}, err
	}
	res, err := s.srv.market.Submit(marketplace.Submission{
		Sender: s.agent, Recipients: s.rcpts, Raw: raw})
	var refusal *marketplace.Refusal
	switch {
	case errors.As(err, &refusal):
		return res, &smtp.SMTPError{Code: refusal.Code, EnhancedCode: enhanced(refusal.Enhanced),
			Message: refusal.Text}
	case errors.Is(err, syscall.ENOSPC):
		return res, &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1},
			Message: "insufficient system storage; try again later"}
	case err != nil:
		s.srv.log.Error("submit failed", "agent", s.agent, "err", err)
		return res, &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
			Message: "local error storing the message; try again later"}
	}
	return res, nil
}

// checkLineEndings refuses a bare CR or LF anywhere in the data: only CRLF
// ends a line (RFC 5321 section 2.3.8). Accepting them is what made SMTP
// smuggling possible, where servers disagreed on where a message ends.
func checkLineEndings(raw []byte) error {
	for i, c := range raw {
		bare := (c == '\n' && (i == 0 || raw[i-1] != '\r')) ||
			(c == '\r' && (i+1 == len(raw) || raw[i+1] != '\n'))
		if bare {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 5, 2},
				Message: fmt.Sprintf("bare CR or LF at byte %d: lines must end with CRLF", i)}
		}
	}
	return nil
}

// checkFrom requires every address in every From: field to be the agent's.
func (s *session) checkFrom(raw []byte) error {
	fields, _ := rawmsg.ScanHeader(raw)
	for _, v := range rawmsg.Values(fields, "From") {
		list, err := mail.ParseAddressList(v)
		if err != nil {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
				Message: fmt.Sprintf("unreadable From: header %q", v)}
		}
		for _, a := range list {
			if !strings.EqualFold(a.Address, s.agent) {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
					Message: fmt.Sprintf("From: <%s> is not the authenticated agent %s",
						a.Address, s.agent)}
			}
		}
	}
	return nil
}

func enhanced(code string) smtp.EnhancedCode {
	var e smtp.EnhancedCode
	if _, err := fmt.Sscanf(code, "%d.%d.%d", &e[0], &e[1], &e[2]); err != nil {
		return smtp.EnhancedCode{5, 0, 0}
	}
	return e
}

// logTransaction writes the one line per finished transaction. It never logs
// a password or a body.
func (s *session) logTransaction(res marketplace.Result, size int, err error, d time.Duration) {
	code := 250
	var smtpErr *smtp.SMTPError
	if errors.As(err, &smtpErr) {
		code = smtpErr.Code
	}
	billingStep := res.Kind
	if res.Repeat {
		billingStep += " (repeat)"
	}
	s.srv.log.Info("transaction", "agent", s.agent, "remote", s.remote,
		"recipients", strings.Join(s.rcpts, ","), "size", size, "request_id", res.RequestID,
		"billing", billingStep, "amount", amountOf(res), "currency", res.Currency,
		"code", code, "duration", d.Round(time.Microsecond))
}

func amountOf(res marketplace.Result) string {
	switch res.Kind {
	case marketplace.KindRequest:
		return res.Reserved.String()
	case marketplace.KindResponse:
		return res.Charged.String()
	}
	return ""
}

// Reset implements smtp.Session.
func (s *session) Reset() {
	s.from = ""
	s.rcpts = nil
}

// Logout implements smtp.Session.
func (s *session) Logout() error { return nil }
