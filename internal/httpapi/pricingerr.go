package httpapi

import (
	"errors"
	"strings"

	"agentmail/marketplace"
)

// explainPricingError turns a ParsePricing error into a message and the
// offending fields; marketplace names the field of every problem it finds.
func explainPricingError(err error) (string, []fieldProblem) {
	var fieldErr *marketplace.FieldError
	if !errors.As(err, &fieldErr) {
		return err.Error(), nil
	}
	fields := make([]fieldProblem, 0, len(fieldErr.Problems))
	for _, problem := range fieldErr.Problems {
		fields = append(fields, fieldProblem{Field: leadingName(problem), Message: problem})
	}
	return fieldErr.Error(), fields
}

// leadingName is the field a validation problem starts with, such as
// "max_charge" in "max_charge is required for the token_based model".
func leadingName(problem string) string {
	if i := strings.IndexAny(problem, " :"); i > 0 {
		return problem[:i]
	}
	return problem
}
