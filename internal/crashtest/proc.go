package crashtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"agentmail/internal/testutil"
)

// startTimeout bounds how long a server may take to start listening.
const startTimeout = 20 * time.Second

// BuildBinary compiles agentmail into dir and returns the binary's path.
func BuildBinary(dir string, race bool) (string, error) {
	bin := filepath.Join(dir, "agentmail")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "agentmail/cmd/agentmail")...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// Server is one `agentmail serve` process over a data directory, on free
// loopback ports.
type Server struct {
	cmd  *exec.Cmd
	log  *testutil.Buffer
	done chan struct{}

	SMTP, IMAP, HTTP string // listening addresses
}

var addrRe = regexp.MustCompile(`agentmail serving.* smtp=(\S+) imap=(\S+) http=(\S+)`)

// serverConfig lifts the per-agent send rate limit: the traffic sends as
// fast as the server answers, and a refusal for rate would test nothing.
const serverConfig = `
[smtp]
send_rate_per_minute = 0
send_burst = 0
`

// StartServer runs bin serve over dataDir and waits until it listens. Its
// configuration file is written beside dataDir.
func StartServer(bin, dataDir string) (*Server, error) {
	conf := filepath.Clean(dataDir) + ".toml"
	if err := os.WriteFile(conf, []byte(serverConfig), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", conf, "--data", dataDir,
		"--smtp", "127.0.0.1:0", "--imap", "127.0.0.1:0", "--http", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	s := &Server{cmd: cmd, log: &testutil.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()

	deadline := time.After(startTimeout)
	for {
		if m := addrRe.FindStringSubmatch(s.log.String()); m != nil {
			s.SMTP, s.IMAP, s.HTTP = m[1], m[2], m[3]
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("agentmail serve exited: %s\n%s", cmd.ProcessState, s.log)
		case <-deadline:
			s.Kill()
			return nil, fmt.Errorf("agentmail serve did not listen within %s\n%s",
				startTimeout, s.log)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Kill ends the server with SIGKILL, as a crash or power loss would, and
// waits for it to be gone.
func (s *Server) Kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Stop ends the server with SIGTERM and returns its exit error, if any.
func (s *Server) Stop(timeout time.Duration) error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.Kill()
		return fmt.Errorf("no exit within %s of SIGTERM", timeout)
	}
	if !s.cmd.ProcessState.Success() {
		return errors.New(s.cmd.ProcessState.String())
	}
	return nil
}

// Log returns what the server has logged so far.
func (s *Server) Log() string { return s.log.String() }

// Result is what one run of a command printed and how it exited.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs bin with args and stdin and waits for it.
func Run(bin, stdin string, args ...string) (Result, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return Result{}, err
	}
	return Result{out.String(), errOut.String(), cmd.ProcessState.ExitCode()}, nil
}
