package imapd

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"agentmail/mailstore"
)

// corpus reads testdata/malformed: real-world damage (unknown charsets,
// broken and folded headers, no blank line, long lines, 8-bit bytes, bare
// LF, broken MIME boundaries) that must be stored and served byte-exact.
func corpus(t *testing.T) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("testdata/malformed/*.eml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = raw
	}
	return out
}

// TestMalformedCorpus APPENDs each message and also delivers it the way
// SMTP does (mailstore.Append), then fetches every item a client might
// ask for: the bytes come back exact, and ENVELOPE and BODYSTRUCTURE
// always parse.
func TestMalformedCorpus(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	c, _ := e.dial("seller")
	for name, raw := range corpus(t) {
		t.Run(name, func(t *testing.T) {
			cmd := c.Append("Drafts", int64(len(raw)), nil)
			if _, err := cmd.Write(raw); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Close(); err != nil {
				t.Fatal(err)
			}
			appended, err := cmd.Wait()
			if err != nil {
				t.Fatalf("APPEND refused: %v", err)
			}
			_, uid, err := e.ms.Append(mailstore.Delivery{Agent: "seller@" + testDomain,
				Mailbox: "Drafts", Raw: raw})
			if err != nil {
				t.Fatalf("delivery refused: %v", err)
			}
			for _, u := range []imap.UID{appended.UID, imap.UID(uid)} {
				env := checkFetchBack(t, c, u, raw)
				if name == "malformed-header.eml" && (env.Subject !=
					"header lines that break the grammar" || len(env.To) != 1 || env.Date.IsZero()) {
					t.Errorf("fields after a malformed line are lost: %+v", env)
				}
			}
		})
	}
	if _, err := c.Select("Drafts", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, crit := range []imap.SearchCriteria{
		{Text: []string{"body"}}, {Header: []imap.SearchCriteriaHeaderField{{Key: "Subject",
			Value: "caf"}}}, {SentSince: mustDate(t, "01-Jan-2006")},
	} {
		if _, err := c.UIDSearch(&crit, nil).Wait(); err != nil {
			t.Errorf("SEARCH %+v over the corpus: %v", crit, err)
		}
	}
}

// checkFetchBack fetches one message every way and returns its envelope.
func checkFetchBack(t *testing.T, c *imapclient.Client, uid imap.UID,
	raw []byte) *imap.Envelope {
	t.Helper()
	if _, err := c.Select("Drafts", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	whole := &imap.FetchItemBodySection{Peek: true}
	header := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	text := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierText, Peek: true}
	part1 := &imap.FetchItemBodySection{Part: []int{1}, Peek: true}
	partial := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 3,
		Size: 40}}
	msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
		UID: true, Flags: true, RFC822Size: true, InternalDate: true, Envelope: true,
		BodyStructure:     &imap.FetchItemBodyStructure{Extended: true},
		BodySection:       []*imap.FetchItemBodySection{whole, header, text, part1, partial},
		BinarySection:     []*imap.FetchItemBinarySection{{Part: []int{1}, Peek: true}},
		BinarySectionSize: []*imap.FetchItemBinarySectionSize{{Part: []int{1}}},
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("UID FETCH %d: %d messages, %v", uid, len(msgs), err)
	}
	m := msgs[0]
	if got := m.FindBodySection(whole); !bytes.Equal(got, raw) {
		t.Errorf("UID %d: BODY[] differs from what was stored:\n got %q\nwant %q", uid, got, raw)
	}
	h, b := m.FindBodySection(header), m.FindBodySection(text)
	if !bytes.Equal(append(bytes.Clone(h), b...), raw) {
		t.Errorf("UID %d: HEADER+TEXT is not the message: %q + %q", uid, h, b)
	}
	if want := raw[min(3, len(raw)):min(43, len(raw))]; !bytes.Equal(m.FindBodySection(partial),
		want) {
		t.Errorf("UID %d: BODY[]<3.40> = %q", uid, m.FindBodySection(partial))
	}
	if m.RFC822Size != int64(len(raw)) {
		t.Errorf("UID %d: RFC822.SIZE %d, want %d", uid, m.RFC822Size, len(raw))
	}
	if m.Envelope == nil || m.BodyStructure == nil {
		t.Fatalf("UID %d: ENVELOPE %v BODYSTRUCTURE %v", uid, m.Envelope, m.BodyStructure)
	}
	return m.Envelope
}

func mustDate(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse("02-Jan-2006", s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
