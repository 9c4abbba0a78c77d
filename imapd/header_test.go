package imapd

import (
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	want := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
	for _, v := range []string{
		"Mon, 02 Jan 2006 15:04:05 +0000",
		"Mon, 2 Jan 2006 15:04:05 +0000",
		"02 Jan 2006 16:04:05 +0100",
		"Mon, 02 Jan 2006 15:04:05 +0000 (UTC)", // comment: net/mail's parser
		"Mon, 2 Jan 2006 15:04:05 GMT",          // obsolete zone
	} {
		got, ok := parseDate(v)
		if !ok || !got.Equal(want) {
			t.Errorf("parseDate(%q) = %v, %v", v, got, ok)
		}
	}
	for _, v := range []string{"", "yesterday at noon", "Mon, 32 Jan 2006 15:04:05 +0000"} {
		if _, ok := parseDate(v); ok {
			t.Errorf("parseDate(%q) succeeded", v)
		}
	}
}

func TestFieldText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                           "plain",
		"=?utf-8?q?caf=C3=A9?=":           "café",
		"=?iso-8859-1?q?caf=E9?= au lait": "café au lait",
		"=?x-unknown?q?abc?=":             "=?x-unknown?q?abc?=",
	} {
		if got := fieldText(in); got != want {
			t.Errorf("fieldText(%q) = %q, want %q", in, got, want)
		}
	}
}
