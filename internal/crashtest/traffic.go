package crashtest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// retryPause is how long a worker waits after the server went away.
const retryPause = 20 * time.Millisecond

// Fleet is the agents traffic runs between, and what its sellers remember
// across server restarts.
type Fleet struct {
	Buyers, Sellers []string
	Journal         *Journal

	mu        sync.Mutex
	responded map[string]bool     // request ids a seller has answered (or tried to)
	seen      map[string]imap.UID // per seller, the last INBOX UID read
}

// NewFleet returns a fleet over the given agents.
func NewFleet(buyers, sellers []string) *Fleet {
	return &Fleet{Buyers: buyers, Sellers: sellers, Journal: NewJournal(),
		responded: make(map[string]bool), seen: make(map[string]imap.UID)}
}

// Agents returns every agent of the fleet.
func (f *Fleet) Agents() []string { return append(append([]string{}, f.Buyers...), f.Sellers...) }

// Run drives traffic at srv from one goroutine per buyer and seller, one
// plain-mail sender and one IMAP IDLE session, until stop closes. The
// returned function waits for every worker to finish.
func (f *Fleet) Run(srv *Server, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	spawn := func(fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn()
		}()
	}
	for i, b := range f.Buyers {
		spawn(func() { f.buyer(srv, stop, b, rand.New(rand.NewPCG(uint64(i), 1))) })
	}
	for i, s := range f.Sellers {
		spawn(func() { f.seller(srv, stop, s, rand.New(rand.NewPCG(uint64(i), 2))) })
	}
	spawn(func() { f.plain(srv, stop, rand.New(rand.NewPCG(0, 3))) })
	spawn(func() { idle(srv, stop, f.Buyers[0]) })
	return wg.Wait
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// submit records, sends and settles one message; false means the server
// could not be reached.
func (f *Fleet) submit(srv *Server, s *Sent, extra ...string) bool {
	f.Journal.Record(s)
	out, err := Send(srv.SMTP, s.From, s.To, compose(s, extra...))
	f.Journal.Settle(s.Token, out, err)
	if out == Unsent || out == Unknown {
		time.Sleep(retryPause)
		return false
	}
	return true
}

// buyer sends paid requests to random sellers, with a refused message now
// and then: usage without a request id, or a spending cap below the price.
func (f *Fleet) buyer(srv *Server, stop <-chan struct{}, buyer string, rng *rand.Rand) {
	for n := 0; !stopped(stop); n++ {
		seller := f.Sellers[rng.IntN(len(f.Sellers))]
		s := &Sent{From: buyer, To: []string{seller}, Kind: KindRequest}
		var extra []string
		switch {
		case n%9 == 8:
			s.Kind, s.Token = KindBad, f.Journal.Token("bad")
			extra = []string{`X-AgentMail-Usage: {"outcomes_returned": 1}`}
		case n%13 == 12:
			s.Kind, s.Token = KindBad, f.Journal.Token("cap")
			extra = []string{"X-AgentMail-Marketplace-Request-Id: " + s.Token,
				"X-AgentMail-Max-Charge: 0.000001"}
		default:
			s.Token = f.Journal.Token("rq")
			s.RequestID = s.Token
			extra = []string{"X-AgentMail-Marketplace-Request-Id: " + s.Token}
		}
		f.submit(srv, s, extra...)
	}
}

// seller reads its INBOX over IMAP, answers every paid request it has not
// answered yet (never twice, even when the answer's fate is unknown) and
// flags what it handled \Seen.
func (f *Fleet) seller(srv *Server, stop <-chan struct{}, seller string, rng *rand.Rand) {
	for !stopped(stop) {
		c, err := IMAPLogin(srv.IMAP, seller)
		if err != nil {
			time.Sleep(retryPause)
			continue
		}
		for !stopped(stop) && f.answer(srv, c, seller, rng) == nil {
			time.Sleep(30 * time.Millisecond)
		}
		c.Close()
	}
}

func (f *Fleet) answer(srv *Server, c *imapclient.Client, seller string, rng *rand.Rand) error {
	f.mu.Lock()
	after := f.seen[seller]
	f.mu.Unlock()
	msgs, err := ReadMailbox(c, "INBOX", after, true)
	if err != nil {
		return err
	}
	var handled imap.UIDSet
	for _, m := range msgs {
		f.mu.Lock()
		f.seen[seller] = max(f.seen[seller], m.UID)
		fresh := m.Reservation != "" && !f.responded[m.Reservation]
		f.responded[m.Reservation] = true
		f.mu.Unlock()
		handled.AddNum(m.UID)
		if !fresh {
			continue
		}
		req, ok := f.Journal.Get(m.Reservation)
		if !ok {
			continue // the checks report a stamp that no request of ours carries
		}
		usage := fmt.Sprintf(`{"outcomes_returned": %d}`, rng.IntN(5))
		if rng.IntN(6) == 0 {
			usage = `{"outcomes_returned": 0, "declined": true}`
		}
		s := &Sent{Token: f.Journal.Token("rs"), Kind: KindResponse, From: seller,
			To: []string{req.From}, RequestID: req.RequestID}
		if !f.submit(srv, s, "X-AgentMail-Marketplace-Request-Id: "+req.RequestID,
			"X-AgentMail-Usage: "+usage) {
			return fmt.Errorf("server gone")
		}
	}
	if len(handled) > 0 {
		return c.Store(handled, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
			Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
	}
	return nil
}

// plain sends free mail between random agents, to up to three recipients.
func (f *Fleet) plain(srv *Server, stop <-chan struct{}, rng *rand.Rand) {
	agents := f.Agents()
	for !stopped(stop) {
		perm := rng.Perm(len(agents))
		s := &Sent{Token: f.Journal.Token("pl"), Kind: KindPlain, From: agents[perm[0]]}
		for _, i := range perm[1 : 2+rng.IntN(3)] {
			s.To = append(s.To, agents[i])
		}
		f.submit(srv, s)
	}
}

// idle keeps an IMAP session in IDLE on agent's INBOX, re-issuing it often.
func idle(srv *Server, stop <-chan struct{}, agent string) {
	for !stopped(stop) {
		c, err := IMAPLogin(srv.IMAP, agent)
		if err != nil {
			time.Sleep(retryPause)
			continue
		}
		if _, err := c.Select("INBOX", nil).Wait(); err == nil {
			for !stopped(stop) {
				cmd, err := c.Idle()
				if err != nil {
					break
				}
				time.Sleep(150 * time.Millisecond)
				if cmd.Close() != nil || cmd.Wait() != nil {
					break
				}
			}
		}
		c.Close()
	}
}

// compose builds the message for s, with extra header lines.
func compose(s *Sent, extra ...string) string {
	var b strings.Builder
	to := make([]string, len(s.To))
	for i, r := range s.To {
		to[i] = r + "@" + Domain
	}
	fmt.Fprintf(&b, "From: %s@%s\r\nTo: %s\r\nSubject: %s\r\nMessage-Id: <%s@crash.test>\r\n",
		s.From, Domain, strings.Join(to, ", "), s.Token, s.Token)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "\r\n{\"task\": %q}\r\n", s.Token)
	return b.String()
}
