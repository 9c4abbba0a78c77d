package imapd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"agentmail/mailstore"
)

// session is one IMAP connection. The library calls its methods from the
// connection's goroutine, one command at a time (Idle runs in a second
// goroutine while the first waits for DONE).
type session struct {
	srv     *Server
	conn    *imapserver.Conn
	remote  string
	addrKey string // what the login guard counts, see authguard.AddrKey
	started time.Time

	agent string // empty until login

	// mu guards sel: the library may close the session while the
	// goroutine running Idle is still winding down.
	mu  sync.Mutex
	sel *selection // nil unless a mailbox is selected
}

func (sess *session) selected() *selection {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.sel
}

func (sess *session) setSelected(sel *selection) {
	sess.mu.Lock()
	sess.sel = sel
	sess.mu.Unlock()
}

// selection is the selected mailbox of a session.
type selection struct {
	name      string
	lm        *liveMailbox
	tracker   *imapserver.SessionTracker
	readOnly  bool
	searchRes imap.UIDSet   // saved by SEARCH RETURN (SAVE), RFC 5182
	wake      chan struct{} // poked when updates are queued, capacity 1

	// pending counts updates queued to tracker since it was last emptied,
	// and expunges those that are EXPUNGEs; both guarded by lm.mu. While
	// pending is zero the session's view is the live one.
	pending, expunges int
}

// poll writes the session's queued updates. The counts are cleared before
// the queue is drained, under lm.mu, so an update queued meanwhile is
// counted again: pending may be too high, never too low.
func (sel *selection) poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	sel.lm.mu.Lock()
	if allowExpunge || sel.expunges == 0 {
		sel.pending, sel.expunges = 0, 0
	}
	sel.lm.mu.Unlock()
	return sel.tracker.Poll(w, allowExpunge)
}

func (sess *session) logger() *slog.Logger {
	return sess.srv.log.With("agent", sess.agent, "remote", sess.remote)
}

// Close implements imapserver.Session.
func (sess *session) Close() error {
	sess.unselect()
	sess.srv.forgetSession(sess)
	if sess.agent != "" {
		sess.logger().Info("imap session closed", "duration", time.Since(sess.started))
	}
	return nil
}

// Login implements imapserver.Session. A bare id means id@Domain.
func (sess *session) Login(username, password string) error {
	address, err := mailstore.ResolveAgent(username, sess.srv.cfg.Domain)
	account := address
	if err != nil {
		account = strings.ToLower(username)
	}
	guard, now := sess.srv.cfg.Guard, time.Now()
	if guard != nil {
		if until := guard.BlockedUntil(sess.addrKey, account, now); !until.IsZero() {
			sess.srv.log.Warn("imap login refused: blocked", "remote", sess.remote)
			return &imap.Error{Type: imap.StatusResponseTypeNo,
				Code: imap.ResponseCodeUnavailable,
				Text: fmt.Sprintf("too many failed logins; try again in %s",
					until.Sub(now).Round(time.Second))}
		}
	}
	if err != nil || !sess.srv.ms.Authenticate(address, password) {
		var delay time.Duration
		if guard != nil {
			_, delay, _ = guard.Fail(sess.addrKey, account, now)
		}
		sess.srv.log.Warn("imap login failed", "agent", address, "remote", sess.remote,
			"delay", delay)
		time.Sleep(delay)
		return imapserver.ErrAuthFailed
	}
	if guard != nil {
		guard.Succeed(account)
	}
	sess.agent = address
	sess.started = time.Now()
	sess.logger().Info("imap login")
	return nil
}

// Unauthenticate implements imapserver.SessionUnauthenticate (RFC 8437).
func (sess *session) Unauthenticate() error {
	sess.unselect()
	sess.agent = ""
	return nil
}

// Namespace implements imapserver.SessionNamespace: one personal namespace
// with no prefix (RFC 2342 section 5).
func (sess *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{
		Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: mailstore.Delimiter}},
	}, nil
}

// AppendLimit implements imapserver.SessionAppendLimit (RFC 7889).
func (sess *session) AppendLimit() uint32 { return appendSizeMax }

// Poll implements imapserver.Session.
func (sess *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if sess.sel == nil {
		return nil
	}
	if err := sess.checkGone(); err != nil {
		return err
	}
	return sess.sel.poll(w, allowExpunge)
}

// Idle implements imapserver.Session (RFC 2177). Without a selected
// mailbox it only waits for DONE.
func (sess *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	sel := sess.selected()
	if sel == nil {
		<-stop
		return nil
	}
	for {
		if err := sel.poll(w, true); err != nil {
			return err
		}
		select {
		case <-sel.wake:
		case <-stop:
			return nil
		case <-sel.lm.gone:
			return sess.bye(sel)
		}
	}
}

// checkGone ends the session when its selected mailbox was deleted or
// renamed by another session: the sequence numbers it knows no longer
// name anything (compare RFC 9051 section 6.3.4 on deleting a selected
// mailbox).
// TODO: a gentler answer would be to expunge everything and refuse the
// next commands with NO [NONEXISTENT].
func (sess *session) checkGone() error {
	select {
	case <-sess.sel.lm.gone:
		return sess.bye(sess.sel)
	default:
		return nil
	}
}

func (sess *session) bye(sel *selection) error {
	_ = sess.conn.Bye("Mailbox " + sel.name + " was deleted or renamed")
	return net.ErrClosed
}

// unselect leaves the selected mailbox, if any.
func (sess *session) unselect() {
	if sess.sel == nil {
		return
	}
	sel := sess.sel
	sess.setSelected(nil)
	sel.lm.mu.Lock()
	delete(sel.lm.watchers, sel)
	sel.tracker.Close()
	sel.lm.mu.Unlock()
	sess.srv.release(sel.lm)
}

// Unselect implements imapserver.Session (CLOSE and UNSELECT). CLOSE's
// silent expunge is done by the library through Expunge before this.
func (sess *session) Unselect() error {
	sess.unselect()
	return nil
}

// mailboxName checks a client-supplied name and returns its stored form.
func mailboxName(name string) (string, error) {
	name = mailstore.CanonicalName(strings.TrimSuffix(name, string(mailstore.Delimiter)))
	if err := mailstore.CheckMailboxName(name); err != nil {
		return "", &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
			Text: err.Error()}
	}
	return name, nil
}

// storeError turns a mailstore error into the answer the client gets;
// unexpected errors are logged and answered with SERVERBUG.
func (sess *session) storeError(op string, err error) error {
	no := func(code imap.ResponseCode, text string) error {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: text}
	}
	switch {
	case errors.Is(err, mailstore.ErrNoMailbox):
		return no(imap.ResponseCodeNonExistent, "No such mailbox")
	case errors.Is(err, mailstore.ErrMailboxExists):
		return no(imap.ResponseCodeAlreadyExists, "Mailbox already exists")
	case errors.Is(err, mailstore.ErrInboxDelete):
		return no(imap.ResponseCodeCannot, "INBOX cannot be deleted")
	case errors.Is(err, mailstore.ErrOverQuota):
		// RFC 9208 section 4.1.4 (first defined by RFC 5530 section 3).
		return no(imap.ResponseCodeOverQuota, "Storage quota exceeded")
	}
	sess.logger().Error("imap "+op, "err", err)
	return no(imap.ResponseCodeServerBug, op+" failed")
}

// errReadOnly answers changes in a mailbox opened with EXAMINE
// (RFC 9051 section 6.3.3).
var errReadOnly = &imap.Error{
	Type: imap.StatusResponseTypeNo,
	Code: imap.ResponseCodeCannot,
	Text: "Mailbox is read-only",
}
