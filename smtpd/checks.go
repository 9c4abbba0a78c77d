package smtpd

import (
	"fmt"
	"net/mail"

	"github.com/emersion/go-smtp"

	"agentmail/internal/rawmsg"
	"agentmail/mailstore"
)

func bareLineEnding(at int64) error {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 5, 2},
		Message: fmt.Sprintf("bare CR or LF at byte %d: lines must end with CRLF", at)}
}

// checkFrom requires every address in every From: field to be the agent's
// (RFC 6409 section 8 lets a submission server enforce this). A From: field
// with no address at all, such as an empty group, is refused too: RFC 5322
// section 3.6.2 requires at least one mailbox, and a bare display name
// would stand where the sender's address belongs.
func (s *session) checkFrom(fields []rawmsg.Field) error {
	for _, v := range rawmsg.Values(fields, "From") {
		list, err := mail.ParseAddressList(v)
		if err != nil {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
				Message: fmt.Sprintf("unreadable From: header %q", v)}
		}
		if len(list) == 0 {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
				Message: fmt.Sprintf("From: names no address; use %s", s.agent)}
		}
		for _, a := range list {
			// Compared after the same normalisation as the envelope, so no
			// Unicode case folding lets a look-alike address through.
			if addr, err := mailstore.NormalizeAddress(a.Address); err != nil || addr != s.agent {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
					Message: fmt.Sprintf("From: <%s> is not the authenticated agent %s",
						a.Address, s.agent)}
			}
		}
	}
	return nil
}
