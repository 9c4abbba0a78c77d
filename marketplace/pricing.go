package marketplace

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"

	"agentmail/billing"
	"agentmail/internal/store"
)

var bucketPricing = []byte("mp_pricing") // seller → Pricing

// Pricing models of the contract.
const (
	PerRequest    = "per_request"
	TokenBased    = "token_based"
	OutcomeBased  = "outcome_based"
	ComputeBased  = "compute_based"
	UnitBased     = "unit_based"
	DynamicPrices = "dynamic"
)

var models = []string{PerRequest, TokenBased, OutcomeBased, ComputeBased, UnitBased, DynamicPrices}

// Limits on what a seller may publish.
const (
	textLenMax        = 4096
	customUnitsMax    = 64
	customUnitNameMax = 64
)

// ErrNoPricing is returned when an agent has published no pricing.
var ErrNoPricing = errors.New("no pricing")

// Pricing is what a seller charges. Absent prices count as zero.
type Pricing struct {
	Model            string                    `json:"pricing_model"`
	Currency         string                    `json:"currency"`
	Enabled          *bool                     `json:"enabled,omitempty"`
	BasePrice        billing.Amount            `json:"base_price"`
	TokenPriceInput  billing.Amount            `json:"token_price_input"`
	TokenPriceOutput billing.Amount            `json:"token_price_output"`
	OutcomePrice     billing.Amount            `json:"outcome_price"`
	ComputePrice     billing.Amount            `json:"compute_price"`
	CustomUnitPrices map[string]billing.Amount `json:"custom_unit_prices,omitempty"`
	FreeQuota        int64                     `json:"free_quota"`
	MinimumCharge    billing.Amount            `json:"minimum_charge"`
	MaxCharge        *billing.Amount           `json:"max_charge,omitempty"`
	ListingSummary   string                    `json:"listing_summary,omitempty"`
	RequestDocs      string                    `json:"request_payload_docs,omitempty"`
	SupportURL       string                    `json:"support_url,omitempty"`
}

// IsEnabled reports whether the pricing accepts new paid requests; pricing
// is enabled unless it says otherwise.
func (p Pricing) IsEnabled() bool { return p.Enabled == nil || *p.Enabled }

// Floor is the least a settled, non-free request costs at its base:
// max(base_price, minimum_charge).
func (p Pricing) Floor() billing.Amount { return max(p.BasePrice, p.MinimumCharge) }

// ParsePricing decodes the contract's pricing JSON strictly: unknown fields
// and inexact amounts are errors, never ignored.
func ParsePricing(data []byte) (Pricing, error) {
	var p Pricing
	if n := countKeys(data); n < 0 {
		return p, errors.New("pricing must be one JSON object")
	} else if n != len(topLevelKeys(data)) {
		return p, &FieldError{Problems: []string{"pricing names a field twice"}}
	}
	if err := decodeObject(data, &p, true); err != nil {
		if problems := fieldProblems(data); len(problems) > 0 {
			return p, &FieldError{Problems: problems}
		}
		return p, fmt.Errorf("pricing must be one JSON object: %w", err)
	}
	p.normalize()
	return p, p.Validate()
}

func (p *Pricing) normalize() {
	if p.Currency == "" {
		p.Currency = "USD"
	}
	p.Currency = strings.ToUpper(p.Currency)
	if p.Model == "" {
		p.Model = PerRequest
	}
}

