package server

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPythonAgentRoundTrip drives the round trip from Python's standard
// library, the way most agents are written.
func TestPythonAgentRoundTrip(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is required for this test (.ci/run installs it)")
	}
	ts := startServer(t, t.TempDir(), newClock())
	defer ts.Close()
	ts.addAgent("buyer")
	ts.addAgent("seller")
	ts.credit("buyer", "10")
	ts.price("seller", perRequestPricing)

	out, err := exec.Command(python, "testdata/roundtrip.py", ts.smtpA, ts.imapA, ts.httpA,
		testPassword).CombinedOutput()
	t.Logf("roundtrip.py:\n%s", out)
	if err != nil {
		t.Fatalf("roundtrip.py failed: %v", err)
	}
	if !strings.Contains(string(out), "round trip complete") {
		t.Fatal("roundtrip.py did not finish")
	}
	if got := ts.balance("buyer"); got != "9.750000/0.000000" {
		t.Errorf("buyer after the Python round trip = %s", got)
	}
	ts.verifyLedger()
}
