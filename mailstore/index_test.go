package mailstore

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"agentmail/internal/store"
)

// recount computes a mailbox's counters from its messages, the slow way.
func recount(t *testing.T, ms *Store, agent, name string) MailboxInfo {
	t.Helper()
	msgs, err := ms.Messages(agent, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want MailboxInfo
	for _, m := range msgs {
		want.Messages++
		want.Size += m.Size
		if !HasFlag(m.Flags, FlagSeen) {
			want.Unseen++
		}
		if HasFlag(m.Flags, FlagDeleted) {
			want.Deleted++
			want.DeletedSize += m.Size
		}
	}
	return want
}

func checkCounters(t *testing.T, ms *Store, agent string, names ...string) {
	t.Helper()
	for _, name := range names {
		got, err := ms.Status(agent, name)
		if err != nil {
			t.Fatal(err)
		}
		want := recount(t, ms, agent, name)
		if got.Messages != want.Messages || got.Size != want.Size || got.Unseen != want.Unseen ||
			got.Deleted != want.Deleted || got.DeletedSize != want.DeletedSize {
			t.Fatalf("%s counters %+v, recount %+v", name, got, want)
		}
	}
}

func TestCountersFollowEveryChange(t *testing.T) {
	ms, _ := newTestStore(t)
	const agent = "a@example.com"
	for i, flags := range [][]string{nil, {FlagSeen}, {FlagDeleted, "$Label"}, {`\seen`}} {
		raw := []byte(string(rune('a'+i)) + " message")
		if _, _, err := ms.Append(Delivery{Agent: agent, Mailbox: Inbox, Raw: raw,
			Flags: flags}); err != nil {
			t.Fatal(err)
		}
	}
	checkCounters(t, ms, agent, Inbox)
	steps := []func() error{
		func() error {
			_, err := ms.StoreFlags(agent, Inbox, []uint32{1, 2}, FlagsAdd,
				[]string{FlagDeleted, FlagSeen}, nil)
			return err
		},
		func() error {
			_, err := ms.StoreFlags(agent, Inbox, []uint32{2}, FlagsReplace, nil, nil)
			return err
		},
		func() error { _, err := ms.Copy(agent, Inbox, []uint32{1, 2, 3}, Archive, false); return err },
		func() error { _, err := ms.Expunge(agent, Inbox, []uint32{3}); return err },
		func() error { _, err := ms.Copy(agent, Inbox, []uint32{4}, Trash, true); return err },
		func() error { _, err := ms.Expunge(agent, Archive, nil); return err },
		func() error { return ms.RenameMailbox(agent, Inbox, "Old") },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		checkCounters(t, ms, agent, Inbox, Archive, Trash)
	}
	checkCounters(t, ms, agent, "Old")
	info, _ := ms.Mailbox(agent, Archive)
	if !slices.Equal(info.Keywords, []string{"$Label"}) {
		t.Fatalf("Archive keywords %v", info.Keywords)
	}
	_, unseen, err := ms.Summary(agent, "Old")
	if err != nil || unseen != 2 {
		t.Fatalf("first unseen in Old: %d, %v", unseen, err)
	}
}

// TestOpenReindexesOldMailboxes writes a mailbox the way the first version
// did, JSON metadata and no indexes, and checks that Open brings it up to
// date.
func TestOpenReindexesOldMailboxes(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ms.SetPasswordCost(4)
	const agent = "a@example.com"
	if err := ms.AddAgent(agent, "password1"); err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *store.Tx) error {
		b, _ := mailboxBucket(tx.Tx, agent, Inbox)
		for _, sub := range [][]byte{bucketUnseen, bucketDeleted} {
			if err := b.DeleteBucket(sub); err != nil {
				return err
			}
		}
		for uid, flags := range map[uint32][]string{1: {FlagSeen}, 2: nil, 3: {FlagDeleted}} {
			meta, _ := json.Marshal(messageMeta{Flags: flags, Date: 1, Size: 5})
			if err := b.Bucket(bucketMeta).Put(uidKey(uid), meta); err != nil {
				return err
			}
			if err := b.Bucket(bucketRaw).Put(uidKey(uid), []byte("hello")); err != nil {
				return err
			}
		}
		return writeState(b, MailboxInfo{Name: Inbox, UIDValidity: 7, UIDNext: 4, Messages: 3,
			Size: 15})
	})
	if err != nil {
		t.Fatal(err)
	}
	if ms, err = Open(db, nil); err != nil {
		t.Fatal(err)
	}
	info, unseen, err := ms.Summary(agent, Inbox)
	if err != nil || info.Version != stateVersion || info.Unseen != 2 || info.Deleted != 1 ||
		unseen != 2 {
		t.Fatalf("after Open: %+v, first unseen %d, %v", info, unseen, err)
	}
	gone, err := ms.Expunge(agent, Inbox, nil)
	if err != nil || !slices.Equal(gone, []uint32{3}) {
		t.Fatalf("Expunge = %v, %v", gone, err)
	}
	checkCounters(t, ms, agent, Inbox)
	db.Close()
}

func TestQuota(t *testing.T) {
	ms, rec := newTestStore(t)
	const agent = "a@example.com"
	ms.SetQuota(10)
	deliver := func(mailbox, raw string) error {
		_, _, err := ms.Append(Delivery{Agent: agent, Mailbox: mailbox, Raw: []byte(raw)})
		return err
	}
	if err := deliver(Inbox, "12345"); err != nil {
		t.Fatal(err)
	}
	if err := deliver(Archive, "12345"); err != nil {
		t.Fatal(err)
	}
	if err := deliver(Inbox, "1"); !errors.Is(err, ErrOverQuota) {
		t.Fatalf("delivery over quota: %v", err)
	}
	if _, err := ms.Copy(agent, Inbox, []uint32{1}, Trash, false); !errors.Is(err, ErrOverQuota) {
		t.Fatalf("COPY over quota: %v", err)
	}
	if _, err := ms.Copy(agent, Inbox, []uint32{1}, Trash, true); err != nil {
		t.Fatalf("MOVE at quota: %v", err)
	}
	if used, err := ms.Usage(agent); err != nil || used != 10 {
		t.Fatalf("usage %d, %v", used, err)
	}
	if n := len(rec.events); n != 4 {
		t.Fatalf("events %v: a refused delivery was announced", rec.events)
	}
	ms.SetQuota(0)
	if err := deliver(Inbox, "1"); err != nil {
		t.Fatalf("no quota: %v", err)
	}
}

func TestRemoveAgentAnnouncesMailboxes(t *testing.T) {
	ms, rec := newTestStore(t)
	if err := ms.RemoveAgent("a@example.com"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{Inbox, Sent, Archive} {
		if !slices.Contains(rec.events, "gone "+name) {
			t.Errorf("no MailboxGone for %s: %v", name, rec.events)
		}
	}
}
