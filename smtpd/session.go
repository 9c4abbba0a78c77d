package smtpd

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"

	"agentmail/internal/rawmsg"
	"agentmail/mailstore"
	"agentmail/marketplace"
)

// session is one SMTP connection's state.
type session struct {
	srv     *Server
	conn    *smtp.Conn
	remote  string
	addrKey string // what per-address limits count, see addrKey
	agent   string // authenticated address, "" before AUTH
	from    string
	rcpts   []string
}

// Mail implements smtp.Session: the envelope sender must be the agent, and
// the agent must be within its sending rate.
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.agent == "" {
		return errAuthRequired
	}
	addr, err := mailstore.NormalizeAddress(from)
	if err != nil || addr != s.agent {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: fmt.Sprintf("sender <%s> is not the authenticated agent %s", from, s.agent)}
	}
	if wait := s.srv.rate.take(s.agent, s.srv.now()); wait > 0 {
		wait = wait.Truncate(time.Second) + time.Second
		s.srv.log.Info("sending rate exceeded", "agent", s.agent, "remote", s.remote,
			"retry_in", wait)
		// RFC 3463 section 3.8: X.7.1, delivery not authorized (for now).
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1},
			Message: fmt.Sprintf("sending rate exceeded: at most %d messages a minute "+
				"(bursts of %d) for %s; try again in %s",
				s.srv.cfg.SendPerMinute, s.srv.rate.burst, s.agent, wait)}
	}
	s.from = addr
	return nil
}

// Rcpt implements smtp.Session: only local agents receive mail here. Agent
// addresses are ASCII by design, so an address with UTF-8 in it (RFC 6531)
// names no agent and gets the same answer as any unknown one.
//
// TODO: a UTF-8 domain (U-label) is not mapped to its A-label (RFC 5891),
// so agent@bücher.example does not reach an agent of xn--bcher-kva.example.
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
// The message is spooled with bounded memory (spool); a large body goes to a
// blob file that the deliveries share, and is removed again when the
// message is refused.
func (s *session) Data(r io.Reader) error {
	start := time.Now()
	sp, err := s.spool(r)
	var res marketplace.Result
	if err == nil && clientGone(s.conn.Conn()) {
		// The data may have been cut short; the client cannot hear a reply
		// and will send it again, so nothing is stored or billed.
		if sp.body.Name != "" {
			s.srv.mail.DB().DiscardBlob(sp.body)
		}
		err = errClientGone
	}
	if err != nil {
		err = s.readError(err)
	} else {
		res, err = s.submit(sp)
		if sp.body.Name != "" {
			s.srv.mail.DB().DiscardBlob(sp.body) // kept when delivered
		}
	}
	s.logTransaction(res, int(sp.size), err, time.Since(start))
	return err
}

var errClientGone = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 2},
	Message: "connection closed before the end of the message; nothing was accepted"}

// readError turns what go-smtp's data reader reports into a reply that
// says what to change.
func (s *session) readError(err error) error {
	switch {
	case errors.Is(err, smtp.ErrDataTooLarge):
		// TODO: go-smtp v0.26's DATA reader refuses a message of exactly
		// MaxMessageBytes (one less is the real limit over DATA; BDAT takes
		// the full SIZE). The fix belongs in the library's reader.
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
			Message: fmt.Sprintf("message exceeds the size limit of %d bytes",
				s.srv.cfg.MaxMessageBytes)}
	case errors.Is(err, smtp.ErrTooLongLine):
		// RFC 5321 section 4.5.3.1.10 names "500 Line too long". go-smtp
		// cannot resynchronise after an overlong line and closes the
		// connection after this reply.
		return &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2},
			Message: fmt.Sprintf("line too long: lines may be at most %d bytes "+
				"including CRLF", s.srv.smtp.MaxLineLength)}
	}
	return err
}

func (s *session) submit(sp spooled) (marketplace.Result, error) {
	fields, bodyStart := rawmsg.ScanHeader(sp.raw)
	if limit := s.srv.cfg.MaxHeaderBytes; limit > 0 && bodyStart > limit {
		return marketplace.Result{}, &smtp.SMTPError{Code: 552,
			EnhancedCode: smtp.EnhancedCode{5, 3, 4},
			Message: fmt.Sprintf("header section is %d bytes, more than the limit of %d",
				bodyStart, limit)}
	}
	if err := s.checkFrom(fields); err != nil {
		return marketplace.Result{}, err
	}
	res, err := s.srv.market.Submit(marketplace.Submission{
		Sender: s.agent, Recipients: s.rcpts, Raw: sp.raw, Body: sp.body})
	var refusal *marketplace.Refusal
	var quota *mailstore.QuotaError
	switch {
	case errors.As(err, &quota):
		// Nothing was written or billed: the quota check is inside the
		// same transaction as the reservation (RFC 3463 section 3.3).
		return res, &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2},
			Message: fmt.Sprintf("mailbox of %s is over its storage quota", quota.Agent)}
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
	switch {
	case errors.As(err, &smtpErr):
		code = smtpErr.Code
	case err != nil:
		code = 554 // what go-smtp answers for an error without a code
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
