package testutil

import (
	"os"
	"testing"
)

// SkipOrFail skips a test that lacks something of its environment (a
// program, a permission) on a developer's machine, and fails it under CI,
// where .ci/run provides everything: a missing install step must not turn
// into a suite that passes by testing less.
func SkipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}
