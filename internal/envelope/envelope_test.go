package envelope

import (
	"reflect"
	"testing"
)

// What Marshal writes, Unmarshal reads back unchanged; damaged values are
// refused rather than misread.
func TestRoundTrip(t *testing.T) {
	for _, raw := range []string{
		"From: \"Ann\" <ann@example.org>, bob@example.org\r\nTo: c@example.com\r\n" +
			"Cc: undisclosed-recipients:;\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n" +
			"Subject: second\r\nDate: Mon, 2 Jan 2006 15:04:05 +0100\r\n" +
			"Message-Id: <1@x>\r\nIn-Reply-To: <0@x>\r\n\r\nbody\r\n",
		"no header at all",
		"Date: yesterday\r\nbroken line\r\nSubject: after it\r\n\r\n",
	} {
		sum := FromHeader([]byte(raw))
		v := sum.Marshal()
		got, err := Unmarshal(v)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if !got.Envelope.Date.Equal(sum.Envelope.Date) {
			t.Errorf("%q: date %v, want %v", raw, got.Envelope.Date, sum.Envelope.Date)
		}
		got.Envelope.Date = sum.Envelope.Date // compared above with Equal: locations differ
		if !reflect.DeepEqual(got, sum) {
			t.Errorf("%q:\n got %+v\nwant %+v", raw, got.Envelope, sum.Envelope)
		}
		for i := range v {
			if _, err := Unmarshal(v[:i]); err == nil {
				t.Errorf("%q: truncated to %d bytes read without error", raw, i)
			}
		}
	}
	if sum := FromHeader([]byte("Subject: after it\r\n")); sum.Envelope.Subject != "after it" ||
		len(sum.Subjects) != 1 {
		t.Errorf("subject: %+v", sum)
	}
}
