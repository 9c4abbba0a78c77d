package marketplace

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // legacy charsets in text parts
)

// bodyJSONMax bounds how much of a body part is read looking for JSON.
const bodyJSONMax = 1 << 20

// partsMax bounds how many MIME parts are walked looking for the body.
const partsMax = 100

// bodyFields are the marketplace fields a JSON body may carry.
type bodyFields struct {
	RequestID *string
	Usage     json.RawMessage
	// Bad names a marketplace field present with the wrong JSON type.
	Bad string
}

// readBodyFields finds the first text/plain or application/json part and, if
// it holds a JSON object, returns its marketplace fields. A body that is not
// JSON carries none; that is not an error. The message is read as a stream,
// and a part whose first non-space byte is not '{' is not read further, so
// a large message is never held in memory here.
func readBodyFields(msg io.Reader) bodyFields {
	ent, err := message.Read(msg)
	if ent == nil || (err != nil && !message.IsUnknownCharset(err) &&
		!message.IsUnknownEncoding(err)) {
		return bodyFields{}
	}
	part, ok := firstTextPart(ent, new(int))
	if !ok {
		return bodyFields{}
	}
	body := bufio.NewReaderSize(part, 512)
	for {
		c, err := body.ReadByte()
		if err != nil || c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			if err != nil || c != '{' {
				return bodyFields{}
			}
			_ = body.UnreadByte()
			break
		}
	}
	data, err := io.ReadAll(io.LimitReader(body, bodyJSONMax))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return bodyFields{}
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return bodyFields{}
	}
	// Field names match exactly: encoding/json would also take
	// "MARKETPLACE_REQUEST_ID" for the field, which no agent meant.
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return bodyFields{}
	}
	var f bodyFields
	if raw, ok := obj["marketplace_request_id"]; ok {
		var id string
		if json.Unmarshal(raw, &id) != nil {
			return bodyFields{Bad: "marketplace_request_id"}
		}
		f.RequestID = &id
	}
	f.Usage = obj["usage"]
	return f
}

func firstTextPart(ent *message.Entity, seen *int) (io.Reader, bool) {
	*seen++
	if *seen > partsMax {
		return nil, false
	}
	mediaType, _, err := mime.ParseMediaType(ent.Header.Get("Content-Type"))
	if err != nil {
		mediaType = "text/plain" // RFC 2045 section 5.2 default
	}
	if mr := ent.MultipartReader(); mr != nil {
		for {
			part, err := mr.NextPart()
			if err != nil {
				return nil, false
			}
			if r, ok := firstTextPart(part, seen); ok {
				return r, true
			}
		}
	}
	switch strings.ToLower(mediaType) {
	case "text/plain", "application/json":
		return ent.Body, true
	}
	return nil, false
}
