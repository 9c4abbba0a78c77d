package imapd

import (
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"agentmail/mailstore"
)

// errInUse refuses to delete or rename the mailbox this session has
// selected; the client should UNSELECT it first.
var errInUse = &imap.Error{
	Type: imap.StatusResponseTypeNo,
	Code: imap.ResponseCodeInUse,
	Text: "Mailbox is selected; UNSELECT it first",
}

// creatableUses are the special uses CREATE may give a mailbox: those
// that name what a mailbox holds rather than a virtual view (\All,
// \Flagged), which this server does not build.
var creatableUses = []imap.MailboxAttr{imap.MailboxAttrArchive, imap.MailboxAttrDrafts,
	imap.MailboxAttrJunk, imap.MailboxAttrSent, imap.MailboxAttrTrash}

// Create implements imapserver.Session. Missing superiors are created too
// (RFC 9051 section 6.3.4), and USE gives the mailbox a special use (RFC
// 6154 section 3, CREATE-SPECIAL-USE).
func (sess *session) Create(name string, options *imap.CreateOptions) error {
	name, err := mailboxName(name)
	if err != nil {
		return err
	}
	use, err := specialUse(options)
	if err != nil {
		return err
	}
	levels := strings.Split(name, string(mailstore.Delimiter))
	for i := 1; i < len(levels); i++ {
		parent := strings.Join(levels[:i], string(mailstore.Delimiter))
		err := sess.srv.ms.CreateMailbox(sess.agent, parent, "")
		if err != nil && !errors.Is(err, mailstore.ErrMailboxExists) {
			return sess.storeError("create", err)
		}
	}
	if err := sess.srv.ms.CreateMailbox(sess.agent, name, use); err != nil {
		return sess.storeError("create", err)
	}
	return nil
}

// specialUse checks CREATE's USE list: a mailbox has at most one use, and
// it must be one of creatableUses, or the answer is NO [USEATTR].
func specialUse(options *imap.CreateOptions) (string, error) {
	if options == nil || len(options.SpecialUse) == 0 {
		return "", nil
	}
	useAttr := &imap.Error{Type: imap.StatusResponseTypeNo, Code: "USEATTR",
		Text: "Only one of \\Archive \\Drafts \\Junk \\Sent \\Trash may be given"}
	if len(options.SpecialUse) > 1 {
		return "", useAttr
	}
	for _, a := range creatableUses {
		if strings.EqualFold(string(a), string(options.SpecialUse[0])) {
			return string(a), nil
		}
	}
	return "", useAttr
}

// Delete implements imapserver.Session.
func (sess *session) Delete(name string) error {
	name, err := mailboxName(name)
	if err != nil {
		return err
	}
	if sess.sel != nil && sess.sel.name == name {
		return errInUse
	}
	if err := sess.srv.ms.DeleteMailbox(sess.agent, name); err != nil {
		return sess.storeError("delete", err)
	}
	return nil
}

// Rename implements imapserver.Session. Renaming INBOX moves its messages
// to the new mailbox and leaves INBOX empty (RFC 9051 section 6.3.6).
func (sess *session) Rename(oldName, newName string, _ *imap.RenameOptions) error {
	oldName, err := mailboxName(oldName)
	if err != nil {
		return err
	}
	newName, err = mailboxName(newName)
	if err != nil {
		return err
	}
	if strings.HasPrefix(newName, oldName+string(mailstore.Delimiter)) {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
			Text: "Cannot rename a mailbox into itself"}
	}
	if sess.sel != nil && oldName != mailstore.Inbox &&
		(sess.sel.name == oldName ||
			strings.HasPrefix(sess.sel.name, oldName+string(mailstore.Delimiter))) {
		return errInUse
	}
	if err := sess.srv.ms.RenameMailbox(sess.agent, oldName, newName); err != nil {
		return sess.storeError("rename", err)
	}
	return nil
}

// Subscribe implements imapserver.Session.
func (sess *session) Subscribe(name string) error { return sess.subscribe(name, true) }

// Unsubscribe implements imapserver.Session.
func (sess *session) Unsubscribe(name string) error { return sess.subscribe(name, false) }

func (sess *session) subscribe(name string, on bool) error {
	name, err := mailboxName(name)
	if err != nil {
		return err
	}
	if err := sess.srv.ms.SetSubscribed(sess.agent, name, on); err != nil {
		return sess.storeError("subscribe", err)
	}
	return nil
}

