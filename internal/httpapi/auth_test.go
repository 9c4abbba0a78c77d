package httpapi

import (
	"net/http"
	"testing"
)

func TestAuthFailuresLookAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "buyer")
	const path = "/agents/buyer/billing/balance"
	tests := []struct {
		name, user, password string
	}{
		{"no credentials", "", ""},
		{"wrong password", "buyer", "wrong password!"},
		{"unknown agent", "ghost", testPassword},
		{"unknown agent by address", "ghost@" + testDomain, testPassword},
		{"not an address", "bad name!", testPassword},
	}
	var first string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, http.MethodGet, path, tt.user, tt.password, "")
			wantStatus(t, r, http.StatusUnauthorized)
			if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="agentmail"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if first == "" {
				first = r.body
			}
			if r.body != first {
				t.Errorf("body %s differs from %s", r.body, first)
			}
		})
	}
}

func TestOtherAgentIsForbidden(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "buyer", "other")
	for _, path := range []string{
		"/agents/buyer/billing/balance",
		"/agents/buyer@" + testDomain + "/billing/usage",
		"/agents/ghost/billing/pricing",
		"/agents/bad!id/billing/pricing",
	} {
		r := e.get(t, path, "other")
		wantStatus(t, r, http.StatusForbidden)
		if got := errorOf(t, r).Code; got != "forbidden" {
			t.Errorf("%s: code %q", path, got)
		}
	}
}

func TestOwnerByIDOrAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "buyer")
	address := "buyer@" + testDomain
	for _, tt := range []struct{ user, path string }{
		{"buyer", "/agents/buyer/billing/balance"},
		{address, "/agents/buyer/billing/balance"},
		{"buyer", "/agents/" + address + "/billing/balance"},
		{"BUYER@AGENTS.EXAMPLE.COM", "/agents/Buyer/billing/balance"},
	} {
		r := e.get(t, tt.path, tt.user)
		wantStatus(t, r, http.StatusOK)
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s as %s: Cache-Control %q", tt.path, tt.user,
				r.header.Get("Cache-Control"))
		}
	}
}
