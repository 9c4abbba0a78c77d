package imapd

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"agentmail/internal/store"
	"agentmail/mailstore"
)

// deliverBlob stores a message whose body is a blob file, as the SMTP edge
// does for large messages, and returns the whole message.
func (e *testEnv) deliverBlob(agent, mailbox, header, body string) string {
	e.t.Helper()
	bw, err := e.db.NewBlob()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := bw.Write([]byte(body)); err != nil {
		e.t.Fatal(err)
	}
	b, err := bw.Finish()
	if err != nil {
		e.t.Fatal(err)
	}
	_, _, err = e.ms.Append(mailstore.Delivery{Agent: agent + "@" + testDomain,
		Mailbox: mailbox, Raw: []byte(header), Body: b})
	if err != nil {
		e.t.Fatal(err)
	}
	return header + body
}

func blobCount(t *testing.T, e *testEnv) int {
	t.Helper()
	entries, err := os.ReadDir(store.BlobDir(e.dir))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// A message with a blob body serves every section byte-exact from the file,
// shares its blob with a COPY, and the file goes with the last copy.
func TestFetchBlobMessage(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	header := "From: a@example.org\r\nTo: seller@example.com\r\nSubject: big one\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n\r\n"
	body := strings.Repeat("zebra crossing 0123456789\r\n", 5000)
	whole := e.deliverBlob("seller", "INBOX", header, body)

	c, _ := e.dial("seller@" + testDomain)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	sections := []*imap.FetchItemBodySection{
		{Peek: true},
		{Peek: true, Specifier: imap.PartSpecifierHeader},
		{Peek: true, Specifier: imap.PartSpecifierText},
		{Peek: true, Partial: &imap.SectionPartial{Offset: int64(len(header)) - 5, Size: 100}},
		{Peek: true, Specifier: imap.PartSpecifierText,
			Partial: &imap.SectionPartial{Offset: int64(len(body)) + 10, Size: 10}},
		{Peek: true, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}},
	}
	want := [][]byte{[]byte(whole), []byte(header), []byte(body),
		[]byte(whole[len(header)-5 : len(header)+95]), nil,
		[]byte("Subject: big one\r\n\r\n")}
	msgs := fetchAll(t, c, imap.SeqSetNum(1), &imap.FetchOptions{BodySection: sections,
		Envelope: true, RFC822Size: true, BodyStructure: &imap.FetchItemBodyStructure{}})
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.RFC822Size != int64(len(whole)) || m.Envelope == nil || m.Envelope.Subject != "big one" {
		t.Fatalf("size %d, envelope %+v", m.RFC822Size, m.Envelope)
	}
	if sp, ok := m.BodyStructure.(*imap.BodyStructureSinglePart); !ok || sp.Size != uint32(len(body)) {
		t.Fatalf("body structure %#v", m.BodyStructure)
	}
	for i, bs := range sections {
		if got := m.FindBodySection(bs); !bytes.Equal(got, want[i]) {
			t.Errorf("section %d: %d bytes, want %d", i, len(got), len(want[i]))
		}
	}

	for _, tc := range []struct {
		criteria imap.SearchCriteria
		want     uint32
	}{
		{imap.SearchCriteria{Body: []string{"ZEBRA crossing"}}, 1},
		{imap.SearchCriteria{Body: []string{"giraffe"}}, 0},
		{imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject",
			Value: "BIG"}}}, 1},
	} {
		data, err := c.Search(&tc.criteria, nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if got := uint32(len(data.AllSeqNums())); got != tc.want {
			t.Errorf("search %+v: %d matches, want %d", tc.criteria, got, tc.want)
		}
	}

	if _, err := c.Copy(imap.SeqSetNum(1), "Archive").Wait(); err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, e); n != 1 {
		t.Fatalf("%d blob files after COPY, want 1 shared", n)
	}
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd,
		Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, e); n != 1 {
		t.Fatalf("%d blob files with the Archive copy left, want 1", n)
	}
	if err := c.Delete("Archive").Wait(); err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, e); n != 0 {
		t.Fatalf("%d blob files after the last copy went, want 0", n)
	}
}
