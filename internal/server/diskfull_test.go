package server

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"agentmail/internal/ops"
	"agentmail/internal/store"
	"agentmail/internal/testutil"
)

// smallFS mounts a tmpfs of the given size under a temporary directory for
// the test's duration. Where mounting is not permitted (not root, or a
// container without CAP_SYS_ADMIN) the test is skipped.
func smallFS(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			testutil.SkipOrFail(t, "mount tmpfs size=%s not permitted here: %v; run as root to test a "+
				"full disk", size, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// bigBody is about n bytes of text in short lines.
func bigBody(n int) string {
	return strings.Repeat(strings.Repeat("x", 76)+"\n", n/77)
}

// When the disk fills up, submissions get 452 4.3.1 and nothing of them is
// stored or billed; reads go on; once space returns, mail and money flow
// again, and the store passes agentmail check.
func TestDiskFull(t *testing.T) {
	fs := smallFS(t, "8m")
	filler := filepath.Join(fs, "filler")
	if err := os.WriteFile(filler, make([]byte, 3<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(fs, "data")
	ts := startServer(t, dir, newClock())
	closed := false
	t.Cleanup(func() { // before the unmount
		if !closed {
			ts.Close()
		}
	})
	ts.addAgent("buyer")
	ts.addAgent("seller")
	ts.credit("buyer", "10")
	ts.price("seller", `{"pricing_model": "per_request", "base_price": "0.25"}`)

	acked := 0
	var full error
	for i := 0; i < 100 && full == nil; i++ {
		full = ts.send("buyer", []string{"seller"}, message("buyer", "seller", "filler",
			bigBody(300<<10)))
		if full == nil {
			acked++
		}
	}
	if full == nil {
		t.Fatal("the 8 MiB file system never filled up")
	}
	if code, msg := smtpCode(t, full); code != 452 || !strings.HasPrefix(msg, "4.3.1") {
		t.Fatalf("submission on a full disk: %d %s, want 452 4.3.1", code, msg)
	}
	// Those bodies went to blob files; messages small enough to stay in
	// the database fill what is left, until the database cannot grow.
	full = nil
	for i := 0; i < 1000 && full == nil; i++ {
		full = ts.send("buyer", []string{"seller"}, message("buyer", "seller", "small filler",
			bigBody(30<<10)))
		if full == nil {
			acked++
		}
	}
	if code, msg := smtpCode(t, full); code != 452 || !strings.HasPrefix(msg, "4.3.1") {
		t.Fatalf("small submission on a full disk: %d %s, want 452 4.3.1", code, msg)
	}

	// Full: a paid request is refused for now and reserves nothing; reads
	// go on over IMAP and HTTP.
	err := ts.send("buyer", []string{"seller"}, message("buyer", "seller", "paid", "{}",
		"X-AgentMail-Marketplace-Request-Id: full-1"))
	if code, _ := smtpCode(t, err); code != 452 {
		t.Fatalf("paid request on a full disk: %v", err)
	}
	if got := ts.balance("buyer"); got != "10.000000/0.000000" {
		t.Errorf("buyer balance after a refused request: %s", got)
	}
	if n := ts.count("seller", "INBOX"); n != acked {
		t.Errorf("seller INBOX holds %d messages, %d were acknowledged", n, acked)
	}
	if code, _ := ts.httpGet("/agents/buyer/billing/balance", "buyer"); code != 200 {
		t.Errorf("balance over HTTP on a full disk: %d", code)
	}

	// Space returns: the same server takes mail and money again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := ts.send("buyer", []string{"seller"}, message("buyer", "seller", "paid", "{}",
		"X-AgentMail-Marketplace-Request-Id: after-1")); err != nil {
		t.Fatalf("paid request once space returned: %v", err)
	}
	if got := ts.balance("buyer"); got != "9.750000/0.250000" {
		t.Errorf("buyer balance after the request: %s", got)
	}
	if n := ts.count("seller", "INBOX"); n != acked+1 {
		t.Errorf("seller INBOX holds %d messages, want %d", n, acked+1)
	}
	ts.verifyLedger()
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	rep, err := ops.Check(store.Path(dir))
	if err != nil || !rep.OK() {
		t.Fatalf("agentmail check after the full disk: %+v, %v", rep, err)
	}
	t.Logf("%d messages acknowledged before the disk filled; 452 4.3.1 while full; "+
		"recovered", acked)
}
