package marketplace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"agentmail/billing"
	"agentmail/internal/rawmsg"
)

// requestIDLenMax is the contract's bound on request ids.
const requestIDLenMax = 128

// marketplaceData is what a message says about billing.
type marketplaceData struct {
	kind      string
	requestID string
	usage     *Usage
	maxCharge *billing.Amount
}

// readMarketplaceData reads the request id, usage and buyer's cap from the
// headers and the JSON body, and decides the kind of message.
func readMarketplaceData(msg io.Reader, fields []rawmsg.Field) (marketplaceData, *Refusal) {
	var in marketplaceData
	ids := rawmsg.Values(fields, HeaderRequestID)
	usages := rawmsg.Values(fields, HeaderUsage)
	caps := rawmsg.Values(fields, HeaderMaxCharge)
	for name, vals := range map[string][]string{HeaderRequestID: ids, HeaderUsage: usages,
		HeaderMaxCharge: caps} {
		if len(vals) > 1 {
			return in, refuseData("%s appears %d times; send it once", name, len(vals))
		}
	}
	body := readBodyFields(msg)

	if len(ids) == 1 {
		in.requestID = ids[0]
	}
	if body.Bad != "" {
		return in, refuseData("the JSON body's %s must be a string", body.Bad)
	}
	if body.RequestID != nil {
		if in.requestID != "" && in.requestID != *body.RequestID {
			return in, refuseData("request id in %s (%q) and body (%q) disagree",
				HeaderRequestID, in.requestID, *body.RequestID)
		}
		in.requestID = *body.RequestID
	}
	if len(ids) == 1 || body.RequestID != nil {
		if err := checkRequestID(in.requestID); err != nil {
			return in, refuseData("%v", err)
		}
	}

	u, refusal := readUsage(usages, body.Usage)
	if refusal != nil {
		return in, refusal
	}
	in.usage = u

	if len(caps) == 1 {
		c, err := billing.ParseAmount(caps[0])
		if err != nil {
			return in, refuseData("bad %s: %v", HeaderMaxCharge, err)
		}
		in.maxCharge = &c
	}

	switch {
	case in.requestID == "" && in.usage != nil:
		return in, refuseData("usage without a marketplace request id settles nothing; "+
			"add %s", HeaderRequestID)
	case in.requestID == "":
		in.kind = KindPlain
	case in.usage == nil:
		in.kind = KindRequest
	default:
		in.kind = KindResponse
	}
	return in, nil
}

// checkRequestID enforces the contract: 1 to 128 printable ASCII characters,
// no spaces.
func checkRequestID(id string) error {
	if id == "" || len(id) > requestIDLenMax {
		return fmt.Errorf("bad request id: must be 1 to %d characters, got %d",
			requestIDLenMax, len(id))
	}
	if i := strings.IndexFunc(id, func(r rune) bool { return r <= ' ' || r > '~' }); i >= 0 {
		return fmt.Errorf("bad request id %q: only printable ASCII without spaces", id)
	}
	return nil
}

// stampValue writes a stamp's key=value list.
func stampValue(pairs ...string) string {
	var b bytes.Buffer
	for i := 0; i+1 < len(pairs); i += 2 {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(pairs[i] + "=" + pairs[i+1])
	}
	return b.String()
}

// readUsage reads the usage from the header and the body. Each one present
// must be valid, and when both are present they must agree.
func readUsage(headers []string, body json.RawMessage) (*Usage, *Refusal) {
	var found []Usage
	if len(headers) == 1 {
		u, err := ParseUsage([]byte(headers[0]))
		if err != nil {
			return nil, refuseData("bad usage in %s: %v", HeaderUsage, err)
		}
		found = append(found, u)
	}
	if len(body) > 0 && string(body) != "null" {
		u, err := ParseUsage(body)
		if err != nil {
			return nil, refuseData("bad usage in the body: %v", err)
		}
		found = append(found, u)
	}
	switch {
	case len(found) == 0:
		return nil, nil
	case len(found) == 2 && found[0].canonical() != found[1].canonical():
		return nil, refuseData("usage in %s and body disagree", HeaderUsage)
	}
	return &found[0], nil
}
