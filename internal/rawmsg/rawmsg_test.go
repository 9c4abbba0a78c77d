package rawmsg

import (
	"strings"
	"testing"
)

func TestScanHeaderUnfolds(t *testing.T) {
	raw := "X-AgentMail-Marketplace-Request-Id:\r\n req-1\r\n" +
		"Subject: a\r\n\tb  \r\n c\r\nbad line\r\n continuation of bad\r\n" +
		"From : x@y\r\n\r\nbody: no\r\n"
	fields, body := ScanHeader([]byte(raw))
	got := map[string]string{}
	for _, f := range fields {
		got[f.Name] = f.Value
	}
	want := map[string]string{"X-AgentMail-Marketplace-Request-Id": "req-1",
		"Subject": "a b c", "From": "x@y"}
	if len(got) != len(want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if raw[body:] != "body: no\r\n" {
		t.Errorf("body starts at %q", raw[body:])
	}
}

// A header folded over many lines must cost linear time: it is scanned on
// every submission and on IMAP ENVELOPE and SEARCH. Joining the lines one
// concatenation at a time allocated once per line (quadratic copying);
// the allocations must not grow with the number of lines.
func TestScanHeaderFoldedAllocationsDoNotGrow(t *testing.T) {
	folded := func(lines int) []byte {
		return []byte("From: a@localhost\r\nX-Fold: a\r\n" +
			strings.Repeat(" b\r\n", lines) + "\r\nbody\r\n")
	}
	small, large := folded(1_000), folded(100_000)
	allocs := func(raw []byte) float64 {
		return testing.AllocsPerRun(3, func() { ScanHeader(raw) })
	}
	if a, b := allocs(small), allocs(large); b > 2*a+20 {
		t.Errorf("ScanHeader allocates %.0f times for 1,000 folded lines and %.0f for "+
			"100,000: its cost grows faster than the header", a, b)
	}
	fields, _ := ScanHeader(large)
	if len(fields) != 2 || len(fields[1].Value) != 1+2*100_000 {
		t.Errorf("folded value has %d bytes", len(fields[1].Value))
	}
}
