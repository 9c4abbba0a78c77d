package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"agentmail/billing"
	"agentmail/mailstore"
	"agentmail/marketplace"
)

// usagePageDefault is the page size when the client names none.
const usagePageDefault = 50

type balanceReply struct {
	AgentID  string            `json:"agent_id"`
	Balances []billing.Balance `json:"balances"`
}

type usageReply struct {
	Items      []marketplace.UsageRow `json:"items"`
	NextCursor string                 `json:"next_cursor"`
}

func (a *api) balance(w http.ResponseWriter, r *http.Request, agent string) {
	balances, err := a.market.Ledger().Balances(agent)
	if err != nil {
		a.internalError(w, r, agent, err)
		return
	}
	if balances == nil {
		balances = []billing.Balance{}
	}
	writeJSON(w, http.StatusOK, balanceReply{AgentID: mailstore.AgentID(agent, a.domain),
		Balances: balances})
}

// usage lists the agent's requests newest first. next_cursor is empty on the
// last page.
func (a *api) usage(w http.ResponseWriter, r *http.Request, agent string) {
	q := r.URL.Query()
	limit := usagePageDefault
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > marketplace.UsagePageMax {
			writeFieldErrors(w, "invalid_limit", "invalid limit", []fieldProblem{{
				Field: "limit",
				Message: "limit must be an integer from 1 to " +
					strconv.Itoa(marketplace.UsagePageMax),
			}})
			return
		}
		limit = n
	}

	filter, problems := a.usageFilter(q)
	if len(problems) > 0 {
		writeFieldErrors(w, "invalid_filter", "invalid filter", problems)
		return
	}
	rows, next, err := a.market.UsageRows(agent, filter, q.Get("cursor"), limit)
	if errors.Is(err, marketplace.ErrBadCursor) {
		writeFieldErrors(w, "invalid_cursor", "invalid cursor", []fieldProblem{{
			Field:   "cursor",
			Message: "cursor must be a next_cursor from an earlier page of this agent's usage",
		}})
		return
	}
	if err != nil {
		a.internalError(w, r, agent, err)
		return
	}
	if rows == nil {
		rows = []marketplace.UsageRow{}
	}
	writeJSON(w, http.StatusOK, usageReply{Items: rows, NextCursor: next})
}

// usageFilter reads the usage filters from the query: counterparty (id or
// address), status, request_id, and since/until as RFC 3339 times.
func (a *api) usageFilter(q url.Values) (marketplace.UsageFilter, []fieldProblem) {
	var f marketplace.UsageFilter
	var problems []fieldProblem
	if c := q.Get("counterparty"); c != "" {
		addr, err := mailstore.ResolveAgent(c, a.domain)
		if err != nil {
			problems = append(problems, fieldProblem{Field: "counterparty", Message: err.Error()})
		}
		f.Counterparty = addr
	}
	f.Status = q.Get("status")
	switch f.Status {
	case "", marketplace.StatusOpen, marketplace.StatusSettled, marketplace.StatusDeclined,
		marketplace.StatusExpired, marketplace.StatusVoided:
	default:
		problems = append(problems, fieldProblem{Field: "status",
			Message: "status must be open, settled, declined, expired or voided"})
	}
	f.RequestID = q.Get("request_id")
	for _, bound := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(bound.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				problems = append(problems, fieldProblem{Field: bound.name,
					Message: bound.name + " must be an RFC 3339 time such as 2026-12-01T00:00:00Z"})
			}
			*bound.dst = t
		}
	}
	return f, problems
}
