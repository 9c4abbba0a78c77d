package imapd

import (
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"agentmail/mailstore"
)

// selectCount selects mailbox and returns its message count and UIDNEXT.
func selectCount(t *testing.T, c *imapclient.Client, mailbox string) (uint32, imap.UID) {
	t.Helper()
	data, err := c.Select(mailbox, nil).Wait()
	if err != nil {
		t.Fatalf("select %s: %v", mailbox, err)
	}
	return data.NumMessages, data.UIDNext
}

func uidsOf(t *testing.T, c *imapclient.Client) []imap.UID {
	t.Helper()
	var all imap.SeqSet
	all.AddRange(1, 0)
	var out []imap.UID
	for _, m := range fetchAll(t, c, all, &imap.FetchOptions{UID: true}) {
		out = append(out, m.UID)
	}
	return out
}

// A mailbox left by every session keeps its state, and what happens to it
// meanwhile (deliveries, expunges) shows at the next
// SELECT as it would had it been read again.
func TestReselectSeesChangesWhileUnselected(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	for i := range 3 {
		e.deliver("seller", "INBOX", msg(fmt.Sprint("m", i), "x"))
	}
	c, _ := e.dial("seller@" + testDomain)
	if n, next := selectCount(t, c, "INBOX"); n != 3 || next != 4 {
		t.Fatalf("first select: %d messages, UIDNEXT %d", n, next)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	if e.srv.lookup("seller@"+testDomain, "INBOX") == nil {
		t.Fatal("the state of INBOX was forgotten at once")
	}

	e.deliver("seller", "INBOX", msg("m3", "x"))
	agent := "seller@" + testDomain
	if _, err := e.ms.StoreFlags(agent, "INBOX", []uint32{2}, mailstore.FlagsAdd,
		[]string{mailstore.FlagDeleted}, nil); err != nil {
		t.Fatal(err)
	}
	if gone, err := e.ms.Expunge(agent, "INBOX", nil); err != nil || len(gone) != 1 {
		t.Fatalf("expunge: %v, %v", gone, err)
	}
	if n, next := selectCount(t, c, "INBOX"); n != 3 || next != 5 {
		t.Fatalf("second select: %d messages, UIDNEXT %d; want 3 and 5", n, next)
	}
	if got := fmt.Sprint(uidsOf(t, c)); got != "[1 3 4]" {
		t.Errorf("UIDs after reselect %s, want [1 3 4]", got)
	}
}

// A mailbox deleted and made again while no session has it selected is
// read afresh.
func TestReselectAfterDeleteAndCreate(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	agent := "seller@" + testDomain
	if err := e.ms.CreateMailbox(agent, "Work", ""); err != nil {
		t.Fatal(err)
	}
	e.deliver("seller", "Work", msg("old", "x"))
	c, _ := e.dial(agent)
	selectCount(t, c, "Work")
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	if err := e.ms.DeleteMailbox(agent, "Work"); err != nil {
		t.Fatal(err)
	}
	if err := e.ms.CreateMailbox(agent, "Work", ""); err != nil {
		t.Fatal(err)
	}
	if n, _ := selectCount(t, c, "Work"); n != 0 {
		t.Fatalf("recreated Work has %d messages, want 0", n)
	}
	e.deliver("seller", "Work", msg("new", "x"))
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if got := len(uidsOf(t, c)); got != 1 {
		t.Errorf("recreated Work lists %d messages, want 1", got)
	}
}

// Only the latest liveIdleMax mailboxes left by every session are kept.
func TestIdleMailboxesBounded(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	agent := "seller@" + testDomain
	c, _ := e.dial(agent)
	names := make([]string, liveIdleMax+2)
	for i := range names {
		names[i] = fmt.Sprintf("box%03d", i)
		if err := e.ms.CreateMailbox(agent, names[i], ""); err != nil {
			t.Fatal(err)
		}
		selectCount(t, c, names[i])
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	e.srv.liveMu.Lock()
	defer e.srv.liveMu.Unlock()
	if kept, idle := len(e.srv.live), e.srv.idle.Len(); kept != liveIdleMax || idle != liveIdleMax {
		t.Errorf("%d mailboxes kept, %d idle; want %d", kept, idle, liveIdleMax)
	}
	for i, name := range names {
		_, ok := e.srv.live[mailboxKey{agent, name}]
		if want := i >= len(names)-liveIdleMax; ok != want {
			t.Errorf("%s kept %v, want %v", name, ok, want)
		}
	}
}
