package imapd

import (
	"mime"
	"strings"
	"time"

	"github.com/emersion/go-message/charset"

	"agentmail/internal/envelope"
	"agentmail/internal/rawmsg"
)

// Header values for ENVELOPE and SEARCH are read from rawmsg fields, the
// same reading the marketplace uses, and decoded here.

// wordDecoder decodes RFC 2047 encoded words, with go-message's legacy
// charsets.
var wordDecoder = mime.WordDecoder{CharsetReader: charset.Reader}

// fieldText decodes a field's encoded words; a value that does not decode
// is used as it is (RFC 2047 section 6.3 asks readers to be lenient).
func fieldText(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	text, err := wordDecoder.DecodeHeader(v)
	if err != nil {
		return v
	}
	return text
}

// firstValue returns the value of the first field named name, or "".
func firstValue(fields []rawmsg.Field, name string) string {
	for _, f := range fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// fieldsContain reports whether a field named name contains s, decoded
// and without regard to case; an empty s matches any such field (RFC 9051
// section 6.4.4, HEADER).
func fieldsContain(fields []rawmsg.Field, name, s string) bool {
	s = strings.ToLower(s)
	for _, f := range fields {
		if strings.EqualFold(f.Name, name) &&
			strings.Contains(strings.ToLower(fieldText(f.Value)), s) {
			return true
		}
	}
	return false
}

// parseDate reads a Date field; ok is false when it cannot.
func parseDate(v string) (time.Time, bool) { return envelope.ParseDate(v) }
