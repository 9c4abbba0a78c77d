package imapd

import (
	"net"
	"os/exec"
	"testing"

	"agentmail/internal/testutil"
)

// TestPythonImaplib runs a client the project did not write against the
// server: Python's standard imaplib.
func TestPythonImaplib(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		testutil.SkipOrFail(t, "python3 not installed")
	}
	e := newEnv(t, t.TempDir(), "seller")
	host, port, _ := net.SplitHostPort(e.addr)
	out, err := exec.Command(python, "testdata/smoke.py", host, port, "seller",
		testPassword).CombinedOutput()
	if err != nil {
		t.Fatalf("imaplib smoke test: %v\n%s", err, out)
	}
}
