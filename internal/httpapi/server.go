package httpapi

import (
	"log/slog"
	"net/http"

	"agentmail/internal/authguard"
	"agentmail/mailstore"
	"agentmail/marketplace"
)

// Config holds the side-server's settings.
type Config struct {
	// Domain is the primary domain: a bare agent id is a local part on it.
	Domain string
	// Logger receives one line per pricing change and per internal error;
	// nil discards them.
	Logger *slog.Logger
	// Guard slows and blocks repeated failed Basic authentication, shared
	// with the mail protocols; nil leaves it unlimited.
	Guard *authguard.Guard
}

// api is the state every handler shares.
type api struct {
	mail   *mailstore.Store
	market *marketplace.Market
	domain string
	log    *slog.Logger
	guard  *authguard.Guard
}

// New returns the side-server's handler. ms checks credentials; market
// answers for pricing, balances and usage.
func New(ms *mailstore.Store, market *marketplace.Market, cfg Config) http.Handler {
	a := &api{mail: ms, market: market, domain: cfg.Domain, log: cfg.Logger, guard: cfg.Guard}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /public/agents/{agent_id}/pricing", a.publicPricing)
	mux.Handle("GET /agents/{agent_id}/billing/pricing", a.owner(a.getPricing))
	mux.Handle("PUT /agents/{agent_id}/billing/pricing", a.owner(a.putPricing))
	mux.Handle("GET /agents/{agent_id}/billing/balance", a.owner(a.balance))
	mux.Handle("GET /agents/{agent_id}/billing/usage", a.owner(a.usage))
	return router{mux: mux}
}

// router answers unknown routes and wrong methods in JSON; ServeMux alone
// would answer them in plain text.
type router struct{ mux *http.ServeMux }

func (rt router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := rt.mux.Handler(r)
	if pattern != "" {
		rt.mux.ServeHTTP(w, r)
		return
	}

	// With no pattern, h is the mux's own 404 or 405 reply; run it against
	// a probe to learn which, and the Allow header of a 405.
	probe := &probeWriter{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
			r.Method+" is not allowed on "+r.URL.Path)
		return
	}
	writeError(w, http.StatusNotFound, "not_found", "no route for "+r.URL.Path)
}

// probeWriter records a status and headers and discards the body.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header         { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (p *probeWriter) WriteHeader(status int)      { p.status = status }

func (a *api) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
