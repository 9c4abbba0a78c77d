package imapd

import (
	"flag"
	"net"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestCapabilityGolden pins the CAPABILITY list before and after login,
// and where plaintext login is refused, so that no capability (IDLE above
// all) appears or vanishes without a change to testdata. Run with -update
// to accept a deliberate change.
func TestCapabilityGolden(t *testing.T) {
	var got strings.Builder
	e := newEnv(t, t.TempDir(), "seller")
	c := e.rawDial("")
	got.WriteString("before login: " + capabilityLine(t, c) + "\n")
	c.ok(`LOGIN seller "` + testPassword + `"`)
	got.WriteString("after login: " + capabilityLine(t, c) + "\n")

	strict := newEnvConfig(t, t.TempDir(), Config{InsecureAuth: func(net.Conn) bool { return false }})
	got.WriteString("without TLS, not loopback: " + capabilityLine(t, strict.rawDial("")) + "\n")

	const path = "testdata/capability.golden"
	if *update {
		if err := os.WriteFile(path, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Fatalf("CAPABILITY changed:\n%s\nwant (%s):\n%s", got.String(), path, want)
	}
	// Before login the library offers only what login needs; clients take
	// the full list from the LOGIN response (RFC 9051 section 6.2.3),
	// which must carry IDLE.
	if after := strings.Split(got.String(), "\n")[1]; !strings.Contains(after, " IDLE ") {
		t.Errorf("IDLE missing after login: %s", after)
	}
}

func capabilityLine(t *testing.T, c *rawClient) string {
	t.Helper()
	untagged := c.ok("CAPABILITY")
	if len(untagged) != 1 || !strings.HasPrefix(untagged[0], "* CAPABILITY ") {
		t.Fatalf("CAPABILITY: %q", untagged)
	}
	return strings.TrimPrefix(untagged[0], "* CAPABILITY ")
}

func TestCreateSpecialUse(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	c := e.rawDial("seller")
	c.ok(`CREATE Receipts (USE (\Archive))`)
	if got := c.ok(`LIST "" Receipts`); len(got) != 1 || !strings.Contains(got[0], `\Archive`) {
		t.Fatalf("LIST Receipts: %q", got)
	}
	for _, cmd := range []string{`CREATE Everything (USE (\All))`,
		`CREATE Both (USE (\Sent \Trash))`} {
		if _, status := c.cmd(cmd); !strings.HasPrefix(status, "NO [USEATTR]") {
			t.Errorf("%s: %s", cmd, status)
		}
	}
}

func TestAppendOverQuota(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	e.ms.SetQuota(100)
	c := e.rawDial("seller")
	c.ok("APPEND INBOX {60+}\r\n" + strings.Repeat("x", 60))
	if _, status := c.cmd("APPEND INBOX {60+}\r\n" + strings.Repeat("y", 60)); !strings.HasPrefix(
		status, "NO [OVERQUOTA]") {
		t.Fatalf("APPEND over quota: %s", status)
	}
	c.ok("SELECT INBOX")
	if _, status := c.cmd("COPY 1 Archive"); !strings.HasPrefix(status, "NO [OVERQUOTA]") {
		t.Fatalf("COPY over quota: %s", status)
	}
	if got := c.ok("MOVE 1 Archive"); len(got) != 2 {
		t.Fatalf("MOVE at quota: %q", got)
	}
}

// TestListSubscribedRecursiveMatch: a superior that is not subscribed but
// has a subscribed inferior is listed with CHILDINFO (RFC 5258 section
// 3.5, example 9).
func TestListSubscribedRecursiveMatch(t *testing.T) {
	e := newEnv(t, t.TempDir(), "seller")
	c := e.rawDial("seller")
	c.ok("CREATE Work/Clients")
	c.ok("UNSUBSCRIBE Work")
	got := c.ok(`LIST (SUBSCRIBED RECURSIVEMATCH) "" "Work"`)
	if len(got) != 1 || !strings.Contains(got[0], `CHILDINFO ("SUBSCRIBED")`) ||
		strings.Contains(got[0], `\Subscribed`) {
		t.Fatalf("LIST (SUBSCRIBED RECURSIVEMATCH): %q", got)
	}
	if got := c.ok(`LIST (SUBSCRIBED) "" "Work"`); len(got) != 0 {
		t.Fatalf("LIST (SUBSCRIBED) lists the unsubscribed Work: %q", got)
	}
}
