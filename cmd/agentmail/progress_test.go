package main

import (
	"bytes"
	"testing"
)

func TestRenderProgress(t *testing.T) {
	for _, tc := range []struct {
		done, total int64
		want        string
	}{
		{0, 4 << 20, "backup [..............................]   0% 0.0 MiB / 4.0 MiB"},
		{1 << 20, 4 << 20, "backup [#######.......................]  25% 1.0 MiB / 4.0 MiB"},
		{4 << 20, 4 << 20, "backup [##############################] 100% 4.0 MiB / 4.0 MiB"},
		{3 << 20, -1, "backup 3.0 MiB"},
	} {
		if got := renderProgress("backup", tc.done, tc.total); got != tc.want {
			t.Errorf("renderProgress(%d, %d) = %q, want %q", tc.done, tc.total, got, tc.want)
		}
	}
}

// Without a terminal there is no bar, and wrapping changes nothing.
func TestProgressOffWithoutTerminal(t *testing.T) {
	var buf bytes.Buffer
	bar := newProgress(&buf, "backup")
	if bar != nil {
		t.Fatal("a bar on a bytes.Buffer")
	}
	w := bar.wrap(&buf)
	bar.setTotal(10)
	if _, err := w.Write([]byte("data")); err != nil || buf.String() != "data" {
		t.Fatalf("wrapped write: %q, %v", buf.String(), err)
	}
	bar.finish()
}
