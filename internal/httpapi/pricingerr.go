package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"agentmail/marketplace"
)

// explainPricingError turns a ParsePricing error into a message and the
// offending fields. Validation problems already name their field. A decode
// error names none (encoding/json does not say which field a custom
// unmarshaler refused), so each top-level field is decoded alone to find it.
func explainPricingError(body []byte, err error) (string, []fieldProblem) {
	var fieldErr *marketplace.FieldError
	if errors.As(err, &fieldErr) {
		fields := make([]fieldProblem, 0, len(fieldErr.Problems))
		for _, problem := range fieldErr.Problems {
			fields = append(fields, fieldProblem{Field: leadingName(problem), Message: problem})
		}
		return fieldErr.Error(), fields
	}

	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil || obj == nil {
		return "pricing must be a single JSON object", nil
	}
	var fields []fieldProblem
	for name, raw := range obj {
		if msg := decodeOneField(name, raw); msg != "" {
			fields = append(fields, fieldProblem{Field: name, Message: msg})
		}
	}
	if len(fields) == 0 {
		return "pricing must be a single JSON object", nil
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i].Field < fields[j].Field })
	problems := make([]string, len(fields))
	for i, f := range fields {
		problems[i] = f.Message
	}
	return "invalid pricing: " + strings.Join(problems, "; "), fields
}

// decodeOneField decodes {name: raw} as a Pricing and describes what is
// wrong with it, or returns "" when the field alone is fine.
func decodeOneField(name string, raw json.RawMessage) string {
	one, err := json.Marshal(map[string]json.RawMessage{name: raw})
	if err != nil {
		return fmt.Sprintf("%s: not valid JSON", name)
	}
	dec := json.NewDecoder(bytes.NewReader(one))
	dec.DisallowUnknownFields()
	var p marketplace.Pricing
	err = dec.Decode(&p)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &typeErr):
		return fmt.Sprintf("%s: a JSON %s is not allowed here", name, typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return fmt.Sprintf("%s: unknown field", name)
	}
	return fmt.Sprintf("%s: %s", name, strings.TrimPrefix(err.Error(), "json: "))
}

// leadingName is the field a validation problem starts with, such as
// "max_charge" in "max_charge is required for the token_based model".
func leadingName(problem string) string {
	if i := strings.IndexAny(problem, " :"); i > 0 {
		return problem[:i]
	}
	return problem
}
