// Package rawmsg reads and edits the header section of a message as raw
// bytes, leniently: it never refuses a message, and every byte it does not
// remove on purpose is kept exactly.
package rawmsg

import (
	"bytes"
	"strings"
)

// Field is one header field of a raw message: its name, its unfolded value
// and where its lines are in the message.
type Field struct {
	Name       string
	Value      string
	Start, End int // byte offsets of the field's lines, folded lines included
}

// ScanHeader splits the header section of raw into fields without judging
// it. The section ends at the first empty line (RFC 5322 section 2.1), or at
// the end of raw when there is none. A line that is neither a field nor a
// continuation is skipped, with its continuations, rather than ending the
// section: mail readers differ on where such a header ends, so every line up
// to the empty line is treated as header, and no field can hide behind a
// malformed one. White space between a field name and its colon is allowed
// (RFC 5322 section 4.5.3, obsolete syntax that readers still accept). It
// returns the fields and the offset where the body begins.
func ScanHeader(raw []byte) ([]Field, int) {
	var fields []Field
	var valueStarts []int // where each field's value begins in raw
	inField := false      // the previous line was a field, so a continuation extends it
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
			unfold(raw, fields, valueStarts)
			return fields, next
		case line[0] == ' ' || line[0] == '\t':
			if inField {
				fields[len(fields)-1].End = next
			}
		default:
			colon := bytes.IndexByte(line, ':')
			name := line
			if colon >= 0 {
				name = bytes.TrimRight(line[:colon], " \t")
			}
			inField = colon >= 0 && len(name) > 0 && !bytes.ContainsAny(name, " \t")
			if inField {
				fields = append(fields, Field{Name: string(name), Start: pos, End: next})
				valueStarts = append(valueStarts, pos+colon+1)
			}
		}
		pos = next
	}
	unfold(raw, fields, valueStarts)
	return fields, pos
}

// unfold sets each field's Value: its lines joined by single spaces, each
// trimmed, empty ones dropped (RFC 5322 section 2.2.3). It runs once per
// field at the end, so a header folded over many lines costs linear time.
func unfold(raw []byte, fields []Field, valueStarts []int) {
	for i := range fields {
		var b strings.Builder
		for _, line := range bytes.Split(raw[valueStarts[i]:fields[i].End], []byte("\n")) {
			part := bytes.TrimSpace(line)
			if len(part) == 0 {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.Write(part)
		}
		fields[i].Value = b.String()
	}
}

// Values returns the values of every field named name.
func Values(fields []Field, name string) []string {
	var out []string
	for _, f := range fields {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// StripFields returns raw without the fields for which drop is true, and how
// many it removed. raw is returned unchanged when none is removed.
func StripFields(raw []byte, fields []Field, drop func(name string) bool) ([]byte, int) {
	removed := 0
	var out []byte
	last := 0
	for _, f := range fields {
		if !drop(f.Name) {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(raw))
		}
		out = append(out, raw[last:f.Start]...)
		last = f.End
		removed++
	}
	if removed == 0 {
		return raw, 0
	}
	return append(out, raw[last:]...), removed
}

// PrependField returns a new message with "name: value" before raw.
func PrependField(raw []byte, name, value string) []byte {
	out := make([]byte, 0, len(name)+len(value)+4+len(raw))
	out = append(out, name...)
	out = append(out, ": "...)
	out = append(out, value...)
	out = append(out, "\r\n"...)
	return append(out, raw...)
}
