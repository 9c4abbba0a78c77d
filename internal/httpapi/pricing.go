package httpapi

import (
	"errors"
	"io"
	"net/http"

	"agentmail/billing"
	"agentmail/mailstore"
	"agentmail/marketplace"
)

// pricingBodyMax bounds a PUT pricing body; the largest valid pricing (64
// custom units and three 4 KiB texts) is far smaller.
const pricingBodyMax = 64 << 10

// publicPricing is what anyone may read of a seller's pricing: everything it
// publishes, without the switch that hides it. Fields are listed one by one
// so that a field added to Pricing is not made public by accident.
type publicPricing struct {
	AgentID          string                    `json:"agent_id"`
	Model            string                    `json:"pricing_model"`
	Currency         string                    `json:"currency"`
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

// ownerPricing is the seller's own view: the stored pricing with enabled
// always written out.
type ownerPricing struct {
	AgentID string `json:"agent_id"`
	marketplace.Pricing
}

func (a *api) publicPricing(w http.ResponseWriter, r *http.Request) {
	notFound := func() {
		writeError(w, http.StatusNotFound, "no_pricing", "this agent publishes no pricing")
	}
	seller, err := mailstore.ResolveAgent(r.PathValue("agent_id"), a.domain)
	if err != nil {
		notFound()
		return
	}
	p, err := a.market.Pricing(seller)
	if errors.Is(err, marketplace.ErrNoPricing) || (err == nil && !p.IsEnabled()) {
		notFound()
		return
	}
	if err != nil {
		a.internalError(w, r, seller, err)
		return
	}
	writeJSON(w, http.StatusOK, publicPricing{
		AgentID: mailstore.AgentID(seller, a.domain), Model: p.Model, Currency: p.Currency,
		BasePrice: p.BasePrice, TokenPriceInput: p.TokenPriceInput,
		TokenPriceOutput: p.TokenPriceOutput, OutcomePrice: p.OutcomePrice,
		ComputePrice: p.ComputePrice, CustomUnitPrices: p.CustomUnitPrices,
		FreeQuota: p.FreeQuota, MinimumCharge: p.MinimumCharge, MaxCharge: p.MaxCharge,
		ListingSummary: p.ListingSummary, RequestDocs: p.RequestDocs, SupportURL: p.SupportURL,
	})
}

func (a *api) getPricing(w http.ResponseWriter, r *http.Request, agent string) {
	p, err := a.market.Pricing(agent)
	if errors.Is(err, marketplace.ErrNoPricing) {
		writeError(w, http.StatusNotFound, "no_pricing", "no pricing published yet")
		return
	}
	if err != nil {
		a.internalError(w, r, agent, err)
		return
	}
	a.writeOwnerPricing(w, agent, p)
}

func (a *api) putPricing(w http.ResponseWriter, r *http.Request, agent string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, pricingBodyMax))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large",
			"pricing body is larger than 64 KiB")
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_body", "could not read the request body")
		return
	}

	p, err := marketplace.ParsePricing(body)
	if err != nil {
		message, fields := explainPricingError(err)
		writeFieldErrors(w, "invalid_pricing", message, fields)
		return
	}
	if err := a.market.SetPricing(agent, p); err != nil {
		a.internalError(w, r, agent, err)
		return
	}
	a.log.Info("pricing published", "agent", agent, "pricing_model", p.Model,
		"currency", p.Currency, "enabled", p.IsEnabled())

	// Answer with what is now stored, as a GET would.
	a.getPricing(w, r, agent)
}

func (a *api) writeOwnerPricing(w http.ResponseWriter, agent string, p marketplace.Pricing) {
	enabled := p.IsEnabled()
	p.Enabled = &enabled
	writeJSON(w, http.StatusOK, ownerPricing{AgentID: mailstore.AgentID(agent, a.domain),
		Pricing: p})
}
