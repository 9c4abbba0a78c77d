package marketplace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"

	"agentmail/billing"
)

// usageCountMax bounds every count in a usage report. It is far above any
// real request and far below where products of counts and prices could
// approach the limits of the arithmetic.
const usageCountMax = 1_000_000_000_000_000

// usageLenMax bounds the usage JSON.
const usageLenMax = 8192

// Usage is what a seller reports in its response.
type Usage struct {
	OutcomesReturned *int64           `json:"outcomes_returned,omitempty"`
	TokensInput      *int64           `json:"tokens_input,omitempty"`
	TokensOutput     *int64           `json:"tokens_output,omitempty"`
	ComputeMs        *int64           `json:"compute_ms,omitempty"`
	CustomUnits      map[string]int64 `json:"custom_units,omitempty"`
	Amount           *billing.Amount  `json:"amount,omitempty"`
	Declined         bool             `json:"declined,omitempty"`
}

// ParseUsage reads a usage report strictly: unknown fields, and counts that
// are negative, fractional, not numbers or too large, are refused with a
// message naming the field; nothing is read as zero.
func ParseUsage(data []byte) (Usage, error) {
	var u Usage
	if len(data) > usageLenMax {
		return u, fmt.Errorf("usage longer than %d bytes", usageLenMax)
	}
	var fields map[string]json.RawMessage
	if err := decodeObject(data, &fields, false); err != nil || fields == nil {
		if errors.Is(err, errTrailingData) {
			return u, fmt.Errorf("usage has %w", err)
		}
		return u, fmt.Errorf("usage is not a JSON object")
	}
	if len(fields) != countKeys(data) {
		return u, fmt.Errorf("usage names a field twice")
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := u.setField(name, fields[name]); err != nil {
			return Usage{}, err
		}
	}
	return u, nil
}

func (u *Usage) setField(name string, raw json.RawMessage) error {
	count := func(dst **int64) error {
		n, err := parseCount(name, raw)
		*dst = &n
		return err
	}
	switch name {
	case "outcomes_returned":
		return count(&u.OutcomesReturned)
	case "tokens_input":
		return count(&u.TokensInput)
	case "tokens_output":
		return count(&u.TokensOutput)
	case "compute_ms":
		return count(&u.ComputeMs)
	case "custom_units":
		var units map[string]json.RawMessage
		if err := json.Unmarshal(raw, &units); err != nil || units == nil {
			return fmt.Errorf("usage custom_units must be an object of unit name to count")
		}
		if len(units) != countKeys(raw) {
			return fmt.Errorf("usage custom_units names a unit twice")
		}
		u.CustomUnits = make(map[string]int64, len(units))
		for unit, v := range units {
			n, err := parseCount("custom_units."+unit, v)
			if err != nil {
				return err
			}
			u.CustomUnits[unit] = n
		}
		return nil
	case "amount":
		if string(bytes.TrimSpace(raw)) == "null" {
			return fmt.Errorf("usage amount must be a decimal number, not null")
		}
		var a billing.Amount
		if err := a.UnmarshalJSON(raw); err != nil {
			return fmt.Errorf("usage amount: %v", err)
		}
		u.Amount = &a
		return nil
	case "declined":
		if string(bytes.TrimSpace(raw)) == "null" {
			return fmt.Errorf("usage declined must be true or false, not null")
		}
		if err := json.Unmarshal(raw, &u.Declined); err != nil {
			return fmt.Errorf("usage declined must be true or false")
		}
		return nil
	}
	return fmt.Errorf("usage has unknown field %q", name)
}

// parseCount reads a non-negative integer JSON number no larger than
// usageCountMax, refusing anything else rather than rounding or wrapping.
func parseCount(name string, raw json.RawMessage) (int64, error) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || s[0] == '-' {
		return 0, fmt.Errorf("usage %s must be a non-negative integer, got %s", name, s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		if numErr, ok := err.(*strconv.NumError); ok && numErr.Err == strconv.ErrRange {
			return 0, fmt.Errorf("usage %s is out of range: %s", name, s)
		}
		return 0, fmt.Errorf("usage %s must be a non-negative integer, got %s", name, s)
	}
	if n > usageCountMax {
		return 0, fmt.Errorf("usage %s is out of range: %s exceeds %d", name, s, usageCountMax)
	}
	return int64(n), nil
}

// canonical is the usage in one stable encoding, to tell a repeated response
// from a different one.
func (u Usage) canonical() string {
	data, _ := json.Marshal(u)
	return string(data)
}

// checkFor refuses a usage report that lacks what the seller's pricing model
// needs, or that reports units the seller does not price.
func (u Usage) checkFor(p Pricing) error {
	if u.Declined {
		return nil
	}
	for unit := range u.CustomUnits {
		if _, ok := p.CustomUnitPrices[unit]; !ok {
			return fmt.Errorf("usage custom_units.%s: the seller prices no such unit", unit)
		}
	}
	switch p.Model {
	case TokenBased:
		if u.TokensInput == nil || u.TokensOutput == nil {
			return fmt.Errorf("usage for token_based pricing needs tokens_input and tokens_output")
		}
	case OutcomeBased:
		if u.OutcomesReturned == nil {
			return fmt.Errorf("usage for outcome_based pricing needs outcomes_returned")
		}
	case ComputeBased:
		if u.ComputeMs == nil {
			return fmt.Errorf("usage for compute_based pricing needs compute_ms")
		}
	case UnitBased:
		if len(u.CustomUnits) == 0 {
			return fmt.Errorf("usage for unit_based pricing needs custom_units with a priced unit")
		}
	case DynamicPrices:
		if u.Amount == nil {
			return fmt.Errorf("usage for dynamic pricing needs amount")
		}
	}
	if u.Amount != nil && p.Model != DynamicPrices {
		return fmt.Errorf("usage amount is only for dynamic pricing, not %s", p.Model)
	}
	return nil
}

var errTrailingData = errors.New("trailing data after the JSON object")

// decodeObject decodes exactly one JSON value from data into v and refuses
// anything after it, including a stray '}' or ']' that Decoder.More misses.
func decodeObject(data []byte, v any, disallowUnknown bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if disallowUnknown {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailingData
	}
	return nil
}

// countKeys counts the top-level keys of a JSON object, duplicates included,
// so that {"a":1,"a":2} is not silently read as its last value.
func countKeys(data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return -1
	}
	n := 0
	for dec.More() {
		if _, err := dec.Token(); err != nil { // key
			return -1
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return -1
		}
		n++
	}
	return n
}
