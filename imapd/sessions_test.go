package imapd

import (
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func selectInbox(t *testing.T, c *imapclient.Client) *imap.SelectData {
	t.Helper()
	data, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func storeFlags(t *testing.T, c *imapclient.Client, set imap.NumSet, op imap.StoreFlagsOp,
	flags ...imap.Flag) {
	t.Helper()
	sf := &imap.StoreFlags{Op: op, Silent: true, Flags: flags}
	if err := c.Store(set, sf, nil).Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTwoSessionsStoreAndExpunge(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	for _, s := range []string{"one", "two", "three"} {
		e.deliver("seller", "INBOX", msg(s, s))
	}
	a, _ := e.dial("seller")
	b, evB := e.dial("seller")
	selectInbox(t, a)
	selectInbox(t, b)

	storeFlags(t, a, imap.SeqSetNum(2), imap.StoreFlagsAdd, imap.FlagFlagged)
	if err := b.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	// imapclient hands unilateral FETCH to its handler in a goroutine.
	waitFor(t, "FETCH FLAGS for 2 in B", func() bool {
		evB.mu.Lock()
		defer evB.mu.Unlock()
		return slices.Contains(evB.flags[2], imap.FlagFlagged)
	})

	storeFlags(t, a, imap.SeqSetNum(1), imap.StoreFlagsAdd, imap.FlagDeleted)
	if err := a.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	// Before B polls, its sequence numbers still include message 1
	// (FETCH may not carry EXPUNGE, RFC 9051 section 7.5.1).
	m := fetchAll(t, b, imap.SeqSetNum(3), &imap.FetchOptions{UID: true})
	if len(m) != 1 || m[0].UID != 3 || m[0].SeqNum != 3 {
		t.Fatalf("B FETCH 3 before NOOP: %+v", m)
	}
	if err := b.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	evB.mu.Lock()
	expunges := slices.Clone(evB.expunges)
	evB.mu.Unlock()
	if !slices.Equal(expunges, []uint32{1}) {
		t.Fatalf("B EXPUNGE responses %v, want [1]", expunges)
	}
	m = fetchAll(t, b, imap.SeqSetNum(1, 2), &imap.FetchOptions{UID: true, Flags: true})
	if len(m) != 2 || m[0].UID != 2 || m[1].UID != 3 ||
		!slices.Contains(m[0].Flags, imap.FlagFlagged) {
		t.Fatalf("B FETCH 1:2 after EXPUNGE: %+v", m)
	}
}

func TestExpungeWhileOtherSessionHasNewMail(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	e.deliver("seller", "INBOX", msg("one", "1"))
	a, _ := e.dial("seller")
	b, _ := e.dial("seller")
	selectInbox(t, a)
	selectInbox(t, b)
	e.deliver("seller", "INBOX", msg("two", "2"))
	storeFlags(t, a, imap.SeqSetNum(1), imap.StoreFlagsAdd, imap.FlagDeleted)
	if err := a.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	m := fetchAll(t, b, imap.SeqSetNum(1), &imap.FetchOptions{UID: true})
	if len(m) != 1 || m[0].UID != 2 {
		t.Fatalf("B FETCH 1: %+v", m)
	}
}

func TestCopyMove(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	for _, s := range []string{"one", "two", "three"} {
		e.deliver("seller", "INBOX", msg(s, s))
	}
	c, ev := e.dial("seller")
	selectInbox(t, c)
	cd, err := c.Copy(imap.SeqSetNum(1, 2), "Archive").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if cd.UIDValidity == 0 || cd.SourceUIDs.String() != "1:2" || cd.DestUIDs.String() != "1:2" {
		t.Fatalf("COPYUID %+v", cd)
	}
	md, err := c.Move(imap.UIDSetNum(3), "Trash").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if md.SourceUIDs.String() != "3" || md.DestUIDs.String() != "1" {
		t.Fatalf("MOVE COPYUID %+v", md)
	}
	ev.mu.Lock()
	expunges := slices.Clone(ev.expunges)
	ev.mu.Unlock()
	if !slices.Equal(expunges, []uint32{3}) {
		t.Fatalf("MOVE EXPUNGE %v", expunges)
	}
	for name, want := range map[string]uint32{"INBOX": 2, "Archive": 2, "Trash": 1} {
		st, err := c.Status(name, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil || *st.NumMessages != want {
			t.Errorf("%s: STATUS %+v %v, want %d messages", name, st, err, want)
		}
	}
	if _, err := c.Copy(imap.SeqSetNum(1), "Nowhere").Wait(); err == nil {
		t.Error("COPY to a missing mailbox succeeded")
	}
}

func TestSearch(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	e.deliver("seller", "INBOX", msg("invoice 42", "please pay"))
	e.deliver("seller", "INBOX", msg("hello", "the quick brown fox"))
	e.deliver("seller", "INBOX", "Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\nbroken\xff")
	c, _ := e.dial("seller")
	selectInbox(t, c)
	storeFlags(t, c, imap.SeqSetNum(2), imap.StoreFlagsAdd, imap.FlagSeen)

	tests := []struct {
		name     string
		criteria imap.SearchCriteria
		want     []uint32
	}{
		{"all", imap.SearchCriteria{}, []uint32{1, 2, 3}},
		{"subject", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{
			{Key: "Subject", Value: "INVOICE"}}}, []uint32{1}},
		{"encoded subject", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{
			{Key: "Subject", Value: "café"}}}, []uint32{3}},
		{"body", imap.SearchCriteria{Body: []string{"brown"}}, []uint32{2}},
		{"text", imap.SearchCriteria{Text: []string{"invoice"}}, []uint32{1}},
		{"seen", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, []uint32{2}},
		{"unseen", imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, []uint32{1, 3}},
		{"not", imap.SearchCriteria{Not: []imap.SearchCriteria{{Body: []string{"pay"}}}},
			[]uint32{2, 3}},
		{"or", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{
			{Body: []string{"fox"}}, {Flag: []imap.Flag{imap.FlagSeen}}}}}, []uint32{2}},
		{"uid", imap.SearchCriteria{UID: []imap.UIDSet{imap.UIDSetNum(2, 3)}}, []uint32{2, 3}},
		{"larger", imap.SearchCriteria{Larger: 100}, []uint32{1, 2}},
		{"sent since", imap.SearchCriteria{SentSince: time.Date(2006, 1, 2, 0, 0, 0, 0,
			time.UTC)}, []uint32{1, 2}},
		{"since tomorrow", imap.SearchCriteria{Since: time.Now().AddDate(0, 0, 2)}, nil},
	}
	for _, tt := range tests {
		data, err := c.UIDSearch(&tt.criteria, nil).Wait()
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var got []uint32
		for _, uid := range data.AllUIDs() {
			got = append(got, uint32(uid))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: UIDs %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRestartKeepsUIDs(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir, "seller")
	e.deliver("seller", "INBOX", msg("one", "1"))
	e.deliver("seller", "INBOX", msg("two", "2"))
	c, _ := e.dial("seller")
	before := selectInbox(t, c)
	c.Close()
	e.stop()

	e2 := newEnv(t, dir)
	e2.deliver("seller", "INBOX", msg("three", "3"))
	c2, _ := e2.dial("seller")
	after := selectInbox(t, c2)
	if after.UIDValidity != before.UIDValidity || after.UIDNext != 4 {
		t.Fatalf("after restart: UIDVALIDITY %d (was %d), UIDNEXT %d",
			after.UIDValidity, before.UIDValidity, after.UIDNext)
	}
	m := fetchAll(t, c2, imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{UID: true})
	if len(m) != 3 || m[0].UID != 1 || m[2].UID != 3 {
		t.Fatalf("UIDs after restart: %+v", m)
	}
}

func TestFoldersCreateRenameDelete(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	e.deliver("seller", "INBOX", msg("one", "1"))
	c, _ := e.dial("seller")
	steps := []struct {
		name string
		run  func() error
		ok   bool
	}{
		{"create", func() error { return c.Create("Work/Clients", nil).Wait() }, true},
		{"create again", func() error { return c.Create("Work/Clients", nil).Wait() }, false},
		{"rename", func() error { return c.Rename("Work", "Job", nil).Wait() }, true},
		{"delete INBOX", func() error { return c.Delete("INBOX").Wait() }, false},
		{"delete", func() error { return c.Delete("Job/Clients").Wait() }, true},
		{"delete missing", func() error { return c.Delete("Work").Wait() }, false},
		{"rename INBOX", func() error { return c.Rename("INBOX", "Old", nil).Wait() }, true},
		{"unsubscribe", func() error { return c.Unsubscribe("Old").Wait() }, true},
	}
	for _, s := range steps {
		if err := s.run(); (err == nil) != s.ok {
			t.Fatalf("%s: err=%v, want ok=%v", s.name, err, s.ok)
		}
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Mailbox)
	}
	want := []string{"INBOX", "Archive", "Drafts", "Job", "Junk", "Old", "Sent", "Trash"}
	if !slices.Equal(names, want) {
		t.Fatalf("LIST after renames: %v, want %v", names, want)
	}
	for name, n := range map[string]uint32{"INBOX": 0, "Old": 1} {
		st, err := c.Status(name, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil || *st.NumMessages != n {
			t.Errorf("%s after renaming INBOX: %+v %v", name, st, err)
		}
	}
	subs, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	isOld := func(l *imap.ListData) bool { return l.Mailbox == "Old" }
	if err != nil || slices.ContainsFunc(subs, isOld) {
		t.Fatalf("LIST (SUBSCRIBED) still has Old: %v", err)
	}
}
