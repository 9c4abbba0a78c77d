package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestPublicPricing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "seller")
	e.setPricing(t, "seller", `{"pricing_model":"token_based","base_price":0.01,
		"token_price_input":"1.5","token_price_output":3,"max_charge":0.5,
		"listing_summary":"summaries","enabled":true}`)

	for _, id := range []string{"seller", "seller@" + testDomain} {
		r := e.call(t, http.MethodGet, "/public/agents/"+id+"/pricing", "", "", "")
		wantStatus(t, r, http.StatusOK)
		want := `{"agent_id":"seller","pricing_model":"token_based","currency":"USD",` +
			`"base_price":0.01,"token_price_input":1.5,"token_price_output":3,` +
			`"outcome_price":0,"compute_price":0,"free_quota":0,"minimum_charge":0,` +
			`"max_charge":0.5,"listing_summary":"summaries"}` + "\n"
		if r.body != want {
			t.Errorf("body\n%s\nwant\n%s", r.body, want)
		}
	}
}

func TestPublicPricingNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "buyer", "other")
	e.setPricing(t, "other", `{"base_price":1,"enabled":false}`)
	for _, id := range []string{"buyer", "other", "ghost", "bad!id"} {
		r := e.call(t, http.MethodGet, "/public/agents/"+id+"/pricing", "", "", "")
		wantStatus(t, r, http.StatusNotFound)
		if got := errorOf(t, r).Code; got != "no_pricing" {
			t.Errorf("%s: code %q", id, got)
		}
	}
}

func TestPutAndGetPricing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "seller")
	const path = "/agents/seller/billing/pricing"
	wantStatus(t, e.get(t, path, "seller"), http.StatusNotFound)

	r := e.call(t, http.MethodPut, path, "seller", testPassword,
		`{"pricing_model":"outcome_based","currency":"eur","outcome_price":"0.2",`+
			`"max_charge":2,"custom_unit_prices":{"page":0.000001}}`)
	wantStatus(t, r, http.StatusOK)
	want := `{"agent_id":"seller","pricing_model":"outcome_based","currency":"EUR",` +
		`"enabled":true,"base_price":0,"token_price_input":0,"token_price_output":0,` +
		`"outcome_price":0.2,"compute_price":0,"custom_unit_prices":{"page":0.000001},` +
		`"free_quota":0,"minimum_charge":0,"max_charge":2}` + "\n"
	if r.body != want {
		t.Errorf("PUT body\n%s\nwant\n%s", r.body, want)
	}
	if got := e.get(t, path, "seller").body; got != want {
		t.Errorf("GET body\n%s\nwant\n%s", got, want)
	}

	// Disabling hides the listing but the owner still reads it.
	r = e.call(t, http.MethodPut, path, "seller", testPassword, `{"enabled":false}`)
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.body, `"enabled":false`) {
		t.Errorf("PUT body %s lacks enabled false", r.body)
	}
	pub := e.call(t, http.MethodGet, "/public/agents/seller/pricing", "", "", "")
	wantStatus(t, pub, http.StatusNotFound)
}

func TestPutPricingInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "seller")
	tests := []struct {
		name, body string
		fields     []string
	}{
		{"seven decimals", `{"base_price":0.1234567}`, []string{"base_price"}},
		{"seven decimals in a string", `{"minimum_charge":"0.0000001"}`,
			[]string{"minimum_charge"}},
		{"negative price", `{"outcome_price":-1}`, []string{"outcome_price"}},
		{"token_based without max_charge", `{"pricing_model":"token_based"}`,
			[]string{"max_charge"}},
		{"max_charge below floor", `{"base_price":1,"max_charge":0.5}`,
			[]string{"max_charge"}},
		{"bad model and currency",
			`{"pricing_model":"free","currency":"dollars","max_charge":1}`,
			[]string{"currency", "pricing_model"}},
		{"unknown field and wrong type", `{"bogus":1,"free_quota":"ten"}`,
			[]string{"bogus", "free_quota"}},
		{"not an object", `[1,2]`, nil},
		{"not JSON", `base_price=1`, nil},
		{"empty", ``, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, http.MethodPut, "/agents/seller/billing/pricing", "seller",
				testPassword, tt.body)
			wantStatus(t, r, http.StatusBadRequest)
			apiErr := errorOf(t, r)
			if apiErr.Code != "invalid_pricing" || apiErr.Message == "" {
				t.Errorf("error %+v", apiErr)
			}
			var fields []string
			for _, f := range apiErr.Fields {
				fields = append(fields, f.Field)
				if !strings.Contains(f.Message, f.Field) {
					t.Errorf("field %s: message %q does not name it", f.Field, f.Message)
				}
			}
			if !reflect.DeepEqual(fields, tt.fields) {
				t.Errorf("fields %v, want %v; body %s", fields, tt.fields, r.body)
			}
		})
	}
	if _, err := e.market.Pricing("seller@" + testDomain); err == nil {
		t.Error("an invalid PUT stored pricing")
	}
}

func TestPutPricingBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "seller")
	summary, err := json.Marshal(strings.Repeat("x", 70<<10))
	if err != nil {
		t.Fatal(err)
	}
	r := e.call(t, http.MethodPut, "/agents/seller/billing/pricing", "seller", testPassword,
		`{"listing_summary":`+string(summary)+`}`)
	wantStatus(t, r, http.StatusRequestEntityTooLarge)
	if got := errorOf(t, r).Code; got != "body_too_large" {
		t.Errorf("code %q", got)
	}
}
