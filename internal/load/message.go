package load

import (
	"bytes"
	"fmt"
	"time"
)

// fillerLine is one line of body text: 74 printable characters and CRLF.
const fillerLine = "The quick brown fox jumps over the lazy dog; agentmail load body text 0123\r\n"

const lineLen = len(fillerLine)

// newFiller returns body text of at least size bytes that messages are cut
// from, so every message is valid 7-bit mail of about the asked size. It is
// made per run, never at start-up: the binary that serves mail imports this
// package too.
func newFiller(size int) []byte {
	return bytes.Repeat([]byte(fillerLine), size/lineLen+1)
}

// message is one composed submission.
type message struct {
	kind      string
	from, to  string
	requestID string
	header    []byte
	body      []byte // a slice of filler, shared; never written to
}

// compose builds, from filler, a message of about size bytes (at least its
// header) whose header names the kind and, for marketplace mail, the id.
func compose(filler []byte, kind, from, to, requestID string, size int,
	now time.Time) message {
	var h bytes.Buffer
	fmt.Fprintf(&h, "From: <%s>\r\nTo: <%s>\r\nSubject: load %s %s\r\n", from, to, kind, requestID)
	fmt.Fprintf(&h, "Date: %s\r\nMessage-ID: <%s.%d@load>\r\n",
		now.Format(time.RFC1123Z), requestID, now.UnixNano())
	switch kind {
	case KindRequest:
		fmt.Fprintf(&h, "X-AgentMail-Marketplace-Request-Id: %s\r\n", requestID)
	case KindResponse:
		fmt.Fprintf(&h, "X-AgentMail-Marketplace-Request-Id: %s\r\nX-AgentMail-Usage: {}\r\n",
			requestID)
	}
	h.WriteString("Content-Type: text/plain; charset=us-ascii\r\n\r\n")
	// Whole lines only, so no message ends inside a line.
	n := max(size-h.Len(), 0)
	body := filler[:n-n%lineLen]
	return message{kind: kind, from: from, to: to, requestID: requestID,
		header: h.Bytes(), body: body}
}
