package marketplace

import (
	"bytes"
	"strings"
)

// Header names of the contract. Names compare case-insensitively.
const (
	HeaderRequestID   = "X-AgentMail-Marketplace-Request-Id"
	HeaderUsage       = "X-AgentMail-Usage"
	HeaderMaxCharge   = "X-AgentMail-Max-Charge"
	HeaderReservation = "X-AgentMail-Reservation"
	HeaderSettlement  = "X-AgentMail-Settlement"
)

// field is one header field of a raw message: its name, its unfolded value
// and where its lines are in the message.
type field struct {
	name       string
	value      string
	start, end int
}

// scanHeader splits the header section of raw into fields without judging
// it: a message with malformed lines is still read as far as it makes
// sense. The section ends at the first empty line, or at the first line that
// is neither a field nor a continuation (a message with no blank line before
// its body, RFC 5322 section 2.1). It returns the fields and the offset where
// the body begins.
func scanHeader(raw []byte) ([]field, int) {
	var fields []field
	pos := 0
	for pos < len(raw) {
		lineEnd := bytes.IndexByte(raw[pos:], '\n')
		next := len(raw)
		if lineEnd >= 0 {
			next = pos + lineEnd + 1
		}
		line := bytes.TrimRight(raw[pos:next], "\r\n")
		switch {
		case len(line) == 0:
			return fields, next
		case (line[0] == ' ' || line[0] == '\t') && len(fields) > 0:
			f := &fields[len(fields)-1]
			f.value += " " + strings.TrimSpace(string(line))
			f.end = next
		default:
			colon := bytes.IndexByte(line, ':')
			if colon <= 0 || bytes.ContainsAny(line[:colon], " \t") {
				return fields, pos
			}
			fields = append(fields, field{
				name:  string(line[:colon]),
				value: strings.TrimSpace(string(line[colon+1:])),
				start: pos,
				end:   next,
			})
		}
		pos = next
	}
	return fields, pos
}

// headerValues returns the values of every field named name.
func headerValues(fields []field, name string) []string {
	var out []string
	for _, f := range fields {
		if strings.EqualFold(f.name, name) {
			out = append(out, f.value)
		}
	}
	return out
}

// isServerStamp reports whether a field name is one only the server writes.
func isServerStamp(name string) bool {
	return strings.EqualFold(name, HeaderReservation) || strings.EqualFold(name, HeaderSettlement)
}

// stripStamps returns raw without any client-supplied reservation or
// settlement stamp, so that a stamp in a mailbox is always the server's own.
// raw is returned unchanged when it has none.
func stripStamps(raw []byte, fields []field) ([]byte, int) {
	removed := 0
	var out []byte
	last := 0
	for _, f := range fields {
		if !isServerStamp(f.name) {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(raw))
		}
		out = append(out, raw[last:f.start]...)
		last = f.end
		removed++
	}
	if removed == 0 {
		return raw, 0
	}
	return append(out, raw[last:]...), removed
}

// prependField returns a new message with "name: value" before raw.
func prependField(raw []byte, name, value string) []byte {
	out := make([]byte, 0, len(name)+len(value)+4+len(raw))
	out = append(out, name...)
	out = append(out, ": "...)
	out = append(out, value...)
	out = append(out, "\r\n"...)
	return append(out, raw...)
}
