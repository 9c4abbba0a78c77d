package crashtest

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A backup taken while paid traffic flows restores into a store that passes
// agentmail check and holds every message acknowledged before the backup
// began, each exactly once, with reservations and settlements matching
// their mail; later messages are in it whole or not at all.
func TestBackupWhileServing(t *testing.T) {
	const backupAckedMin = 100
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
	// Back up only once there is something to lose: a fixed sleep on a busy
	// machine could leave nothing acknowledged and the test proving nothing.
	var acked map[string]bool
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if acked = fleet.Journal.Acked(); len(acked) >= backupAckedMin {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			wait()
			t.Fatalf("only %d messages acknowledged in a minute of traffic", len(acked))
		}
	}
	backup := filepath.Join(t.TempDir(), "agentmail-backup.db")
	r, err := Run(binary, "", "--data", dir, "backup", backup)
	if err != nil || r.Code != 0 {
		t.Fatalf("backup while serving: %v, exit %d\n%s%s", err, r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "from the running server") {
		t.Errorf("backup did not go through the running server:\n%s", r.Stdout)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wait()
	if err := srv.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	if r, err := Run(binary, "", "--data", restored, "restore", backup); err != nil ||
		r.Code != 0 {
		t.Fatalf("restore: %v, exit %d\n%s%s", err, r.Code, r.Stdout, r.Stderr)
	}
	if out, err := Check(binary, restored); err != nil {
		t.Fatalf("check of the restored store: %v\n%s", err, out)
	}
	if srv, err = StartServer(binary, restored); err != nil {
		t.Fatal(err)
	}
	c, problems := fleet.VerifyAsOf(srv, true, acked)
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("backup while serving: %d acknowledged before it began, all restored; "+
		"%d reservations and %d settlements match their mail",
		len(acked), c.Reservations, c.Settlements)
}
