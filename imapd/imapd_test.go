package imapd

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func TestLogin(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller", "buyer")
	tests := []struct {
		user, password string
		ok             bool
	}{
		{"seller", testPassword, true},
		{"seller@example.com", testPassword, true},
		{"Seller@Example.COM", testPassword, true},
		{"seller", "wrong password", false},
		{"nobody", testPassword, false},
		{"not an address@", testPassword, false},
	}
	for _, tt := range tests {
		c, err := imapclient.DialInsecure(e.addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Login(tt.user, tt.password).Wait()
		if (err == nil) != tt.ok {
			t.Errorf("login %q/%q: err=%v, want ok=%v", tt.user, tt.password, err, tt.ok)
		}
		c.Close()
	}
}

func TestAgentsAreIsolated(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller", "buyer")
	seller, _ := e.dial("seller")
	if err := seller.Create("Secret", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	buyer, _ := e.dial("buyer")
	list, err := buyer.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if l.Mailbox == "Secret" {
			t.Fatal("buyer sees seller's mailbox")
		}
	}
	if _, err := buyer.Select("Secret", nil).Wait(); err == nil {
		t.Fatal("buyer selected seller's mailbox")
	}
	if _, err := buyer.Status("Secret", &imap.StatusOptions{NumMessages: true}).Wait(); err == nil {
		t.Fatal("buyer got STATUS of seller's mailbox")
	}
}

func TestAppendFetchByteExact(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	c, _ := e.dial("seller")
	date := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	raws := [][]byte{
		[]byte(msg("hello", "plain body")),
		[]byte("no blank line, no header either"),
		[]byte("Subject: caf\xe9 8-bit\r\nBad header line\r\n\r\n\xff\xfe body\n bare LF\r\n"),
		[]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nno end"),
	}
	for i, raw := range raws {
		cmd := c.Append("Drafts", int64(len(raw)), &imap.AppendOptions{
			Flags: []imap.Flag{imap.FlagDraft, "$Custom"}, Time: date})
		if _, err := cmd.Write(raw); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := cmd.Wait()
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if data.UID != imap.UID(i+1) || data.UIDValidity == 0 {
			t.Fatalf("append %d: APPENDUID %+v", i, data)
		}
	}
	if _, err := c.Select("Drafts", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	section := &imap.FetchItemBodySection{Peek: true}
	msgs := fetchAll(t, c, imap.SeqSetNum(1, 2, 3, 4), &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true, RFC822Size: true, Envelope: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection: []*imap.FetchItemBodySection{section,
			{Specifier: imap.PartSpecifierHeader, Peek: true},
			{Specifier: imap.PartSpecifierText, Peek: true},
			{Part: []int{1}, Peek: true}},
		BinarySection: []*imap.FetchItemBinarySection{{Part: []int{1}, Peek: true}},
	})
	if len(msgs) != len(raws) {
		t.Fatalf("fetched %d messages, want %d", len(msgs), len(raws))
	}
	for i, m := range msgs {
		if got := m.FindBodySection(section); !bytes.Equal(got, raws[i]) {
			t.Errorf("message %d: BODY[] = %q, want %q", i+1, got, raws[i])
		}
		if m.RFC822Size != int64(len(raws[i])) || !m.InternalDate.Equal(date) {
			t.Errorf("message %d: size %d date %v", i+1, m.RFC822Size, m.InternalDate)
		}
		if !slices.Contains(m.Flags, imap.FlagDraft) || !slices.Contains(m.Flags, "$Custom") {
			t.Errorf("message %d: flags %v", i+1, m.Flags)
		}
	}
	if msgs[0].Envelope == nil || msgs[0].Envelope.Subject != "hello" {
		t.Errorf("envelope %+v", msgs[0].Envelope)
	}
}

func TestFetchBodySetsSeen(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	e.deliver("seller", "INBOX", msg("one", "body"))
	c, _ := e.dial("seller")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	m := fetchAll(t, c, imap.SeqSetNum(1), &imap.FetchOptions{
		BodySection: []*imap.FetchItemBodySection{{}}})
	if len(m) != 1 || !slices.Contains(m[0].Flags, imap.FlagSeen) {
		t.Fatalf("FETCH BODY[] did not report \\Seen: %+v", m)
	}
	st, err := e.ms.Status("seller@example.com", "INBOX")
	if err != nil || st.Unseen != 0 {
		t.Fatalf("unseen after FETCH BODY[]: %+v %v", st, err)
	}
}

func TestStatusAllItems(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	e.deliver("seller", "INBOX", msg("one", "a"))
	e.deliver("seller", "INBOX", msg("two", "bb"))
	c, _ := e.dial("seller")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagSeen, imap.FlagDeleted}}, nil).Close()
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true,
		UIDValidity: true, NumUnseen: true, NumDeleted: true, Size: true,
		AppendLimit: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(msg("one", "a")) + len(msg("two", "bb")))
	if *st.NumMessages != 2 || st.UIDNext != 3 || st.UIDValidity == 0 ||
		*st.NumUnseen != 1 || *st.NumDeleted != 1 || *st.Size != size {
		t.Fatalf("STATUS = %+v", st)
	}
	list, err := c.List("", "INBOX", &imap.ListOptions{
		ReturnStatus: &imap.StatusOptions{NumMessages: true, NumUnseen: true}}).Collect()
	if err != nil || len(list) != 1 || list[0].Status == nil || *list[0].Status.NumMessages != 2 {
		t.Fatalf("LIST-STATUS = %+v, %v", list, err)
	}
}

func TestListSpecialUseAndChildren(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	c, _ := e.dial("seller")
	if err := c.Create("Projects/2024/Q1", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	attrs := make(map[string][]imap.MailboxAttr)
	for _, l := range list {
		attrs[l.Mailbox] = l.Attrs
	}
	want := map[string]imap.MailboxAttr{
		"Sent": imap.MailboxAttrSent, "Drafts": imap.MailboxAttrDrafts,
		"Trash": imap.MailboxAttrTrash, "Junk": imap.MailboxAttrJunk,
		"Archive": imap.MailboxAttrArchive, "INBOX": imap.MailboxAttrHasNoChildren,
		"Projects": imap.MailboxAttrHasChildren, "Projects/2024/Q1": imap.MailboxAttrHasNoChildren,
	}
	for name, attr := range want {
		if !slices.Contains(attrs[name], attr) {
			t.Errorf("%s: attrs %v, want %s", name, attrs[name], attr)
		}
	}
	top, err := c.List("", "%", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 7 {
		t.Errorf("LIST %% returned %d mailboxes, want 7: %+v", len(top), top)
	}
	special, err := c.List("", "*", &imap.ListOptions{SelectSpecialUse: true}).Collect()
	if err != nil || len(special) != 5 {
		t.Errorf("LIST (SPECIAL-USE) = %d mailboxes, %v", len(special), err)
	}
}

func TestIdleWakesOnDelivery(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	c, ev := e.dial("seller")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e.deliver("seller", "INBOX", msg("wake up", "now"))
	waitFor(t, "EXISTS during IDLE", func() bool {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		return slices.Contains(ev.exists, 1)
	})
	if d := time.Since(start); d > time.Second {
		t.Errorf("IDLE woke after %v", d)
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestCloseSaysByeToIdle(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	c, _ := e.dial("seller")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Idle(); err != nil {
		t.Fatal(err)
	}
	e.stop()
	select {
	case <-c.Closed():
	case <-time.After(3 * time.Second):
		t.Fatal("client still connected after Close")
	}
}
