package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"agentmail/billing"
	"agentmail/marketplace"
)

// SocketName is the admin socket's file name in the data directory.
const SocketName = "admin.sock"

// requestBytesMax bounds one admin request.
const requestBytesMax = 1 << 20

// call is the body of every admin request: the operation's arguments.
type call struct {
	Address      string               `json:"address,omitempty"`
	Password     string               `json:"password,omitempty"`
	Credit       *CreditRequest       `json:"credit,omitempty"`
	Transfer     *TransferRequest     `json:"transfer,omitempty"`
	Pricing      *marketplace.Pricing `json:"pricing,omitempty"`
	History      HistoryQuery         `json:"history"`
	Usage        UsageQuery           `json:"usage"`
	Reservations ReservationQuery     `json:"reservations"`
	Reservation  string               `json:"reservation,omitempty"`
	Note         string               `json:"note,omitempty"`
}

type reply struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Listen opens the admin socket in dataDir, readable and writable by its
// owner only.
func Listen(dataDir string) (net.Listener, error) {
	path := filepath.Join(dataDir, SocketName)
	_ = os.Remove(path) // a stale socket from a crash; the database lock proves we own dir
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return ln, nil
}

// Handler serves the admin operations of svc on the socket.
func Handler(svc *Service) http.Handler {
	ops := map[string]func(call) (any, error){
		"agent-add":    func(c call) (any, error) { return svc.AddAgent(c.Address, c.Password) },
		"agent-list":   func(call) (any, error) { return svc.ListAgents() },
		"agent-passwd": func(c call) (any, error) { return nil, svc.SetPassword(c.Address, c.Password) },
		"agent-remove": func(c call) (any, error) { return nil, svc.RemoveAgent(c.Address) },
		"credit": func(c call) (any, error) {
			if c.Credit == nil {
				return nil, errors.New("credit: missing arguments")
			}
			return svc.Credit(*c.Credit)
		},
		"debit": func(c call) (any, error) {
			if c.Credit == nil {
				return nil, errors.New("debit: missing arguments")
			}
			return svc.Debit(*c.Credit)
		},
		"transfer": func(c call) (any, error) {
			if c.Transfer == nil {
				return nil, errors.New("transfer: missing arguments")
			}
			return svc.Transfer(*c.Transfer)
		},
		"balance": func(c call) (any, error) { return svc.Balance(c.Address) },
		"history": func(c call) (any, error) { return svc.History(c.Address, c.History) },
		"usage":   func(c call) (any, error) { return svc.Usage(c.Address, c.Usage) },
		"reservation-list": func(c call) (any, error) {
			return svc.Reservations(c.Reservations)
		},
		"reservation-void": func(c call) (any, error) { return svc.Void(c.Reservation, c.Note) },
		"ledger-verify":    func(call) (any, error) { return svc.Verify() },
		"pricing-set": func(c call) (any, error) {
			if c.Pricing == nil {
				return nil, errors.New("pricing: missing arguments")
			}
			return nil, svc.SetPricing(c.Address, *c.Pricing)
		},
		"pricing-show": func(c call) (any, error) { return svc.Pricing(c.Address) },
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rep reply
		op, ok := ops[r.URL.Path[1:]]
		var c call
		err := json.NewDecoder(io.LimitReader(r.Body, requestBytesMax)).Decode(&c)
		switch {
		case !ok:
			rep.Error = "unknown admin operation " + r.URL.Path
		case err != nil:
			rep.Error = "bad admin request: " + err.Error()
		default:
			result, err := op(c)
			if err != nil {
				rep.Error = err.Error()
			} else {
				rep.Result, _ = json.Marshal(result)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rep)
	})
}

// Client runs admin operations through a running server's socket.
type Client struct{ http *http.Client }

// Dial connects to the admin socket in dataDir; it fails when no server is
// listening there.
func Dial(dataDir string) (*Client, error) {
	path := filepath.Join(dataDir, SocketName)
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil, err
	}
	conn.Close()
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	return &Client{http: &http.Client{Transport: &http.Transport{DialContext: dial},
		Timeout: time.Minute}}, nil
}

func (c *Client) do(op string, args call, result any) error {
	body, err := json.Marshal(args)
	if err != nil {
		return err
	}
	resp, err := c.http.Post("http://admin/"+op, "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	var rep reply
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return fmt.Errorf("admin socket reply: %w", err)
	}
	if rep.Error != "" {
		return errors.New(rep.Error)
	}
	if result == nil || rep.Result == nil {
		return nil
	}
	return json.Unmarshal(rep.Result, result)
}

// AddAgent implements API.
func (c *Client) AddAgent(address, password string) (a AgentInfo, err error) {
	err = c.do("agent-add", call{Address: address, Password: password}, &a)
	return a, err
}

// ListAgents implements API.
func (c *Client) ListAgents() (out []AgentInfo, err error) {
	err = c.do("agent-list", call{}, &out)
	return out, err
}

// SetPassword implements API.
func (c *Client) SetPassword(address, password string) error {
	return c.do("agent-passwd", call{Address: address, Password: password}, nil)
}

// RemoveAgent implements API.
func (c *Client) RemoveAgent(address string) error {
	return c.do("agent-remove", call{Address: address}, nil)
}

// Credit implements API.
func (c *Client) Credit(req CreditRequest) (e billing.Entry, err error) {
	err = c.do("credit", call{Credit: &req}, &e)
	return e, err
}

// Balance implements API.
func (c *Client) Balance(address string) (b BalanceInfo, err error) {
	err = c.do("balance", call{Address: address}, &b)
	return b, err
}

// Debit implements API.
func (c *Client) Debit(req CreditRequest) (e billing.Entry, err error) {
	err = c.do("debit", call{Credit: &req}, &e)
	return e, err
}

// Transfer implements API.
func (c *Client) Transfer(req TransferRequest) (e billing.Entry, err error) {
	err = c.do("transfer", call{Transfer: &req}, &e)
	return e, err
}

// History implements API.
func (c *Client) History(address string, q HistoryQuery) (p HistoryPage, err error) {
	err = c.do("history", call{Address: address, History: q}, &p)
	return p, err
}

// Usage implements API.
func (c *Client) Usage(address string, q UsageQuery) (p UsagePage, err error) {
	err = c.do("usage", call{Address: address, Usage: q}, &p)
	return p, err
}

// Reservations implements API.
func (c *Client) Reservations(q ReservationQuery) (out []marketplace.Request, err error) {
	err = c.do("reservation-list", call{Reservations: q}, &out)
	return out, err
}

// Void implements API.
func (c *Client) Void(reservationID, note string) (r marketplace.Request, err error) {
	err = c.do("reservation-void", call{Reservation: reservationID, Note: note}, &r)
	return r, err
}

// Verify implements API.
func (c *Client) Verify() (r VerifyReport, err error) {
	err = c.do("ledger-verify", call{}, &r)
	return r, err
}

// SetPricing implements API.
func (c *Client) SetPricing(address string, p marketplace.Pricing) error {
	return c.do("pricing-set", call{Address: address, Pricing: &p}, nil)
}

// Pricing implements API.
func (c *Client) Pricing(address string) (p marketplace.Pricing, err error) {
	err = c.do("pricing-show", call{Address: address}, &p)
	return p, err
}
