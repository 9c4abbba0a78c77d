package ops

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"agentmail/billing"
	"agentmail/internal/store"
	"agentmail/mailstore"
)

// newBlobDataDir makes a stopped data directory with one message whose
// body is a blob file, in INBOX and Sent.
func newBlobDataDir(t *testing.T) (dir string, whole []byte) {
	t.Helper()
	dir = t.TempDir()
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := billing.Open(db, nil); err != nil {
		t.Fatal(err)
	}
	ms, err := mailstore.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ms.AddAgent("a@localhost", "password-password"); err != nil {
		t.Fatal(err)
	}
	header := "Subject: big\r\n\r\n"
	body := strings.Repeat("y", 100<<10)
	bw, err := db.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bw.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	b, err := bw.Finish()
	if err != nil {
		t.Fatal(err)
	}
	for _, box := range []string{mailstore.Inbox, mailstore.Sent} {
		if _, _, err := ms.Append(mailstore.Delivery{Agent: "a@localhost", Mailbox: box,
			Raw: []byte(header), Body: b}); err != nil {
			t.Fatal(err)
		}
	}
	return dir, []byte(header + body)
}

// A backup carries the blob files beside it (FILE.blobs), check verifies
// them, and restore brings them back with the database.
func TestBackupCheckRestoreBlobs(t *testing.T) {
	dir, whole := newBlobDataDir(t)
	if rep, err := Check(store.Path(dir)); err != nil || !rep.OK() {
		t.Fatalf("check of the data directory: %+v %v", rep, err)
	}
	backup := filepath.Join(t.TempDir(), "b.db")
	if _, err := BackupStopped(dir, backup, nil, nil); err != nil {
		t.Fatal(err)
	}
	if rep, err := Check(backup); err != nil || !rep.OK() {
		t.Fatalf("check of the backup: %+v %v", rep, err)
	}

	restored := filepath.Join(t.TempDir(), "data")
	if _, err := Restore(backup, restored); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(restored, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mailstore.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ms.Raw("a@localhost", mailstore.Sent, 1)
	db.Close()
	if err != nil || !bytes.Equal(raw, whole) {
		t.Fatalf("restored message: %d bytes, %v", len(raw), err)
	}

	entries, _ := os.ReadDir(BlobDirOf(backup))
	if len(entries) != 1 {
		t.Fatalf("backup blobs: %d files, want 1", len(entries))
	}
	if err := os.Remove(filepath.Join(BlobDirOf(backup), entries[0].Name())); err != nil {
		t.Fatal(err)
	}
	if rep, err := Check(backup); err != nil || rep.OK() {
		t.Fatalf("check of a backup missing its blob: %+v %v", rep, err)
	}
}
