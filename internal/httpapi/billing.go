package httpapi

import (
	"errors"
	"net/http"
	"strconv"

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

	rows, next, err := a.market.UsageRows(agent, q.Get("cursor"), limit)
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
