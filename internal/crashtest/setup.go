package crashtest

import (
	"fmt"
	"strings"
)

// Setup creates the fleet's agents on a running server through the CLI
// (and so through the admin socket): buyers get credit, sellers publish
// outcome-based pricing. A buyer whose name starts with "poor" gets little
// credit, so that some of its requests are refused for funds.
func (f *Fleet) Setup(bin, dataDir string) error {
	for _, a := range f.Agents() {
		if err := cli(bin, Password+"\n", dataDir, "agent", "add", a,
			"--password-stdin"); err != nil {
			return err
		}
	}
	for _, b := range f.Buyers {
		amount := "1000"
		if strings.HasPrefix(b, "poor") {
			amount = "0.20"
		}
		if err := cli(bin, "", dataDir, "wallet", "credit", b, amount); err != nil {
			return err
		}
	}
	for _, s := range f.Sellers {
		if err := cli(bin, "", dataDir, "pricing", "set", s, "--model", "outcome_based",
			"--outcome-price", "0.01", "--max-charge", "0.05"); err != nil {
			return err
		}
	}
	return nil
}

func cli(bin, stdin, dataDir string, args ...string) error {
	r, err := Run(bin, stdin, append([]string{"--data", dataDir}, args...)...)
	if err != nil {
		return err
	}
	if r.Code != 0 {
		return fmt.Errorf("agentmail %s: exit %d: %s", strings.Join(args, " "), r.Code, r.Stderr)
	}
	return nil
}

// Check runs `agentmail check` on a stopped data directory and returns its
// output, or an error when it found a problem.
func Check(bin, dataDir string) (string, error) {
	r, err := Run(bin, "", "--data", dataDir, "check")
	if err != nil {
		return "", err
	}
	if r.Code != 0 {
		return r.Stdout, fmt.Errorf("agentmail check: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout, nil
}
