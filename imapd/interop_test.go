package imapd

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"agentmail/internal/testutil"
	"agentmail/mailstore"
)

// The tests in this file drive the server with clients the project did not
// write, installed by .ci/run: Python's imaplib, mbsync (isync) and curl.
// Each is skipped when its program is missing.

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testutil.SkipOrFail(t, "%s not installed (.ci/run installs it)", name)
	}
	return p
}

// TestPythonSellerLoop runs a seller's loop in imaplib: IDLE until mail
// arrives, fetch it, flag it \Seen, move it to Archive. One request waits
// in INBOX before it starts; two more are delivered while it idles.
func TestPythonSellerLoop(t *testing.T) {
	python := lookPath(t, "python3")
	e := newEnv(t, t.TempDir(), "seller")
	e.deliver("seller", "INBOX", msg("request 1", "waiting"))
	host, port, _ := net.SplitHostPort(e.addr)
	cmd := exec.Command(python, "testdata/seller_loop.py", host, port, "seller", testPassword, "3")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var lines []string
	next, delivered := 2, map[string]time.Time{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		switch {
		case line == "idling" && next <= 3:
			subject := fmt.Sprintf("request %d", next)
			delivered[subject] = time.Now()
			e.deliver("seller", "INBOX", msg(subject, "paid work"))
			next++
		case strings.HasPrefix(line, "handled "):
			// RFC 2177 gives no bound; the issue asks for a second.
			at, ok := delivered[strings.TrimPrefix(line, "handled ")]
			if ok && time.Since(at) > time.Second {
				t.Errorf("%s: handled %v after delivery", line, time.Since(at))
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("seller loop: %v\nstdout: %q\nstderr:\n%s", err, lines, stderr.String())
	}
	if lines[len(lines)-1] != "done" {
		t.Fatalf("seller loop output %q", lines)
	}
	msgs, err := e.ms.Messages("seller@"+testDomain, "Archive", nil)
	if err != nil || len(msgs) != 3 {
		t.Fatalf("Archive: %d messages, %v", len(msgs), err)
	}
	for _, m := range msgs {
		if !mailstore.HasFlag(m.Flags, mailstore.FlagSeen) {
			t.Errorf("archived UID %d not \\Seen: %v", m.UID, m.Flags)
		}
	}
}

// TestCurlListAndFetch lists mailboxes and fetches a message with curl's
// IMAP support (RFC 5092 URLs).
func TestCurlListAndFetch(t *testing.T) {
	curl := lookPath(t, "curl")
	e := newEnv(t, t.TempDir(), "seller")
	raw := msg("for curl", "fetched by URL")
	e.deliver("seller", "INBOX", raw)
	run := func(url string) []byte {
		t.Helper()
		out, err := exec.Command(curl, "-sS", "--max-time", "10", "-u",
			"seller:"+testPassword, url).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %s: %v\n%s", url, err, out)
		}
		return out
	}
	list := string(run("imap://" + e.addr + "/"))
	for _, name := range []string{"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"} {
		if !strings.Contains(list, `"/" `+name+"\r\n") &&
			!strings.Contains(list, `"/" "`+name+`"`) {
			t.Errorf("curl LIST lacks %s:\n%s", name, list)
		}
	}
	if got := run("imap://" + e.addr + "/INBOX;UID=1"); string(got) != raw {
		t.Errorf("curl fetch of UID 1:\n got %q\nwant %q", got, raw)
	}
}

// TestMbsyncRoundTrip syncs INBOX to a Maildir and back with mbsync, with
// messages added and removed on both sides between runs, and checks that
// both sides end with the same messages, each once.
func TestMbsyncRoundTrip(t *testing.T) {
	mbsync := lookPath(t, "mbsync")
	e := newEnv(t, t.TempDir(), "seller")
	const agent = "seller@" + testDomain
	for i := 1; i <= 3; i++ {
		e.deliver("seller", "INBOX", idMsg(fmt.Sprintf("server-%d", i)))
	}
	dir := t.TempDir()
	rc := writeMbsyncrc(t, dir, e.addr)
	sync := func() {
		t.Helper()
		out, err := exec.Command(mbsync, "-c", rc, "-a").CombinedOutput()
		if err != nil {
			t.Fatalf("mbsync: %v\n%s", err, out)
		}
	}
	sync()
	local := filepath.Join(dir, "mail", "INBOX")
	checkSides(t, e, local, "server-1", "server-2", "server-3")

	// Between runs: the server gets a message and loses one; the Maildir
	// gets one and loses another.
	e.deliver("seller", "INBOX", idMsg("server-4"))
	if _, err := e.ms.StoreFlags(agent, "INBOX", []uint32{1}, mailstore.FlagsAdd,
		[]string{mailstore.FlagDeleted}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ms.Expunge(agent, "INBOX", nil); err != nil {
		t.Fatal(err)
	}
	removeLocal(t, local, "server-2")
	name := fmt.Sprintf("%d.local1.test", time.Now().Unix())
	if err := os.WriteFile(filepath.Join(local, "new", name), []byte(idMsg("local-1")),
		0o600); err != nil {
		t.Fatal(err)
	}
	sync()
	checkSides(t, e, local, "local-1", "server-3", "server-4")
	sync() // a run with nothing to do changes nothing
	checkSides(t, e, local, "local-1", "server-3", "server-4")
}

func idMsg(id string) string {
	return "From: a@example.org\r\nTo: seller@example.com\r\nSubject: " + id +
		"\r\nMessage-Id: <" + id + "@test>\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\n\r\n" +
		"body of " + id + "\r\n"
}

func writeMbsyncrc(t *testing.T, dir, addr string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	rc := fmt.Sprintf(`IMAPAccount test
Host %s
Port %s
User seller
Pass "%s"
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account test

MaildirStore local
Path %s/mail/
Inbox %s/mail/INBOX
SubFolders Verbatim

Channel inbox
Far :remote:
Near :local:
Patterns INBOX
Create Both
Expunge Both
SyncState *
`, host, port, testPassword, dir, dir)
	if err := os.MkdirAll(filepath.Join(dir, "mail"), 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(path, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkSides compares the Message-Ids on the server and in the Maildir
// with want, duplicates included.
func checkSides(t *testing.T, e *testEnv, maildir string, want ...string) {
	t.Helper()
	var server []string
	msgs, err := e.ms.Messages("seller@"+testDomain, "INBOX", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		raw, err := e.ms.Raw("seller@"+testDomain, "INBOX", m.UID)
		if err != nil {
			t.Fatal(err)
		}
		server = append(server, messageID(raw))
	}
	var local []string
	for _, sub := range []string{"new", "cur"} {
		files, _ := filepath.Glob(filepath.Join(maildir, sub, "*"))
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			local = append(local, messageID(raw))
		}
	}
	slices.Sort(server)
	slices.Sort(local)
	if !slices.Equal(server, want) || !slices.Equal(local, want) {
		t.Fatalf("server %v, Maildir %v, want %v", server, local, want)
	}
}

func messageID(raw []byte) string {
	_, after, _ := bytes.Cut(raw, []byte("Message-Id: <"))
	id, _, _ := bytes.Cut(after, []byte("@test>"))
	return string(id)
}

func removeLocal(t *testing.T, maildir, id string) {
	t.Helper()
	for _, sub := range []string{"new", "cur"} {
		files, _ := filepath.Glob(filepath.Join(maildir, sub, "*"))
		for _, f := range files {
			raw, _ := os.ReadFile(f)
			if messageID(raw) == id {
				if err := os.Remove(f); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
	}
	t.Fatalf("%s not in the Maildir", id)
}
