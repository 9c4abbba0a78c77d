package httpapi

import (
	"net/http"
	"testing"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.call(t, http.MethodGet, "/healthz", "", "", "")
	wantStatus(t, r, http.StatusOK)
	if r.body != "{\"status\":\"ok\"}\n" {
		t.Errorf("body %q", r.body)
	}
}

func TestUnknownRouteAndMethodAreJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/nope", http.StatusNotFound, "not_found", ""},
		{"GET", "/agents/buyer/billing", http.StatusNotFound, "not_found", ""},
		{"POST", "/healthz", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
		{"DELETE", "/agents/buyer/billing/pricing", http.StatusMethodNotAllowed,
			"method_not_allowed", "GET, HEAD, PUT"},
		{"PUT", "/agents/buyer/billing/balance", http.StatusMethodNotAllowed,
			"method_not_allowed", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			r := e.call(t, tt.method, tt.path, "", "", "")
			wantStatus(t, r, tt.status)
			if got := errorOf(t, r).Code; got != tt.code {
				t.Errorf("code %q, want %q", got, tt.code)
			}
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}
