package billing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// Amount is money in micro-units: one millionth of a currency unit. It is
// never a float.
type Amount int64

// MicrosPerUnit is the number of micro-units in one currency unit.
const MicrosPerUnit = 1_000_000

// AmountMax bounds every amount and balance, so that the sum of any two
// stays far inside int64 (a billion billion micro-units, 10^12 units).
const AmountMax Amount = 1_000_000_000_000_000_000

// ErrAmount is wrapped by every amount parse error.
var ErrAmount = errors.New("invalid amount")

var decimalContext = apd.BaseContext.WithPrecision(40)

// ParseAmount reads a non-negative decimal such as "0.25", "10" or "1e-6",
// with at most six fractional digits after trailing zeros are dropped.
func ParseAmount(s string) (Amount, error) {
	s = strings.TrimSpace(s)
	d, _, err := apd.NewFromString(s)
	if err != nil || d.Form != apd.Finite {
		return 0, fmt.Errorf("%w %q: not a decimal number", ErrAmount, s)
	}
	if d.Negative && !d.IsZero() {
		return 0, fmt.Errorf("%w %q: negative", ErrAmount, s)
	}
	if d.Exponent > 18 || d.NumDigits()+int64(d.Exponent) > 19 {
		return 0, fmt.Errorf("%w %q: too large", ErrAmount, s)
	}
	var micros apd.Decimal
	cond, err := decimalContext.Quantize(&micros, d, -6)
	if err != nil || cond.Inexact() {
		return 0, fmt.Errorf("%w %q: more than six decimal places", ErrAmount, s)
	}
	micros.Exponent = 0 // the coefficient is now the count of micro-units
	n, err := micros.Int64()
	if err != nil || Amount(n) > AmountMax {
		return 0, fmt.Errorf("%w %q: too large", ErrAmount, s)
	}
	return Amount(n), nil
}

// String writes the amount with exactly six decimals, as stamps show it.
func (a Amount) String() string {
	sign := ""
	v := int64(a)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%06d", sign, v/MicrosPerUnit, v%MicrosPerUnit)
}

// Compact writes the amount with no trailing zeros: "0.3", "9.75", "10".
func (a Amount) Compact() string {
	s := strings.TrimRight(a.String(), "0")
	return strings.TrimSuffix(s, ".")
}

// MarshalJSON writes the amount as an exact JSON number.
func (a Amount) MarshalJSON() ([]byte, error) {
	return []byte(a.Compact()), nil
}

// UnmarshalJSON reads a JSON number or string, never through float64.
func (a *Amount) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" { // JSON null is an absent amount
		return nil
	}
	s := string(data)
	if len(data) > 0 && data[0] == '"' {
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("%w: %v", ErrAmount, err)
		}
	}
	v, err := ParseAmount(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// CheckCurrency refuses anything but three upper-case letters.
func CheckCurrency(c string) error {
	if len(c) != 3 || strings.ToUpper(c) != c || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return fmt.Errorf("invalid currency %q: want an ISO 4217 code such as USD", c)
	}
	return nil
}

// Delta is a signed change to a balance, in micro-units.
type Delta int64

// String writes the change with six decimals and its sign.
func (d Delta) String() string {
	if d < 0 {
		return "-" + Amount(-d).String()
	}
	return Amount(d).String()
}

// MarshalJSON writes the change as an exact JSON number.
func (d Delta) MarshalJSON() ([]byte, error) {
	if d < 0 {
		return []byte("-" + Amount(-d).Compact()), nil
	}
	return []byte(Amount(d).Compact()), nil
}

// UnmarshalJSON reads a signed JSON number exactly.
func (d *Delta) UnmarshalJSON(data []byte) error {
	neg := bytes.HasPrefix(bytes.TrimSpace(data), []byte("-"))
	if neg {
		data = bytes.TrimPrefix(bytes.TrimSpace(data), []byte("-"))
	}
	var a Amount
	if err := a.UnmarshalJSON(data); err != nil {
		return err
	}
	*d = Delta(a)
	if neg {
		*d = -*d
	}
	return nil
}
