package server

import (
	"strings"
	"testing"
)

func TestHTTPEndpointsOverTheRealListener(t *testing.T) {
	ts := roundTripServer(t)
	cases := []struct {
		path, user string
		code       int
		body       string
	}{
		{"/public/agents/flat/pricing", "", 200, `"base_price":0.25`},
		{"/public/agents/flat@localhost/pricing", "", 200, `"pricing_model":"per_request"`},
		{"/public/agents/buyer/pricing", "", 404, `"error"`},
		{"/public/agents/nobody/pricing", "", 404, `"error"`},
		{"/agents/buyer/billing/balance", "", 401, `"error"`},
		{"/agents/buyer/billing/balance", "flat", 403, `"error"`},
		{"/agents/buyer/billing/balance", "buyer", 200, `"available":10`},
		{"/agents/flat/billing/pricing", "flat", 200, `"base_price":0.25`},
		{"/agents/buyer/billing/usage", "buyer", 200, `"items":[]`},
	}
	for _, c := range cases {
		code, body := ts.httpGet(c.path, c.user)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("GET %s as %q = %d %s, want %d …%s…", c.path, c.user, code, body,
				c.code, c.body)
		}
	}
}
