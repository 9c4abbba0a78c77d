package main

import (
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	t.Parallel()
	r := agentmail(t, "", "demo")
	if r.code != exitOK {
		t.Fatalf("demo: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"GET /public/agents/seller/pricing",
		"X-AgentMail-Reservation: amount=0.250000; currency=USD",
		"EXISTS",
		"X-AgentMail-Settlement: charged=0.250000; released=0.000000; currency=USD",
		"buyer  available 9.750000 USD",
		"seller available 0.250000 USD",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
}
