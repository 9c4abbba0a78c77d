package marketplace

import (
	"bytes"
	"testing"
)

func TestStrictJSONInputs(t *testing.T) {
	for _, in := range []string{"null", "[]", `"x"`, `{"base_price":0.1,"base_price":5}`} {
		if p, err := ParsePricing([]byte(in)); err == nil {
			t.Errorf("ParsePricing(%s) accepted as %+v", in, p)
		}
	}
	if u, err := ParseUsage([]byte(`{"custom_units":{"page":1,"page":100}}`)); err == nil {
		t.Errorf("a unit named twice accepted as %v", u.CustomUnits)
	}
}

func TestBodyFieldNamesAreExact(t *testing.T) {
	read := func(body string) bodyFields {
		return readBodyFields(bytes.NewReader([]byte(
			"From: buyer@localhost\r\nTo: seller@localhost\r\n\r\n" + body)))
	}
	if f := read(`{"MARKETPLACE_REQUEST_ID":"x","Usage":{"outcomes_returned":1}}`); f.RequestID != nil ||
		len(f.Usage) != 0 {
		t.Errorf("upper-case body fields read as marketplace fields: %+v", f)
	}
	if f := read(`{"marketplace_request_id":5}`); f.Bad != "marketplace_request_id" {
		t.Errorf("a numeric request id in the body was not flagged: %+v", f)
	}
	if f := read(`{"marketplace_request_id":"r-1"}`); f.RequestID == nil || *f.RequestID != "r-1" {
		t.Errorf("body request id not read: %+v", f)
	}
}
