package load

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// sent is what happened to one message.
type sent struct {
	kind      string
	rcpt      int           // index of the recipient mailbox, for IDLE matching
	at        time.Duration // when the final reply arrived, since the start
	latency   time.Duration // end of data to final reply
	code      string        // "" when accepted
	intoInbox bool          // accepted into the watched recipient's INBOX
}

// runner is the state of one SMTP load run.
type runner struct {
	cfg      Config
	filler   []byte
	runID    string
	start    time.Time
	rcptIdx  map[string]int
	done     atomic.Int64
	perWorks [][]sent
}

// Run submits the configured messages and returns the measurements. It
// holds IDLE sessions on the recipients first when an IMAP address is set,
// and samples the server's memory when PIDs are given.
func Run(cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, filler: newFiller(largest(cfg.Sizes)),
		runID: fmt.Sprintf("%x", time.Now().UnixNano()), rcptIdx: map[string]int{},
		perWorks: make([][]sent, len(cfg.Workers))}
	var watched []Worker
	for _, w := range cfg.Workers {
		if _, ok := r.rcptIdx[w.Recipient]; !ok {
			r.rcptIdx[w.Recipient] = len(watched)
			watched = append(watched, w)
		}
	}

	var watchers []*idleWatcher
	if cfg.IMAPAddr != "" {
		var err error
		if watchers, err = startWatchers(cfg.IMAPAddr, watched); err != nil {
			return nil, err
		}
		defer stopWatchers(watchers)
	}
	var mem *memSampler
	if len(cfg.PIDs) > 0 {
		mem = startMemSampler(cfg.PIDs)
	}

	// Sessions log in before the clock starts: a login costs the server a
	// password hash check, which the rate of messages should not include
	// (and the pair, driven without AUTH, never pays).
	sessions := r.dialAll()
	r.start = time.Now()
	for _, w := range watchers {
		w.setStart(r.start)
	}
	stopProgress := r.progress()
	var wg sync.WaitGroup
	for i := range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.perWorks[i] = r.work(i, sessions[i])
		}()
	}
	wg.Wait()
	sendDone := time.Since(r.start)
	stopProgress()

	var all []sent
	for _, s := range r.perWorks {
		all = append(all, s...)
	}
	if watchers != nil {
		waitDelivered(watchers, expectedPerRecipient(all, len(watched)), cfg.Deliver)
	}
	rep := buildReport(cfg, all, sendDone, watchers)
	if mem != nil {
		m := mem.stop()
		rep.Memory = &m
	}
	return rep, nil
}

func largest(sizes Sizes) int {
	n := 0
	for _, s := range sizes {
		n = max(n, s.Value)
	}
	return n
}

// workerSessions are a worker's sessions as its sender and, for responses,
// as its recipient; nil until dialed.
type workerSessions struct{ buyer, seller *smtpClient }

// dialAll opens and authenticates every worker's sessions concurrently. A
// session that fails to open is left nil; the worker dials it again when it
// first sends, and counts the failure there.
func (r *runner) dialAll() []workerSessions {
	out := make([]workerSessions, len(r.cfg.Workers))
	responses := false
	for _, m := range r.cfg.Mix {
		responses = responses || (m.Value == KindResponse && m.Weight > 0)
	}
	dial := func(user, password string) *smtpClient {
		if r.cfg.NoAuth {
			user = ""
		}
		c, err := dialSMTP(r.cfg.SMTPAddr, user, password)
		if err != nil {
			return nil
		}
		return c
	}
	var wg sync.WaitGroup
	for i, wk := range r.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].buyer = dial(wk.Sender, wk.SenderPassword)
			if responses {
				out[i].seller = dial(wk.Recipient, wk.RecipientPassword)
			}
		}()
	}
	wg.Wait()
	return out
}

// work is one worker's loop: its share of the messages, in order, over one
// session as the sender and, for responses, one as the recipient.
func (r *runner) work(wi int, ss workerSessions) []sent {
	wk := r.cfg.Workers[wi]
	n := len(r.cfg.Workers)
	var out []sent
	buyer, seller := ss.buyer, ss.seller
	defer func() {
		for _, c := range []*smtpClient{buyer, seller} {
			if c != nil {
				c.close()
			}
		}
	}()
	var open []string // requests sent and not yet answered
	for i := wi; i < r.cfg.Messages; i += n {
		kind, size := pick(r.cfg.Mix, i), pick(r.cfg.Sizes, i)
		if kind == KindResponse && len(open) == 0 {
			kind = KindRequest
		}
		var m message
		conn := &buyer
		user, password := wk.Sender, wk.SenderPassword
		now := time.Now()
		switch kind {
		case KindResponse:
			m = compose(r.filler, kind, wk.Recipient, wk.Sender, open[0], size, now)
			conn, user, password = &seller, wk.Recipient, wk.RecipientPassword
		default:
			m = compose(r.filler, kind, wk.Sender, wk.Recipient,
				fmt.Sprintf("load-%s-%d-%d", r.runID, wi, i), size, now)
		}
		s := r.sendOne(conn, user, password, m)
		s.rcpt = r.rcptIdx[wk.Recipient]
		switch {
		case kind == KindResponse:
			open = open[1:] // answered, or refused and not worth a retry
		case kind == KindRequest && s.code == "":
			open = append(open, m.requestID)
		}
		out = append(out, s)
		r.done.Add(1)
	}
	return out
}

// sendOne sends m on *conn, dialing first when there is no session; a
// session that failed at the network level is dropped and redialed next.
func (r *runner) sendOne(conn **smtpClient, user, password string, m message) sent {
	s := sent{kind: m.kind}
	if *conn == nil {
		if r.cfg.NoAuth {
			user = ""
		}
		c, err := dialSMTP(r.cfg.SMTPAddr, user, password)
		if err != nil {
			s.code, s.at = replyCode(err), time.Since(r.start)
			return s
		}
		*conn = c
	}
	lat, err := (*conn).send(m)
	s.at, s.latency = time.Since(r.start), lat
	if err != nil {
		s.code = replyCode(err)
		if s.code == "net" {
			(*conn).conn.Close()
			*conn = nil
		}
		return s
	}
	s.intoInbox = m.kind != KindResponse
	return s
}

func expectedPerRecipient(all []sent, n int) []int {
	exp := make([]int, n)
	for _, s := range all {
		if s.intoInbox {
			exp[s.rcpt]++
		}
	}
	return exp
}

// progress reports progress every 200 ms until the returned stop is called.
func (r *runner) progress() (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				r.cfg.Progress(int(r.done.Load()), r.cfg.Messages, time.Since(r.start))
				return
			case <-t.C:
				r.cfg.Progress(int(r.done.Load()), r.cfg.Messages, time.Since(r.start))
			}
		}
	}()
	return func() { close(quit); <-finished }
}
