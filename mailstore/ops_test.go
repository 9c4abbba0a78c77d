package mailstore

import (
	"slices"
	"sync"
	"testing"

	"agentmail/internal/store"
)

// recorder is an Observer that logs what it hears.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
}

func (r *recorder) Appended(_, mailbox string, uid uint32) {
	r.add("append " + mailbox + " " + string(rune('0'+uid)))
}

func (r *recorder) Expunged(_, mailbox string, uids []uint32) {
	for _, uid := range uids {
		r.add("expunge " + mailbox + " " + string(rune('0'+uid)))
	}
}

func (r *recorder) FlagsChanged(_, mailbox string, uid uint32, _ []string) {
	r.add("flags " + mailbox + " " + string(rune('0'+uid)))
}

func (r *recorder) MailboxGone(_, mailbox string) { r.add("gone " + mailbox) }

func newTestStore(t *testing.T) (*Store, *recorder) {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rec := &recorder{}
	ms, err := Open(db, rec)
	if err != nil {
		t.Fatal(err)
	}
	ms.SetPasswordCost(4)
	if err := ms.AddAgent("a@example.com", "password1"); err != nil {
		t.Fatal(err)
	}
	return ms, rec
}

func TestFlagsExpungeCopyMove(t *testing.T) {
	ms, rec := newTestStore(t)
	const agent = "a@example.com"
	for _, raw := range []string{"1", "22", "333"} {
		if _, _, err := ms.Append(Delivery{Agent: agent, Mailbox: Inbox, Raw: []byte(raw)}); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := ms.StoreFlags(agent, Inbox, []uint32{1, 2, 9}, FlagsAdd,
		[]string{FlagDeleted, `\seen`}, nil)
	if err != nil || len(msgs) != 2 || !HasFlag(msgs[0].Flags, `\Seen`) {
		t.Fatalf("StoreFlags = %+v, %v", msgs, err)
	}
	if _, err := ms.StoreFlags(agent, Inbox, []uint32{2}, FlagsRemove,
		[]string{`\DELETED`}, nil); err != nil {
		t.Fatal(err)
	}
	gone, err := ms.Expunge(agent, Inbox, nil)
	if err != nil || !slices.Equal(gone, []uint32{1}) {
		t.Fatalf("Expunge = %v, %v", gone, err)
	}
	res, err := ms.Copy(agent, Inbox, []uint32{3, 2, 1}, Archive, true)
	if err != nil || !slices.Equal(res.SourceUIDs, []uint32{2, 3}) ||
		!slices.Equal(res.DestUIDs, []uint32{1, 2}) || res.UIDValidity == 0 {
		t.Fatalf("Move = %+v, %v", res, err)
	}
	for name, want := range map[string]MailboxInfo{
		Inbox:   {Messages: 0, Size: 0},
		Archive: {Messages: 2, Size: 5, Unseen: 1},
	} {
		st, err := ms.Status(agent, name)
		if err != nil || st.Messages != want.Messages || st.Size != want.Size ||
			st.Unseen != want.Unseen {
			t.Errorf("%s: %+v, %v", name, st, err)
		}
	}
	want := []string{"append INBOX 1", "append INBOX 2", "append INBOX 3",
		"flags INBOX 1", "flags INBOX 2", "flags INBOX 2", "expunge INBOX 1",
		"append Archive 1", "append Archive 2", "expunge INBOX 2", "expunge INBOX 3"}
	if !slices.Equal(rec.events, want) {
		t.Fatalf("events %v\nwant   %v", rec.events, want)
	}
}

func TestRenameDelete(t *testing.T) {
	ms, rec := newTestStore(t)
	const agent = "a@example.com"
	for _, name := range []string{"W", "W/x"} {
		if err := ms.CreateMailbox(agent, name, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := ms.Append(Delivery{Agent: agent, Mailbox: "W/x", Raw: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	before, _ := ms.Mailbox(agent, "W/x")
	if err := ms.RenameMailbox(agent, "W", "V"); err != nil {
		t.Fatal(err)
	}
	after, err := ms.Mailbox(agent, "V/x")
	if err != nil || after.UIDValidity != before.UIDValidity || after.Messages != 1 {
		t.Fatalf("renamed inferior: %+v, %v", after, err)
	}
	if err := ms.RenameMailbox(agent, "V", "Sent"); err == nil {
		t.Fatal("rename onto an existing mailbox succeeded")
	}
	if err := ms.DeleteMailbox(agent, "inbox"); err == nil {
		t.Fatal("deleted INBOX")
	}
	if err := ms.DeleteMailbox(agent, "V"); err != nil {
		t.Fatal(err)
	}
	if _, err := ms.Mailbox(agent, "V/x"); err != nil {
		t.Fatalf("inferior gone with its superior: %v", err)
	}
	if !slices.Contains(rec.events, "gone W/x") || !slices.Contains(rec.events, "gone V") {
		t.Fatalf("events %v", rec.events)
	}
}
