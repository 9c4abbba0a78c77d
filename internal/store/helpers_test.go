package store

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// smallFS mounts a tmpfs of sizeMiB under a temporary directory and returns
// its path; it is unmounted when the test ends. It skips the test where
// mounting is not permitted (not root, or no CAP_SYS_ADMIN in a container).
func smallFS(t *testing.T, sizeMiB int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	opts := "size=" + strconv.Itoa(sizeMiB) + "m"
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			skipOrFail(t, "mount tmpfs (%s) not permitted here: %v; run as root to test a full disk",
				opts, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// skipOrFail is testutil.SkipOrFail, which this package cannot import (it
// imports the store): skip on a developer's machine, fail under CI.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}
