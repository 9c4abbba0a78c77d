package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"agentmail/internal/admin"
	"agentmail/internal/testutil"
)

// With the server running, the admin commands go through its socket (the
// database is locked to the server), and SIGTERM stops it cleanly.
func TestAdminCommandsServerRunning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, log := startServe(t, dir)

	exerciseAdmin(t, dir)

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, log)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("serve did not stop within 10s of SIGTERM\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(dir, admin.SocketName)); !os.IsNotExist(err) {
		t.Errorf("admin socket left behind: %v", err)
	}
	if !strings.Contains(log.String(), "agentmail stopped") {
		t.Errorf("no clean stop in the log:\n%s", log)
	}

	// Stopped, the same data is read in-process.
	if out := ok(t, "", "--data", dir, "wallet", "balance", "buyer"); !strings.Contains(out,
		"10.000000") {
		t.Errorf("balance after restart:\n%s", out)
	}
}

// startServe runs agentmail serve on free loopback ports over dir and waits
// for its admin socket.
func startServe(t *testing.T, dir string) (*exec.Cmd, *testutil.Buffer) {
	t.Helper()
	srv := exec.Command(binary, "serve", "--data", dir, "--smtp", "127.0.0.1:0",
		"--imap", "127.0.0.1:0", "--http", "127.0.0.1:0")
	srv.Env = cliEnv()
	log := &testutil.Buffer{}
	srv.Stdout, srv.Stderr = log, log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if srv.ProcessState == nil {
			_ = srv.Process.Kill()
			_ = srv.Wait()
		}
	})

	socket := filepath.Join(dir, admin.SocketName)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(socket); err == nil {
			return srv, log
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10s\n%s", socket, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
