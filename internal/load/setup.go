package load

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"agentmail/billing"
	"agentmail/internal/admin"
	"agentmail/marketplace"
)

// Worker is one SMTP sender and the mailbox it sends to. Responses to paid
// requests are sent by the recipient, so it needs credentials too.
type Worker struct {
	Sender, SenderPassword       string // envelope sender; AUTH user unless NoAuth
	Recipient, RecipientPassword string // RCPT TO; IMAP login for IDLE
	IMAPUser                     string // IMAP login name; Recipient when empty
}

// ProvisionConfig says which agents Provision creates in agentmail.
type ProvisionConfig struct {
	Senders    int
	Recipients int    // distinct recipients; workers share them round robin
	Password   string // one password for every agent of the run
	Credit     string // decimal amount credited to each sender (buyer)
	Price      string // per_request base price published by each recipient
}

// Provision creates buyers load-buyerN and sellers load-sellerN through the
// admin API (the running server's socket or an opened data directory),
// credits the buyers and publishes per_request pricing for the sellers.
// Agents left from an earlier run are kept and their password is reset.
func Provision(api admin.API, pc ProvisionConfig) ([]Worker, error) {
	if pc.Recipients < 1 || pc.Recipients > pc.Senders {
		pc.Recipients = pc.Senders
	}
	credit, err := billing.ParseAmount(pc.Credit)
	if err != nil {
		return nil, fmt.Errorf("credit: %w", err)
	}
	pricing, err := marketplace.ParsePricing([]byte(
		fmt.Sprintf(`{"pricing_model":"per_request","base_price":%q}`, pc.Price)))
	if err != nil {
		return nil, fmt.Errorf("price: %w", err)
	}
	sellers := make([]string, pc.Recipients)
	for i := range sellers {
		if sellers[i], err = ensureAgent(api, fmt.Sprintf("load-seller%d", i), pc.Password); err != nil {
			return nil, err
		}
		if err := api.SetPricing(sellers[i], pricing); err != nil {
			return nil, fmt.Errorf("pricing for %s: %w", sellers[i], err)
		}
	}
	workers := make([]Worker, pc.Senders)
	for i := range workers {
		buyer, err := ensureAgent(api, fmt.Sprintf("load-buyer%d", i), pc.Password)
		if err != nil {
			return nil, err
		}
		if credit > 0 {
			_, err := api.Credit(admin.CreditRequest{Address: buyer, Amount: credit,
				Currency: "USD", Note: "agentmail load"})
			if err != nil {
				return nil, fmt.Errorf("credit %s: %w", buyer, err)
			}
		}
		workers[i] = Worker{Sender: buyer, SenderPassword: pc.Password,
			Recipient: sellers[i%len(sellers)], RecipientPassword: pc.Password}
	}
	return workers, nil
}

// ensureAgent creates an agent, or resets the password of one that exists,
// and returns its full address.
func ensureAgent(api admin.API, id, password string) (string, error) {
	info, err := api.AddAgent(id, password)
	if err == nil {
		return info.Address, nil
	}
	if !strings.Contains(err.Error(), "already exists") {
		return "", fmt.Errorf("add agent %s: %w", id, err)
	}
	if err := api.SetPassword(id, password); err != nil {
		return "", fmt.Errorf("reset password of %s: %w", id, err)
	}
	agents, err := api.ListAgents()
	if err != nil {
		return "", err
	}
	for _, a := range agents {
		if a.ID == id || a.Address == id {
			return a.Address, nil
		}
	}
	return "", fmt.Errorf("agent %s exists but is not listed", id)
}

// PatternWorkers builds workers for a server without agentmail's admin API:
// senders and recipients from printf patterns with one %d, for example
// "sender%d@bench.test" and "user%d@bench.test", sharing one password. The
// IMAP login of a recipient is its local part.
func PatternWorkers(senders, recipients int, from, to, password string) []Worker {
	if recipients < 1 || recipients > senders {
		recipients = senders
	}
	workers := make([]Worker, senders)
	for i := range workers {
		rcpt := fmt.Sprintf(to, i%recipients)
		local, _, _ := strings.Cut(rcpt, "@")
		workers[i] = Worker{Sender: fmt.Sprintf(from, i), SenderPassword: password,
			Recipient: rcpt, RecipientPassword: password, IMAPUser: local}
	}
	return workers
}

// ReadCredentials reads one worker per line: sender address, its password,
// recipient address, its password, separated by white space. Blank lines and
// lines starting with # are skipped.
func ReadCredentials(r io.Reader) ([]Worker, error) {
	var workers []Worker
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("credentials line %d: want sender password recipient password",
				n)
		}
		workers = append(workers, Worker{Sender: f[0], SenderPassword: f[1],
			Recipient: f[2], RecipientPassword: f[3]})
	}
	return workers, sc.Err()
}

func (w Worker) imapUser() string {
	if w.IMAPUser != "" {
		return w.IMAPUser
	}
	return w.Recipient
}
