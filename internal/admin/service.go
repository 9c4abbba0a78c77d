// Package admin is what an operator can do to agents, wallets and pricing.
// The same operations run in-process on a stopped data directory, or through
// the running server's admin socket, since bbolt lets only one process open
// the file.
package admin

import (
	"errors"
	"fmt"
	"strings"
	"time"

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
	Debit(req CreditRequest) (billing.Entry, error)
	Transfer(req TransferRequest) (billing.Entry, error)
	Balance(address string) (BalanceInfo, error)
	History(address string, q HistoryQuery) (HistoryPage, error)
	Usage(address string, q UsageQuery) (UsagePage, error)
	Reservations(q ReservationQuery) ([]marketplace.Request, error)
	Void(reservationID, note string) (marketplace.Request, error)
	Verify() (VerifyReport, error)
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
	if _, err := s.mail.Agent(addr); err == nil {
		return AgentInfo{}, fmt.Errorf("add %s: %w", addr, mailstore.ErrAgentExists)
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
	var held []string
	for _, b := range balances {
		if b.Available != 0 || b.Reserved != 0 {
			held = append(held, fmt.Sprintf("%s %s available and %s reserved",
				b.Available, b.Currency, b.Reserved))
		}
	}
	if len(held) > 0 {
		return fmt.Errorf("remove %s: wallet holds %s; debit it first", addr,
			strings.Join(held, ", "))
	}
	if err := s.market.DeletePricing(addr); err != nil {
		return err
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

// ReportFilter is what history and usage are both filtered and sized by.
type ReportFilter struct {
	Counterparty string    `json:"counterparty,omitempty"`
	RequestID    string    `json:"request_id,omitempty"`
	Since        time.Time `json:"since,omitzero"`
	Until        time.Time `json:"until,omitzero"`
	Limit        int       `json:"limit,omitempty"`
}

// HistoryQuery selects and pages an agent's journal entries.
type HistoryQuery struct {
	ReportFilter
	Kind   string `json:"kind,omitempty"`
	Before uint64 `json:"before,omitempty"` // a previous page's Next
}

// HistoryPage is one page of history; Next is 0 on the last page.
type HistoryPage struct {
	Rows []HistoryRow `json:"rows"`
	Next uint64       `json:"next,omitempty"`
}

// historyLimitMax bounds one page of history.
const historyLimitMax = 1000

// History returns the agent's journal, newest first.
func (s *Service) History(address string, q HistoryQuery) (HistoryPage, error) {
	addr, err := s.resolve(address)
	if err != nil {
		return HistoryPage{}, err
	}
	f := billing.HistoryFilter{Kind: q.Kind, Since: q.Since, Until: q.Until}
	if q.Counterparty != "" {
		if f.Counterparty, err = mailstore.ResolveAgent(q.Counterparty, s.domain); err != nil {
			return HistoryPage{}, err
		}
	}
	if q.RequestID != "" {
		f.HoldID = "/" + q.RequestID
	}
	if q.Limit <= 0 || q.Limit > historyLimitMax {
		q.Limit = historyLimitMax
	}
	entries, next, err := s.market.Ledger().History(addr, f, q.Before, q.Limit)
	page := HistoryPage{Rows: make([]HistoryRow, 0, len(entries)), Next: next}
	for _, e := range entries {
		avail, reserved := e.AgentDelta(addr)
		page.Rows = append(page.Rows, HistoryRow{Entry: e, AvailableChange: billing.Delta(avail),
			ReservedChange: billing.Delta(reserved), Counterparty: e.Counterparty(addr)})
	}
	return page, err
}

// UsageQuery selects and pages an agent's requests.
type UsageQuery struct {
	ReportFilter
	Status string `json:"status,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

// UsagePage is one page of usage rows; Next is empty on the last page.
type UsagePage struct {
	Rows []marketplace.UsageRow `json:"rows"`
	Next string                 `json:"next,omitempty"`
}

// Usage returns the requests the agent bought or sold, newest first.
func (s *Service) Usage(address string, q UsageQuery) (UsagePage, error) {
	addr, err := s.resolve(address)
	if err != nil {
		return UsagePage{}, err
	}
	f := marketplace.UsageFilter{Status: q.Status, RequestID: q.RequestID, Since: q.Since,
		Until: q.Until}
	if q.Counterparty != "" {
		if f.Counterparty, err = mailstore.ResolveAgent(q.Counterparty, s.domain); err != nil {
			return UsagePage{}, err
		}
	}
	rows, next, err := s.market.UsageRows(addr, f, q.Cursor, q.Limit)
	if rows == nil {
		rows = []marketplace.UsageRow{}
	}
	return UsagePage{Rows: rows, Next: next}, err
}

// TransferRequest moves money between two agents' wallets.
type TransferRequest struct {
	From     string         `json:"from"`
	To       string         `json:"to"`
	Amount   billing.Amount `json:"amount"`
	Currency string         `json:"currency"`
	Note     string         `json:"note"`
}

// Debit takes money out of an agent's available balance; a note saying why
// is required, for the audit trail.
func (s *Service) Debit(req CreditRequest) (billing.Entry, error) {
	addr, err := s.resolve(req.Address)
	if err != nil {
		return billing.Entry{}, err
	}
	if strings.TrimSpace(req.Note) == "" {
		return billing.Entry{}, errors.New("debit: a note saying why is required")
	}
	if req.Currency == "" {
		req.Currency = "USD"
	}
	return s.market.Ledger().Debit(billing.Transfer{Agent: addr, Currency: req.Currency,
		Amount: req.Amount, Note: req.Note, Ref: req.Ref})
}

// Transfer moves money between agents; a note is required.
func (s *Service) Transfer(req TransferRequest) (billing.Entry, error) {
	from, err := s.resolve(req.From)
	if err != nil {
		return billing.Entry{}, err
	}
	to, err := s.resolve(req.To)
	if err != nil {
		return billing.Entry{}, err
	}
	if strings.TrimSpace(req.Note) == "" {
		return billing.Entry{}, errors.New("transfer: a note saying why is required")
	}
	if req.Currency == "" {
		req.Currency = "USD"
	}
	return s.market.Ledger().Transfer(from, to, billing.Transfer{Currency: req.Currency,
		Amount: req.Amount, Note: req.Note})
}

// ReservationQuery selects reservations.
type ReservationQuery struct {
	OpenOnly bool   `json:"open_only,omitempty"`
	Agent    string `json:"agent,omitempty"`
}

// Reservations lists requests and their reservations, oldest first.
func (s *Service) Reservations(q ReservationQuery) ([]marketplace.Request, error) {
	f := marketplace.ReservationFilter{OpenOnly: q.OpenOnly}
	if q.Agent != "" {
		addr, err := s.resolve(q.Agent)
		if err != nil {
			return nil, err
		}
		f.Agent = addr
	}
	return s.market.Reservations(f)
}

// Void returns an open reservation's money to its buyer; a note is required.
// The reservation is BUYER/REQUEST_ID, where BUYER may be an id or an address.
func (s *Service) Void(reservationID, note string) (marketplace.Request, error) {
	buyer, requestID, ok := strings.Cut(reservationID, "/")
	if !ok || requestID == "" {
		return marketplace.Request{}, fmt.Errorf("reservation %q: want BUYER/REQUEST_ID, "+
			"for example buyer/req-001", reservationID)
	}
	addr, err := mailstore.ResolveAgent(buyer, s.domain)
	if err != nil {
		return marketplace.Request{}, err
	}
	return s.market.Void(addr+"/"+requestID, note)
}

// VerifyReport is the outcome of a ledger check.
type VerifyReport struct {
	Breaches []billing.Breach `json:"breaches"`
	Totals   []billing.Total  `json:"totals"`
}

// Verify rebuilds every balance from the journal and checks the invariants.
func (s *Service) Verify() (VerifyReport, error) {
	breaches, err := s.market.Ledger().Verify()
	if err != nil {
		return VerifyReport{}, err
	}
	totals, err := s.market.Ledger().Totals()
	if breaches == nil {
		breaches = []billing.Breach{}
	}
	return VerifyReport{Breaches: breaches, Totals: totals}, err
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
	enabled := p.IsEnabled() // shown even when the seller never set it
	p.Enabled = &enabled
	return p, err
}
