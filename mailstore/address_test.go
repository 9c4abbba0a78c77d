package mailstore

import "testing"

func TestNormalizeAddress(t *testing.T) {
	for in, want := range map[string]string{
		"Kelly@LocalHost":           "kelly@localhost",
		"a.b-c_d+tag@x.example":     "a.b-c_d+tag@x.example",
		"\u212aelly@localhost":      "", // KELVIN SIGN lower-cases to k
		"kelly@l\u0131calhost":      "", // dotless i
		"Kelly <kelly@localhost>":   "",
		"\"k elly\"@localhost":      "",
		"kelly@":                    "",
		"kelly/../x@localhost":      "",
		"kelly@localhost extra":     "",
		"k\u00e9lly@localhost":      "",
		"kelly@localhost\r\nBcc: x": "",
	} {
		got, err := NormalizeAddress(in)
		if want == "" {
			if err == nil {
				t.Errorf("NormalizeAddress(%q) = %q, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("NormalizeAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
