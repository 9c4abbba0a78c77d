package marketplace

import (
	"bytes"
	"fmt"
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
func readMarketplaceData(raw []byte, fields []rawmsg.Field) (marketplaceData, *Refusal) {
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
	body := readBodyFields(raw)

	if len(ids) == 1 {
		in.requestID = ids[0]
	}
	if body.RequestID != nil {
		if in.requestID != "" && in.requestID != *body.RequestID {
			return in, refuseData("request id in %s (%q) and body (%q) disagree",
				HeaderRequestID, in.requestID, *body.RequestID)
		}
		in.requestID = *body.RequestID
	}
	if in.requestID != "" || body.RequestID != nil {
		if err := checkRequestID(in.requestID); err != nil {
			return in, refuseData("%v", err)
		}
	}

	var usageJSON []byte
	if len(usages) == 1 {
		usageJSON = []byte(usages[0])
	}
	if len(body.Usage) > 0 && string(body.Usage) != "null" {
		if usageJSON != nil {
			hu, herr := ParseUsage(usageJSON)
			bu, berr := ParseUsage(body.Usage)
			if herr == nil && berr == nil && hu.canonical() != bu.canonical() {
				return in, refuseData("usage in %s and body disagree", HeaderUsage)
			}
		}
		if usageJSON == nil {
			usageJSON = body.Usage
		}
	}
	if usageJSON != nil {
		u, err := ParseUsage(usageJSON)
		if err != nil {
			return in, refuseData("bad usage: %v", err)
		}
		in.usage = &u
	}

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