// Validate checks the pricing and names every offending field.
func (p Pricing) Validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if !validModel(p.Model) {
		bad("pricing_model %q: want one of %s", p.Model, strings.Join(models, ", "))
	}
	if err := billing.CheckCurrency(p.Currency); err != nil {
		bad("currency: %v", err)
	}
	if p.FreeQuota < 0 {
		bad("free_quota must not be negative")
	}
	if validModel(p.Model) && p.Model != PerRequest && p.MaxCharge == nil {
		bad("max_charge is required for the %s model", p.Model)
	}
	if p.MaxCharge != nil && *p.MaxCharge < p.Floor() {
		bad("max_charge %s is below max(base_price, minimum_charge) %s", *p.MaxCharge, p.Floor())
	}
	if len(p.CustomUnitPrices) > customUnitsMax {
		bad("custom_unit_prices: at most %d units", customUnitsMax)
	}
	for name := range p.CustomUnitPrices {
		if name == "" || len(name) > customUnitNameMax {
			bad("custom_unit_prices: unit names must be 1 to %d bytes", customUnitNameMax)
		}
	}
	for field, s := range map[string]string{"listing_summary": p.ListingSummary,
		"request_payload_docs": p.RequestDocs, "support_url": p.SupportURL} {
		if len(s) > textLenMax {
			bad("%s longer than %d bytes", field, textLenMax)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return &FieldError{Problems: problems}
}

// FieldError lists the invalid fields of an input.
type FieldError struct{ Problems []string }

func (e *FieldError) Error() string { return "invalid pricing: " + strings.Join(e.Problems, "; ") }

func validModel(m string) bool {
	for _, x := range models {
		if m == x {
			return true
		}
	}
	return false
}

// PricingTx reads a seller's pricing.
func PricingTx(tx *bolt.Tx, seller string) (Pricing, error) {
	p, _, err := pricingTx(tx, seller)
	return p, err
}

// pricingTx reads a seller's pricing and its stored JSON, which is valid
// only during tx.
func pricingTx(tx *bolt.Tx, seller string) (Pricing, json.RawMessage, error) {
	data := tx.Bucket(bucketPricing).Get([]byte(seller))
	if data == nil {
		return Pricing{}, nil, fmt.Errorf("%s: %w", seller, ErrNoPricing)
	}
	p, err := decodedPricing.get(seller, data, true)
	return p, data, err
}

// decodedPricing keeps each seller's pricing decoded beside the stored bytes
// it was decoded from, so that a paid request decodes the JSON only when the
// seller has changed it. A hit needs the stored bytes to be equal, so the
// cache can never answer with a stale pricing, whatever database it serves.
var decodedPricing = pricingCache{m: map[string]cachedPricing{}}

// pricingCacheMax bounds the cache; past it, it starts over.
const pricingCacheMax = 4096

type cachedPricing struct {
	data string
	p    Pricing
}

type pricingCache struct {
	mu sync.Mutex
	m  map[string]cachedPricing
}

// get decodes data, a pricing of seller's as stored, or returns it from the
// cache; keep says to cache it, as for the seller's current pricing, and not
// for the snapshot a request recorded.
func (c *pricingCache) get(seller string, data []byte, keep bool) (Pricing, error) {
	c.mu.Lock()
	hit, ok := c.m[seller]
	c.mu.Unlock()
	if ok && hit.data == string(data) {
		return hit.p.clone(), nil
	}
	var p Pricing
	if err := json.Unmarshal(data, &p); err != nil || !keep {
		return p, err
	}
	c.mu.Lock()
	if len(c.m) >= pricingCacheMax {
		clear(c.m)
	}
	c.m[seller] = cachedPricing{data: string(data), p: p.clone()}
	c.mu.Unlock()
	return p, nil
}

// clone copies what a Pricing shares by reference, so that a caller may
// change its copy.
func (p Pricing) clone() Pricing {
	if p.Enabled != nil {
		v := *p.Enabled
		p.Enabled = &v
	}
	if p.MaxCharge != nil {
		v := *p.MaxCharge
		p.MaxCharge = &v
	}
	p.CustomUnitPrices = maps.Clone(p.CustomUnitPrices)
	return p
}

// Pricing reads a seller's pricing.
func (m *Market) Pricing(seller string) (p Pricing, err error) {
	err = m.db.View(func(tx *bolt.Tx) error {
		p, err = PricingTx(tx, seller)
		return err
	})
	return p, err
}

// SetPricing publishes a seller's pricing; seller must be an agent.
func (m *Market) SetPricing(seller string, p Pricing) error {
	p.normalize()
	if err := p.Validate(); err != nil {
		return err
	}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return m.db.Update(func(tx *store.Tx) error {
		if !m.isAgent(tx.Tx, seller) {
			return fmt.Errorf("set pricing for %s: no such agent", seller)
		}
		return tx.Bucket(bucketPricing).Put([]byte(seller), data)
	})
}

// fieldProblems decodes each top-level field of a pricing object on its own
// to say which ones are wrong: encoding/json does not name the field whose
// custom unmarshaler failed.
func fieldProblems(data []byte) []string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return nil
	}
	var problems []string
	for name, raw := range obj {
		one, _ := json.Marshal(map[string]json.RawMessage{name: raw})
		var p Pricing
		err := decodeObject(one, &p, true)
		var typeErr *json.UnmarshalTypeError
		switch {
		case err == nil:
		case errors.As(err, &typeErr):
			problems = append(problems, fmt.Sprintf("%s: a JSON %s is not allowed here",
				name, typeErr.Value))
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			problems = append(problems, fmt.Sprintf("%s: unknown field", name))
		default:
			problems = append(problems, fmt.Sprintf("%s: %s", name,
				strings.TrimPrefix(err.Error(), "json: ")))
		}
	}
	sort.Strings(problems)
	return problems
}

// DeletePricing withdraws a seller's pricing, as when the agent is removed.
func (m *Market) DeletePricing(seller string) error {
	return m.db.Update(func(tx *store.Tx) error {
		return tx.Bucket(bucketPricing).Delete([]byte(seller))
	})
}

// topLevelKeys returns the distinct top-level keys of a JSON object.
func topLevelKeys(data []byte) map[string]json.RawMessage {
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(data, &obj)
	return obj
}
