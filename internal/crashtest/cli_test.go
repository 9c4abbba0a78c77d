package crashtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mustRun(t *testing.T, args ...string) Result {
	t.Helper()
	r, err := Run(binary, "", args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// check, compact and restore refuse to touch a data directory a server is
// using; stopped, compact shrinks a store and keeps its mail; check fails
// on a damaged file.
func TestOperatorCommands(t *testing.T) {
	dir := t.TempDir()
	srv, err := StartServer(binary, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Kill() }()
	fleet := newFleet()
	if err := fleet.Setup(binary, dir); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	wait := fleet.Run(srv, stop)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wait()

	for _, args := range [][]string{{"check"}, {"compact"}, {"restore", "/nonexistent"}} {
		r := mustRun(t, append([]string{"--data", dir}, args...)...)
		if r.Code == 0 {
			t.Errorf("agentmail %s with the server running: exit 0\n%s", args[0], r.Stdout)
		}
		if !strings.Contains(r.Stderr, "running") && !strings.Contains(r.Stderr, "empty") {
			t.Errorf("agentmail %s with the server running: %s", args[0], r.Stderr)
		}
	}
	backup := filepath.Join(t.TempDir(), "b.db")
	if r := mustRun(t, "--data", dir, "backup", backup); r.Code != 0 {
		t.Fatalf("backup: %s", r.Stderr)
	}
	if err := srv.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	r := mustRun(t, "--data", dir, "compact")
	if r.Code != 0 || !strings.Contains(r.Stdout, "compacted") {
		t.Fatalf("compact: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	t.Log(strings.TrimSpace(r.Stdout))
	if out, err := Check(binary, dir); err != nil {
		t.Fatalf("check after compact: %v\n%s", err, out)
	}
	if srv, err = StartServer(binary, dir); err != nil {
		t.Fatal(err)
	}
	if _, problems := fleet.Verify(srv, true); len(problems) > 0 {
		t.Errorf("after compact: %v", problems)
	}

	// A backup with its data pages damaged fails check.
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	for i := 2 * 4096; i < len(data); i++ {
		data[i] ^= 0xA5
	}
	if err := os.WriteFile(backup, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := mustRun(t, "check", backup); r.Code == 0 {
		t.Errorf("check passed a damaged backup:\n%s", r.Stdout)
	}
}
