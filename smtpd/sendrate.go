package smtpd

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sendLimitersMax bounds the table of per-agent limiters; agents must have
// authenticated to get one, so it only fills on a very large installation.
const sendLimitersMax = 100_000

// sendLimiter holds one token bucket per agent: PerMinute messages a minute
// on average, Burst at once.
type sendLimiter struct {
	perMinute int
	burst     int

	mu     sync.Mutex
	agents map[string]*rate.Limiter
}

// newSendLimiter returns nil, which allows everything, when perMinute is 0.
func newSendLimiter(perMinute, burst int) *sendLimiter {
	if perMinute <= 0 {
		return nil
	}
	return &sendLimiter{perMinute: perMinute, burst: max(burst, 1),
		agents: make(map[string]*rate.Limiter)}
}

// take spends one message of agent's allowance. When none is left it
// spends nothing and returns how long until one is.
func (l *sendLimiter) take(agent string, now time.Time) (retryIn time.Duration) {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.agents[agent]
	if lim == nil {
		l.makeRoom(now)
		lim = rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), l.burst)
		l.agents[agent] = lim
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// makeRoom drops the limiters that are full again (as good as new), and if
// that is not enough, arbitrary ones.
func (l *sendLimiter) makeRoom(now time.Time) {
	if len(l.agents) < sendLimitersMax {
		return
	}
	for agent, lim := range l.agents {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.agents, agent)
		}
	}
	for agent := range l.agents {
		if len(l.agents) < sendLimitersMax {
			return
		}
		delete(l.agents, agent)
	}
}
