package httpapi

import (
	"net/http"

	"agentmail/mailstore"
)

// ownerHandler serves a request already authenticated as agent, the address
// that {agent_id} names.
type ownerHandler func(w http.ResponseWriter, r *http.Request, agent string)

// owner admits only the agent named by {agent_id}, authenticated with HTTP
// Basic (RFC 7617) using its SMTP and IMAP password. The username may be the
// agent id or the address.
//
// Credentials are checked before the path is looked at, and every failure
// gets the same reply, so a 401 reveals nothing about which agents exist.
func (a *api) owner(next ownerHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		caller, ok := a.authenticate(r)
		if !ok {
			// RFC 7235 section 3.1: a 401 carries the challenge.
			w.Header().Set("WWW-Authenticate", `Basic realm="agentmail"`)
			writeError(w, http.StatusUnauthorized, "unauthorized",
				"HTTP Basic authentication as the agent is required")
			return
		}

		target, err := mailstore.ResolveAgent(r.PathValue("agent_id"), a.domain)
		if err != nil || target != caller {
			writeError(w, http.StatusForbidden, "forbidden",
				"an agent may only read and change its own billing")
			return
		}
		next(w, r, caller)
	})
}

// authenticate returns the address of the agent the request's credentials
// belong to. It always runs the password check, even for a username that
// cannot be an address, so failures take the same time.
func (a *api) authenticate(r *http.Request) (string, bool) {
	user, password, ok := r.BasicAuth()
	if !ok {
		return "", false
	}
	address, err := mailstore.ResolveAgent(user, a.domain)
	if err != nil {
		address = ""
	}
	if !a.mail.Authenticate(address, password) || address == "" {
		return "", false
	}
	return address, true
}
