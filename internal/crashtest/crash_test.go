package crashtest

import (
	"flag"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

var (
	flagKills = flag.Int("crash.kills", 5,
		"SIGKILLs in TestCrash (env AGENTMAIL_CRASH_KILLS overrides)")
	flagRace = flag.Bool("crash.race", false, "build the server under test with -race")
)

// binary is the agentmail command built once for the package's tests.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "crashtest-bin-")
	if err == nil {
		binary, err = BuildBinary(dir, *flagRace)
	}
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func kills(t *testing.T) int {
	n := *flagKills
	if s := os.Getenv("AGENTMAIL_CRASH_KILLS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatalf("AGENTMAIL_CRASH_KILLS=%q: %v", s, err)
		}
	}
	return n
}

func newFleet() *Fleet {
	return NewFleet([]string{"buyer1", "buyer2", "buyer3", "poor1"},
		[]string{"seller1", "seller2"})
}

// TestCrash kills the server with SIGKILL at random moments under paid
// traffic, restarts it and checks after every restart that nothing
// acknowledged was lost or duplicated, nothing refused was kept, every
// reservation and settlement matches its delivered mail, and that bbolt's
// check and the ledger's invariants pass (agentmail check).
func TestCrash(t *testing.T) {
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

	n := kills(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	var c Counts
	start := time.Now()
	for k := 1; k <= n; k++ {
		stop := make(chan struct{})
		wait := fleet.Run(srv, stop)
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		srv.Kill()
		close(stop)
		wait()

		if out, err := Check(binary, dir); err != nil {
			t.Fatalf("after kill %d: %v\n%s", k, err, out)
		}
		if srv, err = StartServer(binary, dir); err != nil {
			t.Fatalf("restart after kill %d: %v", k, err)
		}
		var problems []string
		c, problems = fleet.Verify(srv, true)
		for _, p := range problems {
			t.Errorf("after kill %d: %s", k, p)
		}
		if len(problems) > 0 {
			t.FailNow()
		}
	}
	if err := srv.Stop(10 * time.Second); err != nil {
		t.Fatalf("graceful stop after the last restart: %v\n%s", err, srv.Log())
	}
	if out, err := Check(binary, dir); err != nil {
		t.Fatalf("after the last stop: %v\n%s", err, out)
	}
	t.Logf("crash test: %d kills in %s; %d messages checked: %d acknowledged, %d refused, "+
		"%d cut off by a kill (%d of them committed), %d not sent (server down); "+
		"%d reservations checked, %d settled", n, time.Since(start).Round(time.Second),
		c.Messages, c.Accepted, c.Refused, c.Unknown, c.Recovered, c.Unsent, c.Reservations,
		c.Settlements)
}
