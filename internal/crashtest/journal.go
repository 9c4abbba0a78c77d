package crashtest

import (
	"fmt"
	"sort"
	"sync"
)

// Message kinds the traffic sends.
const (
	KindPlain    = "plain"    // ordinary mail, one or more recipients
	KindRequest  = "request"  // a paid request: reserves, then delivers
	KindResponse = "response" // a seller's answer: settles, then delivers
	KindBad      = "bad"      // a message the contract refuses
)

// Sent is one submission and what the client learned of it.
type Sent struct {
	Token     string // unique; Message-Id <token@crash.test> and Subject
	Kind      string
	From      string   // agent id
	To        []string // agent ids
	RequestID string   // requests and responses
	Outcome   Outcome
	Reply     string // the SMTP reply or error that decided Outcome
}

// Journal records every submission of a run.
type Journal struct {
	mu   sync.Mutex
	sent map[string]*Sent
	seq  int
}

// NewJournal returns an empty journal.
func NewJournal() *Journal { return &Journal{sent: make(map[string]*Sent)} }

// Token returns a new unique token with the given prefix.
func (j *Journal) Token(prefix string) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	return fmt.Sprintf("%s-%06d", prefix, j.seq)
}

// Record adds s before it is sent.
func (j *Journal) Record(s *Sent) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.sent[s.Token] = s
}

// Settle records the outcome of a submission.
func (j *Journal) Settle(token string, o Outcome, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.sent[token]
	s.Outcome = o
	if err != nil {
		s.Reply = err.Error()
	}
}

// Get returns a copy of one submission.
func (j *Journal) Get(token string) (Sent, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	s, ok := j.sent[token]
	if !ok {
		return Sent{}, false
	}
	return *s, true
}

// All returns copies of every submission, in token order.
func (j *Journal) All() []Sent {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Sent, 0, len(j.sent))
	for _, s := range j.sent {
		out = append(out, *s)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Token < out[b].Token })
	return out
}

// Acked returns the tokens of every submission acknowledged so far.
func (j *Journal) Acked() map[string]bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make(map[string]bool)
	for token, s := range j.sent {
		if s.Outcome == Accepted {
			out[token] = true
		}
	}
	return out
}
