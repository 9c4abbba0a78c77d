package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"agentmail/billing"
	"agentmail/internal/admin"
	"agentmail/internal/config"
	"agentmail/internal/server"
	"agentmail/marketplace"
)

// demoWait bounds each wait of the demo for the server.
const demoWait = 10 * time.Second

// demoRequestID is the marketplace request id of the demo's request.
const demoRequestID = "demo-request-1"

func newDemoCmd() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a paid request between two agents over real SMTP and IMAP",
		Long: `Start a throw-away server on free loopback ports in a temporary data
directory, and walk a paid request through it step by step: a seller with
per_request pricing of 0.25 USD, a buyer with 10.00 USD, the public pricing
lookup, the request over SMTP and its reservation, the seller's IMAP IDLE
waking, the response with usage over SMTP and its settlement, and the final
balances. The data directory is removed afterwards; the exit status is
non-zero if any step fails.`,
		Example: `  agentmail demo
  agentmail demo --verbose`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(),
				&slog.HandlerOptions{Level: level}))
			return runDemo(cmd.OutOrStdout(), log)
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show the server's log")
	return cmd
}

// demo is the state of one demo run.
type demo struct {
	out                          io.Writer
	admin                        *admin.Service
	smtpAddr, imapAddr, httpAddr string
	smtpTLS                      *tls.Config // trusts the server's generated certificate
	buyer, seller                demoAgent
	step                         int
}

// runDemo starts the server, runs every step and removes the data.
func runDemo(out io.Writer, log *slog.Logger) error {
	dir, err := os.MkdirTemp("", "agentmail-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	cfg := config.Default()
	cfg.DataDir = dir
	cfg.SMTP.Listen, cfg.IMAP.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0",
		"127.0.0.1:0"
	srv, err := server.Start(cfg, log, server.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()

	d := &demo{out: out, admin: srv.Stores.Admin(cfg.Domain)}
	d.smtpAddr, d.imapAddr, d.httpAddr = srv.Addrs()
	if d.smtpTLS, err = trustFile(srv.SelfSignedCertFile()); err != nil {
		return err
	}
	d.say("server started in %s", dir)
	d.detail("SMTP %s, IMAP %s, HTTP %s, domain %s", d.smtpAddr, d.imapAddr, d.httpAddr,
		cfg.Domain)

	for _, step := range []func() error{d.setUp, d.lookUpPricing, d.roundTrip,
		d.finalBalances} {
		if err := step(); err != nil {
			return fmt.Errorf("demo step %d: %w", d.step, err)
		}
	}
	fmt.Fprintln(out, "\ndone: the request was reserved, delivered, answered and settled")
	return nil
}

// say starts a numbered step; detail adds a line under it.
func (d *demo) say(format string, a ...any) {
	d.step++
	fmt.Fprintf(d.out, "\n[%d] %s\n", d.step, fmt.Sprintf(format, a...))
}

func (d *demo) detail(format string, a ...any) {
	fmt.Fprintf(d.out, "    %s\n", fmt.Sprintf(format, a...))
}

// setUp creates the agents, funds the buyer and publishes the seller's
// pricing, through the in-process admin operations.
func (d *demo) setUp() error {
	d.say("create agents buyer and seller")
	d.buyer = demoAgent{id: "buyer", password: "demo-buyer-password"}
	d.seller = demoAgent{id: "seller", password: "demo-seller-password"}
	for _, a := range []*demoAgent{&d.buyer, &d.seller} {
		info, err := d.admin.AddAgent(a.id, a.password)
		if err != nil {
			return err
		}
		a.address = info.Address
		d.detail("%s <%s>", info.ID, info.Address)
	}

	d.say("credit buyer 10.00 USD")
	amount, err := billing.ParseAmount("10.00")
	if err != nil {
		return err
	}
	if _, err := d.admin.Credit(admin.CreditRequest{Address: d.buyer.id, Amount: amount,
		Currency: "USD", Note: "demo top-up"}); err != nil {
		return err
	}

	d.say("seller publishes pricing: per_request, base_price 0.25 USD")
	p, err := marketplace.ParsePricing([]byte(`{"pricing_model": "per_request",
		"currency": "USD", "base_price": "0.25", "listing_summary": "Answers one question"}`))
	if err != nil {
		return err
	}
	return d.admin.SetPricing(d.seller.id, p)
}

// lookUpPricing reads the seller's pricing as any agent would, without
// credentials.
func (d *demo) lookUpPricing() error {
	d.say("buyer looks up the seller's public pricing")
	url := "http://" + d.httpAddr + "/public/agents/" + d.seller.id + "/pricing"
	var p marketplace.Pricing
	body, err := getJSON(url, nil, &p)
	if err != nil {
		return err
	}
	d.detail("GET %s", strings.TrimPrefix(url, "http://"+d.httpAddr))
	d.detail("%s", body)
	return nil
}

// finalBalances shows both wallets and checks the money moved as priced.
func (d *demo) finalBalances() error {
	d.say("final balances")
	want := map[string]string{d.buyer.id: "9.75", d.seller.id: "0.25"}
	for _, a := range []demoAgent{d.buyer, d.seller} {
		b, err := d.balance(a)
		if err != nil {
			return err
		}
		d.detail("%-6s available %s USD, reserved %s USD", a.id, b.Available, b.Reserved)
		if b.Available.Compact() != want[a.id] || b.Reserved != 0 {
			return fmt.Errorf("%s: want %s available and nothing reserved", a.id, want[a.id])
		}
	}
	return nil
}

// balance reads a's USD balance over HTTP, authenticated as a.
func (d *demo) balance(a demoAgent) (billing.Balance, error) {
	url := "http://" + d.httpAddr + "/agents/" + a.id + "/billing/balance"
	var reply admin.BalanceInfo
	if _, err := getJSON(url, &a, &reply); err != nil {
		return billing.Balance{}, err
	}
	for _, b := range reply.Balances {
		if b.Currency == "USD" {
			return b, nil
		}
	}
	return billing.Balance{Currency: "USD"}, nil
}

// trustFile returns a client TLS configuration whose only trust anchor is
// the certificate in path.
func trustFile(path string) (*tls.Config, error) {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return &tls.Config{RootCAs: roots}, nil
}