// List implements imapserver.Session (LIST, LSUB, LIST-EXTENDED RFC 5258,
// LIST-STATUS RFC 5819, SPECIAL-USE RFC 6154, CHILDREN RFC 3348).
func (sess *session) List(w *imapserver.ListWriter, ref string, patterns []string,
	options *imap.ListOptions) error {
	patterns = slices.DeleteFunc(slices.Clone(patterns), func(p string) bool { return p == "" })
	if len(patterns) == 0 {
		// RFC 9051 section 6.3.9: an empty pattern asks for the delimiter.
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect},
			Delim: mailstore.Delimiter})
	}
	infos, err := sess.srv.ms.Mailboxes(sess.agent)
	if err != nil {
		return sess.storeError("list", err)
	}
	tree := newMailboxTree(infos)
	for _, name := range tree.names {
		if !matchAny(name, ref, patterns, tree.exists(name)) {
			continue
		}
		data := sess.listData(tree, name, options)
		if data == nil {
			continue
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// matchAny matches a name against the patterns. Superiors that exist only
// as a level of others' names are listed for "%" patterns, the way RFC
// 3501 section 6.3.8 describes; "*" lists their inferiors instead.
func matchAny(name, ref string, patterns []string, exists bool) bool {
	for _, p := range patterns {
		if !exists && strings.Contains(p, "*") {
			continue
		}
		if imapserver.MatchList(name, mailstore.Delimiter, ref, p) {
			return true
		}
	}
	return false
}

func (sess *session) listData(tree *mailboxTree, name string,
	options *imap.ListOptions) *imap.ListData {
	info, exists := tree.infos[name]
	var childInfo *imap.ListDataChildInfo
	if options.SelectSubscribed && !info.Subscribed {
		// RFC 5258 section 3.5: with RECURSIVEMATCH, a mailbox that is not
		// subscribed is still listed, with CHILDINFO, when an inferior is.
		if !options.SelectRecursiveMatch || !tree.hasSubscribedInferior(name) {
			return nil
		}
		childInfo = &imap.ListDataChildInfo{Subscribed: true}
	}
	if options.SelectSpecialUse && info.SpecialUse == "" {
		return nil
	}
	data := &imap.ListData{Mailbox: name, Delim: mailstore.Delimiter, ChildInfo: childInfo}
	if !exists {
		data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect)
	}
	if tree.hasChildren(name) {
		data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
	} else {
		data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
	}
	if info.Subscribed && (options.ReturnSubscribed || options.SelectSubscribed) {
		data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
	}
	if info.SpecialUse != "" {
		data.Attrs = append(data.Attrs, imap.MailboxAttr(info.SpecialUse))
	}
	if options.ReturnStatus != nil && exists {
		st, err := sess.status(name)
		if err == nil {
			data.Status = st
		}
	}
	return data
}

// mailboxTree is an agent's mailboxes with the superiors their names imply.
type mailboxTree struct {
	infos map[string]mailstore.MailboxInfo
	names []string // INBOX first, then in name order; implied superiors too
}

func newMailboxTree(infos []mailstore.MailboxInfo) *mailboxTree {
	t := &mailboxTree{infos: make(map[string]mailstore.MailboxInfo, len(infos))}
	seen := make(map[string]bool)
	for _, info := range infos {
		t.infos[info.Name] = info
		levels := strings.Split(info.Name, string(mailstore.Delimiter))
		for i := 1; i <= len(levels); i++ {
			n := strings.Join(levels[:i], string(mailstore.Delimiter))
			if !seen[n] {
				seen[n] = true
				t.names = append(t.names, n)
			}
		}
	}
	slices.SortFunc(t.names, func(a, b string) int {
		switch {
		case a == mailstore.Inbox:
			return -1
		case b == mailstore.Inbox:
			return 1
		}
		return strings.Compare(a, b)
	})
	return t
}

func (t *mailboxTree) exists(name string) bool {
	_, ok := t.infos[name]
	return ok
}

func (t *mailboxTree) hasSubscribedInferior(name string) bool {
	prefix := name + string(mailstore.Delimiter)
	for n, info := range t.infos {
		if strings.HasPrefix(n, prefix) && info.Subscribed {
			return true
		}
	}
	return false
}

func (t *mailboxTree) hasChildren(name string) bool {
	prefix := name + string(mailstore.Delimiter)
	for _, n := range t.names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// Status implements imapserver.Session. Every item is filled whether asked
// or not: the library writes the ones asked for.
func (sess *session) Status(name string, _ *imap.StatusOptions) (*imap.StatusData, error) {
	name, err := mailboxName(name)
	if err != nil {
		return nil, err
	}
	data, err := sess.status(name)
	if err != nil {
		return nil, sess.storeError("status", err)
	}
	return data, nil
}

func (sess *session) status(name string) (*imap.StatusData, error) {
	st, err := sess.srv.ms.Status(sess.agent, name)
	if err != nil {
		return nil, err
	}
	var recent uint32 // \Recent is not kept; IMAP4rev2 dropped it
	limit := uint32(appendSizeMax)
	return &imap.StatusData{
		Mailbox:        st.Name,
		NumMessages:    &st.Messages,
		NumRecent:      &recent,
		UIDNext:        imap.UID(st.UIDNext),
		UIDValidity:    st.UIDValidity,
		NumUnseen:      &st.Unseen,
		NumDeleted:     &st.Deleted,
		Size:           &st.Size,
		AppendLimit:    &limit,
		DeletedStorage: &st.DeletedSize,
	}, nil
}

// Append implements imapserver.Session, answering with APPENDUID (RFC 4315
// section 3).
func (sess *session) Append(name string, r imap.LiteralReader,
	options *imap.AppendOptions) (*imap.AppendData, error) {
	name, err := mailboxName(name)
	if err != nil {
		return nil, err
	}
	// TODO: APPEND holds the whole literal (up to APPENDLIMIT) in memory and
	// stores it inside the database; large bodies should go to a blob file
	// as they do over SMTP (smtpd's spool), or one APPEND can cost 50 MiB.
	raw, err := io.ReadAll(io.LimitReader(r, appendSizeMax+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > appendSizeMax {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig,
			Text: "Message too big"}
	}
	d := mailstore.Delivery{Agent: sess.agent, Mailbox: name, Raw: raw,
		Flags: storableFlags(options.Flags), Date: options.Time}
	validity, uid, err := sess.srv.ms.Append(d)
	if errors.Is(err, mailstore.ErrNoMailbox) {
		// RFC 9051 section 6.3.12: TRYCREATE when the target is missing.
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo,
			Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	}
	if err != nil {
		return nil, sess.storeError("append", err)
	}
	return &imap.AppendData{UIDValidity: validity, UID: imap.UID(uid)}, nil
}
