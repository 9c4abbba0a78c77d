package httpapi

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"agentmail/internal/authguard"
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
		caller, ok, retryAfter := a.authenticate(r)
		if retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds()+0.5)))
			writeError(w, http.StatusTooManyRequests, "too_many_failures",
				"too many failed logins from this address or for this agent; try again later")
			return
		}
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
// cannot be an address, so failures take the same time. While the guard
// blocks the remote address or the account, it returns how long to wait.
func (a *api) authenticate(r *http.Request) (string, bool, time.Duration) {
	user, password, ok := r.BasicAuth()
	if !ok {
		return "", false, 0
	}
	address, err := mailstore.ResolveAgent(user, a.domain)
	account := address
	if err != nil {
		address, account = "", strings.ToLower(user)
	}
	key, now := remoteKey(r), time.Now()
	if a.guard != nil {
		if until := a.guard.BlockedUntil(key, account, now); !until.IsZero() {
			return "", false, until.Sub(now)
		}
	}
	if !a.mail.Authenticate(address, password) || address == "" {
		if a.guard != nil {
			_, delay, _ := a.guard.Fail(key, account, now)
			time.Sleep(delay)
		}
		return "", false, 0
	}
	if a.guard != nil {
		a.guard.Succeed(account)
	}
	return address, true, 0
}

// remoteKey is the guard's key for the request's remote address.
func remoteKey(r *http.Request) string {
	addr, err := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return authguard.AddrKey(addr)
}
