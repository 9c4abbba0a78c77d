package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// pricingFlag maps one flag of pricing set to one field of the contract's
// pricing JSON.
type pricingFlag struct {
	flag, field, usage string
	kind               flagKind
}

type flagKind int

const (
	kindText   flagKind = iota // a JSON string
	kindAmount                 // an exact decimal, passed as a JSON string
	kindInt                    // a JSON integer
	kindBool                   // a JSON boolean
	kindUnits                  // repeated name=price, a JSON object of amounts
)

var pricingFlags = []pricingFlag{
	{"model", "pricing_model", "pricing model: per_request, token_based, outcome_based, " +
		"compute_based, unit_based or dynamic", kindText},
	{"currency", "currency", "ISO 4217 currency code (default USD)", kindText},
	{"enabled", "enabled", "accept new paid requests (--enabled=false hides the pricing)",
		kindBool},
	{"base-price", "base_price", "charged on every settled request", kindAmount},
	{"token-price-input", "token_price_input", "price per million input tokens", kindAmount},
	{"token-price-output", "token_price_output", "price per million output tokens",
		kindAmount},
	{"outcome-price", "outcome_price", "price per outcome returned", kindAmount},
	{"compute-price", "compute_price", "price per second of compute", kindAmount},
	{"unit-price", "custom_unit_prices", "price of a custom unit as name=price (repeatable)",
		kindUnits},
	{"free-quota", "free_quota", "free requests per buyer per UTC calendar month", kindInt},
	{"minimum-charge", "minimum_charge", "floor of a settled, non-free request", kindAmount},
	{"max-charge", "max_charge", "the most one request may cost (required but for " +
		"per_request)", kindAmount},
	{"summary", "listing_summary", "public listing summary", kindText},
	{"docs", "request_payload_docs", "public description of the request payload", kindText},
	{"support-url", "support_url", "public support URL", kindText},
}

func addPricingFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	for _, f := range pricingFlags {
		switch f.kind {
		case kindInt:
			fs.Int64(f.flag, 0, f.usage)
		case kindBool:
			fs.Bool(f.flag, true, f.usage)
		case kindUnits:
			fs.StringArray(f.flag, nil, f.usage)
		default:
			fs.String(f.flag, "", f.usage)
		}
	}
}

// pricingFlagsSet reports whether any field flag was given.
func pricingFlagsSet(cmd *cobra.Command) bool {
	for _, f := range pricingFlags {
		if cmd.Flags().Changed(f.flag) {
			return true
		}
	}
	return false
}

// pricingFromFlags builds the pricing JSON object from the field flags that
// were given. Amounts stay strings, so no value passes through a float.
func pricingFromFlags(cmd *cobra.Command) ([]byte, error) {
	fs := cmd.Flags()
	obj := map[string]any{}
	for _, f := range pricingFlags {
		if !fs.Changed(f.flag) {
			continue
		}
		var err error
		switch f.kind {
		case kindInt:
			obj[f.field], err = fs.GetInt64(f.flag)
		case kindBool:
			obj[f.field], err = fs.GetBool(f.flag)
		case kindUnits:
			obj[f.field], err = unitPrices(fs.GetStringArray(f.flag))
		default:
			obj[f.field], err = fs.GetString(f.flag)
		}
		if err != nil {
			return nil, usageError{fmt.Errorf("--%s: %w", f.flag, err)}
		}
	}
	return json.Marshal(obj)
}

// unitPrices turns repeated name=price values into a map of unit prices.
func unitPrices(pairs []string, err error) (map[string]string, error) {
	if err != nil {
		return nil, err
	}
	units := make(map[string]string, len(pairs))
	for _, pair := range pairs {
		name, price, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want name=price", pair)
		}
		if _, dup := units[name]; dup {
			return nil, fmt.Errorf("unit %q given twice", name)
		}
		units[name] = price
	}
	return units, nil
}
