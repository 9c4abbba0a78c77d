// Package admin is what an operator can do to agents, wallets and pricing.
// The same operations run in-process on a stopped data directory, or through
// the running server's admin socket, since bbolt lets only one process open
// the file.
package admin

import (
	"errors"
	"fmt"

	"agentmail/billing"
	"agentmail/mailstore"
	"agentmail/marketplace"
)

// API is the set of admin operations. Service implements it directly;
// Client implements it over the admin socket.
type API interface {
	AddAgent(address, password string) (AgentInfo, error)
	ListAgents() ([]AgentInfo, error)
	SetPassword(address, password string) error
	RemoveAgent(address string) error
	Credit(req CreditRequest) (billing.Entry, error)
	Balance(address string) (BalanceInfo, error)
	History(address string, before uint64, limit int) ([]HistoryRow, error)
	SetPricing(address string, p marketplace.Pricing) error
	Pricing(address string) (marketplace.Pricing, error)
}

// AgentInfo describes an agent to an operator.
type AgentInfo struct {
	mailstore.Agent
	ID string `json:"agent_id"`
}

// CreditRequest adds money to a wallet.
type CreditRequest struct {
	Address  string         `json:"address"`
	Amount   billing.Amount `json:"amount"`
	Currency string         `json:"currency"`
	Note     string         `json:"note,omitempty"`
	Ref      string         `json:"ref,omitempty"`
}

// BalanceInfo is an agent's balances.
type BalanceInfo struct {
	ID       string            `json:"agent_id"`
	Balances []billing.Balance `json:"balances"`
}

// HistoryRow is one journal entry as it affected one agent.
type HistoryRow struct {
	billing.Entry
	AvailableChange billing.Delta `json:"available_change"`
	ReservedChange  billing.Delta `json:"reserved_change"`
	Counterparty    string        `json:"counterparty,omitempty"`
}

// Service runs admin operations against open stores.
type Service struct {
	mail   *mailstore.Store
	market *marketplace.Market
	domain string
}

// NewService returns the in-process admin operations.
func NewService(ms *mailstore.Store, market *marketplace.Market, domain string) *Service {
	return &Service{mail: ms, market: market, domain: domain}
}

func (s *Service) resolve(idOrAddress string) (string, error) {
	addr, err := mailstore.ResolveAgent(idOrAddress, s.domain)
	if err != nil {
		return "", err
	}
	if _, err := s.mail.Agent(addr); err != nil {
		return "", fmt.Errorf("%s: %w", addr, mailstore.ErrNoAgent)
	}
	return addr, nil
}

// AddAgent creates an agent; an empty password is an error (the CLI
// generates one).
func (s *Service) AddAgent(address, password string) (AgentInfo, error) {
	addr, err := mailstore.ResolveAgent(address, s.domain)
	if err != nil {
		return AgentInfo{}, err
	}
	if err := s.mail.AddAgent(addr, password); err != nil {
		return AgentInfo{}, err
	}
	a, err := s.mail.Agent(addr)
	return AgentInfo{Agent: a, ID: mailstore.AgentID(addr, s.domain)}, err
}

// ListAgents lists every agent.
func (s *Service) ListAgents() ([]AgentInfo, error) {
	agents, err := s.mail.Agents()
	out := make([]AgentInfo, 0, len(agents))
	for _, a := range agents {
		out = append(out, AgentInfo{Agent: a, ID: mailstore.AgentID(a.Address, s.domain)})
	}
	return out, err
}

// SetPassword replaces an agent's password.
func (s *Service) SetPassword(address, password string) error {
	addr, err := s.resolve(address)
	if err != nil {
		return err
	}
	return s.mail.SetPassword(addr, password)
}

// RemoveAgent deletes an agent and its mail. An agent with money or open
// reservations is refused: its wallet would be orphaned.
func (s *Service) RemoveAgent(address string) error {
	addr, err := s.resolve(address)
	if err != nil {
		return err
	}
	balances, err := s.market.Ledger().Balances(addr)
	if err != nil {
		return err
	}
	for _, b := range balances {
		if b.Available != 0 || b.Reserved != 0 {
			return fmt.Errorf("remove %s: wallet holds %s %s available and %s reserved; "+
				"debit it first", addr, b.Available, b.Currency, b.Reserved)
		}
	}
	return s.mail.RemoveAgent(addr)
}

// Credit adds money to an agent's wallet.
func (s *Service) Credit(req CreditRequest) (billing.Entry, error) {
	addr, err := s.resolve(req.Address)
	if err != nil {
		return billing.Entry{}, err
	}
	if req.Currency == "" {
		req.Currency = "USD"
	}
	return s.market.Ledger().Credit(billing.Transfer{Agent: addr, Currency: req.Currency,
		Amount: req.Amount, Note: req.Note, Ref: req.Ref})
}

// Balance returns an agent's balances.
func (s *Service) Balance(address string) (BalanceInfo, error) {
	addr, err := s.resolve(address)
	if err != nil {
		return BalanceInfo{}, err
	}
	b, err := s.market.Ledger().Balances(addr)
	return BalanceInfo{ID: mailstore.AgentID(addr, s.domain), Balances: b}, err
}

// History returns the agent's journal, newest first.
func (s *Service) History(address string, before uint64, limit int) ([]HistoryRow, error) {
	addr, err := s.resolve(address)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	entries, err := s.market.Ledger().History(addr, before, limit)
	rows := make([]HistoryRow, 0, len(entries))
	for _, e := range entries {
		avail, reserved := e.AgentDelta(addr)
		rows = append(rows, HistoryRow{Entry: e, AvailableChange: billing.Delta(avail),
			ReservedChange: billing.Delta(reserved), Counterparty: e.Counterparty(addr)})
	}
	return rows, err
}

// SetPricing publishes an agent's pricing.
func (s *Service) SetPricing(address string, p marketplace.Pricing) error {
	addr, err := s.resolve(address)
	if err != nil {
		return err
	}
	return s.market.SetPricing(addr, p)
}

// Pricing returns an agent's pricing.
func (s *Service) Pricing(address string) (marketplace.Pricing, error) {
	addr, err := s.resolve(address)
	if err != nil {
		return marketplace.Pricing{}, err
	}
	p, err := s.market.Pricing(addr)
	if errors.Is(err, marketplace.ErrNoPricing) {
		return p, fmt.Errorf("%s has published no pricing", addr)
	}
	return p, err
}
