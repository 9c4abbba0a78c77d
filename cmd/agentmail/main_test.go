package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binary is the agentmail command built once for every test.
var binary string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	binary = filepath.Join("tmp", "agentmail")
	build := []string{"build", "-o", binary}
	if raceEnabled {
		build = append(build, "-race")
	}
	out, err := exec.Command("go", append(build, ".")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	defer os.Remove(binary)
	if binary, err = filepath.Abs(binary); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// result is what one run of the binary left behind.
type result struct {
	stdout, stderr string
	code           int
}

// cliEnv is the environment of every run: the tests' own, without
// AGENTMAIL_DATA unless a test sets it. A race-enabled binary sleeps a second
// at exit by default; without the sleep it still reports races and exits 66.
func cliEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envData+"=") && !strings.HasPrefix(kv, "GORACE=") {
			env = append(env, kv)
		}
	}
	if raceEnabled {
		opts := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
		env = append(env, "GORACE="+opts)
	}
	return append(env, extra...)
}

// agentmail runs the binary with stdin and returns what it printed and its
// exit code.
func agentmail(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return agentmailEnv(t, nil, stdin, args...)
}

func agentmailEnv(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = cliEnv(env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("run agentmail %v: %v", args, err)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// ok runs the binary and fails the test unless it exits 0.
func ok(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := agentmail(t, stdin, args...)
	if r.code != exitOK {
		t.Fatalf("agentmail %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "),
			r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// decode parses the JSON a command printed, keeping numbers exact.
func decode(t *testing.T, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
}
