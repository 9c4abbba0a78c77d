package marketplace

import (
	"bytes"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"

	"agentmail/billing"
	"agentmail/internal/envelope"
	"agentmail/internal/rawmsg"
	"agentmail/internal/store"
	"agentmail/mailstore"
)

// Config holds the marketplace's settings.
type Config struct {
	// ReservationTTL is how long a request's reservation stays open.
	ReservationTTL time.Duration
	// SaveSent keeps a copy of every submitted message in the sender's Sent.
	SaveSent bool
	// PlatformFeeMicroPercent is the share of each charge, in millionths of
	// a percent, that goes to the platform account instead of the seller.
	PlatformFeeMicroPercent int64
}

// Market applies the marketplace rules to submitted mail.
type Market struct {
	db     *store.DB
	ledger *billing.Ledger
	mail   *mailstore.Store
	cfg    Config
}

// New prepares the marketplace's buckets.
func New(ledger *billing.Ledger, mail *mailstore.Store, cfg Config) (*Market, error) {
	if cfg.ReservationTTL <= 0 {
		return nil, fmt.Errorf("reservation_ttl must be positive, got %s", cfg.ReservationTTL)
	}
	if cfg.PlatformFeeMicroPercent < 0 || cfg.PlatformFeeMicroPercent > 100_000_000 {
		return nil, fmt.Errorf("platform fee must be within [0, 100] percent")
	}
	db := ledger.DB()
	err := db.Update(func(tx *store.Tx) error {
		for _, name := range [][]byte{bucketPricing, bucketRequests, bucketByAgent, bucketQuota,
			bucketIndexPending, bucketPricingSnapshots} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Market{db: db, ledger: ledger, mail: mail, cfg: cfg}, nil
}

// Ledger returns the ledger the market moves money in.
func (m *Market) Ledger() *billing.Ledger { return m.ledger }

func (m *Market) isAgent(tx *bolt.Tx, address string) bool {
	return mailstore.AgentExistsTx(tx, address)
}

// Kinds of submitted message.
const (
	KindPlain    = "plain"
	KindRequest  = "request"
	KindResponse = "response"
)

// Submission is a message an authenticated agent hands to the server.
type Submission struct {
	Sender     string   // the authenticated agent's address
	Recipients []string // normalized addresses of local agents
	// Raw is the message as received, or with Body its header section.
	Raw []byte
	// Body, when named, is a finished blob (store.DB.NewBlob) holding the
	// rest of the message after Raw. The deliveries take references to
	// it; the caller discards it when Submit refuses (store.DB.DiscardBlob).
	Body store.Blob
}

// delivery is what gets delivered: the header section (or the whole message)
// with the server's stamp, the body blob when there is one, and its
// envelope summary, computed once for every copy.
type delivery struct {
	raw  []byte
	body store.Blob
	env  []byte
}

// withStamp returns the message with a stamp field prepended; stamps are
// never in the body, so a blob body is shared unchanged.
func (msg delivery) withStamp(name, value string) delivery {
	msg.raw = rawmsg.PrependField(msg.raw, name, value)
	return msg
}

// reader returns the whole message as one stream, reading a blob body from
// its file; close it when done.
func (m *Market) reader(msg delivery) (io.Reader, func(), error) {
	if msg.body.Name == "" {
		return bytes.NewReader(msg.raw), func() {}, nil
	}
	f, err := m.db.OpenBlob(msg.body.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("open message body: %w", err)
	}
	r := io.MultiReader(bytes.NewReader(msg.raw), io.NewSectionReader(f, 0, msg.body.Size))
	return r, func() { f.Close() }, nil
}

// Result says what the marketplace did with an accepted submission. With a
// refusal, only Kind and RequestID are set, once the message's marketplace
// headers were read, so that the refusal can be logged with them.
type Result struct {
	Kind      string
	RequestID string
	// Repeat is true for a retried request or a repeated response: accepted,
	// and nothing was delivered or billed again.
	Repeat   bool
	Currency string
	Reserved billing.Amount
	Charged  billing.Amount
	Fee      billing.Amount // of Charged, to the platform
	Released billing.Amount
	Free     bool
	Stripped int // forged stamps removed
}

// Submit classifies a message, applies the ledger step and delivers, all in
// one commit: when it returns nil the message and its billing step are
// durable; when it returns a *Refusal nothing was written.
func (m *Market) Submit(sub Submission) (Result, error) {
	fields, _ := rawmsg.ScanHeader(sub.Raw)
	raw, stripped := rawmsg.StripFields(sub.Raw, fields, isServerStamp)
	msg := delivery{raw: raw, body: sub.Body}
	r, done, err := m.reader(msg)
	if err != nil {
		return Result{}, err
	}
	in, refusal := readMarketplaceData(r, fields)
	done()
	if refusal != nil {
		return Result{}, refusal
	}
	msg.env = envelope.FromHeader(raw).Marshal()
	rcpts := dedupe(sub.Recipients)
	named := Result{Kind: in.kind, RequestID: in.requestID}
	if in.kind != KindPlain && len(rcpts) != 1 {
		return named, refusePolicy("a marketplace message must have exactly one recipient, "+
			"this one has %d", len(rcpts))
	}

	var res Result
	var refused *Refusal
	err = m.db.Update(func(tx *store.Tx) error {
		res, refused = Result{Kind: in.kind, RequestID: in.requestID}, nil
		// The sender was authenticated when its session began; an agent
		// removed since then must not deliver, nor settle and be paid.
		if !m.isAgent(tx.Tx, sub.Sender) {
			refused = refusePolicy("the sending agent %s no longer exists", sub.Sender)
			return nil
		}
		for _, rcpt := range rcpts {
			if !m.isAgent(tx.Tx, rcpt) {
				refused = &Refusal{Code: 550, Enhanced: "5.1.1",
					Text: fmt.Sprintf("no such agent %s", rcpt)}
				return nil
			}
		}
		var err error
		switch in.kind {
		case KindPlain:
			err = m.deliverTx(tx, sub.Sender, rcpts, msg)
		case KindRequest:
			refused, err = m.requestTx(tx, sub.Sender, rcpts[0], in, msg, &res)
		case KindResponse:
			refused, err = m.responseTx(tx, sub.Sender, rcpts[0], in, msg, &res)
		}
		return err
	})
	if err != nil {
		return Result{}, err
	}
	if refused != nil {
		return named, refused
	}
	res.Stripped = stripped
	return res, nil
}

// deliverTx puts msg in each recipient's INBOX and, if configured, in the
// sender's Sent.
func (m *Market) deliverTx(tx *store.Tx, sender string, rcpts []string, msg delivery) error {
	for _, rcpt := range rcpts {
		_, _, err := m.mail.DeliverTx(tx, mailstore.Delivery{
			Agent: rcpt, Mailbox: mailstore.Inbox, Raw: msg.raw, Body: msg.body,
			Envelope: msg.env})
		if err != nil {
			return err
		}
	}
	if !m.cfg.SaveSent {
		return nil
	}
	_, _, err := m.mail.DeliverTx(tx, mailstore.Delivery{
		Agent: sender, Mailbox: mailstore.Sent, Raw: msg.raw, Body: msg.body,
		Flags: []string{`\Seen`}, Envelope: msg.env})
	return err
}

func dedupe(addrs []string) []string {
	seen := make(map[string]bool, len(addrs))
	out := addrs[:0:0]
	for _, a := range addrs {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}
