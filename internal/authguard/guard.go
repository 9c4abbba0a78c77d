// Package authguard slows down and then blocks repeated failed
// authentication, per remote address and per account name, for every
// protocol that takes an agent's password: SMTP AUTH, IMAP LOGIN and HTTP
// Basic share one Guard, so a guesser gains nothing by switching protocol.
package authguard

import (
	"net"
	"strings"
	"sync"
	"time"
)

// Limits slow down and then block repeated failed authentication, per
// remote address and per account name. An account name counts whether or not
// such an agent exists, so the answers never tell the two apart.
type Limits struct {
	// Delay is added to a failed attempt's answer for every recent failure
	// of the address or the account, up to MaxDelay.
	Delay, MaxDelay time.Duration
	// BlockAfter failures within BlockFor block the address or the account
	// for BlockFor; 0 never blocks.
	BlockAfter int
	BlockFor   time.Duration
	// CountLoopback counts failures against loopback addresses too. Off by
	// default: every local agent shares the address, and one of them
	// guessing must not lock all the others out (accounts still count).
	CountLoopback bool
}

// TODO: the tables live in memory, so a restart forgets every failure and
// block.
//
// authTableMax bounds each failure table; when one is full, entries whose
// failures have aged out go first, then arbitrary unblocked ones.
const authTableMax = 10_000

// failures is what one address or account has done recently.
type failures struct {
	count        int
	last         time.Time
	blockedUntil time.Time
}

// Guard keeps the failure tables. Its zero value is not usable; see New.
type Guard struct {
	limits Limits

	mu        sync.Mutex
	byAddr    map[string]*failures
	byAccount map[string]*failures
}

// New returns a guard with no failures recorded.
func New(l Limits) *Guard {
	return &Guard{limits: l, byAddr: make(map[string]*failures),
		byAccount: make(map[string]*failures)}
}

// BlockedUntil returns when the block on addr or account ends, or the zero
// time when neither is blocked. account may be "" before it is known.
func (g *Guard) BlockedUntil(addr, account string, now time.Time) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	var until time.Time
	for _, f := range []*failures{g.addrFailures(addr), g.accountFailures(account)} {
		if f != nil && f.blockedUntil.After(now) && f.blockedUntil.After(until) {
			until = f.blockedUntil
		}
	}
	return until
}

// addrFailures returns the failures counted for addr, or nil.
func (g *Guard) addrFailures(addr string) *failures {
	if !g.addrCounted(addr) {
		return nil
	}
	return g.byAddr[addr]
}

// accountFailures returns the failures counted for account, or nil.
func (g *Guard) accountFailures(account string) *failures {
	if account == "" {
		return nil
	}
	return g.byAccount[account]
}

// addrCounted reports whether failures from addr are counted: loopback only
// with CountLoopback.
func (g *Guard) addrCounted(addr string) bool {
	if addr == "" {
		return false
	}
	if g.limits.CountLoopback {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(addr, "/64"))
	return ip == nil || !ip.IsLoopback()
}

// Fail records a failed attempt. It returns how many recent failures the
// address or account has (the larger), how long to hold the answer back,
// and whether this failure started a block.
func (g *Guard) Fail(addr, account string, now time.Time) (count int, delay time.Duration,
	blocked bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var a, b *failures
	if g.addrCounted(addr) {
		a = g.record(g.byAddr, addr, now)
	}
	b = g.record(g.byAccount, account, now)
	for _, f := range []*failures{a, b} {
		if f == nil {
			continue
		}
		count = max(count, f.count)
		if g.limits.BlockAfter > 0 && f.count >= g.limits.BlockAfter && !f.blockedUntil.After(now) {
			f.blockedUntil = now.Add(g.limits.BlockFor)
			blocked = true
		}
	}
	delay = min(time.Duration(count)*g.limits.Delay, g.limits.MaxDelay)
	return count, delay, blocked
}

// record counts one failure for key, forgetting failures older than
// BlockFor.
func (g *Guard) record(table map[string]*failures, key string, now time.Time) *failures {
	if key == "" {
		return nil
	}
	f := table[key]
	if f == nil {
		g.makeRoom(table, now)
		f = &failures{}
		table[key] = f
	}
	if now.Sub(f.last) > g.limits.BlockFor && !f.blockedUntil.After(now) {
		f.count = 0
	}
	f.count++
	f.last = now
	return f
}

// makeRoom keeps a table under authTableMax entries.
func (g *Guard) makeRoom(table map[string]*failures, now time.Time) {
	if len(table) < authTableMax {
		return
	}
	for k, f := range table {
		if now.Sub(f.last) > g.limits.BlockFor && !f.blockedUntil.After(now) {
			delete(table, k)
		}
	}
	for k, f := range table {
		if len(table) < authTableMax {
			return
		}
		if !f.blockedUntil.After(now) {
			delete(table, k)
		}
	}
	// TODO: a table full of blocked entries drops one at random; an
	// attacker with that many addresses frees one of them early.
	for k := range table {
		if len(table) < authTableMax {
			return
		}
		delete(table, k)
	}
}

// Succeed forgets an account's failures after a successful login. The
// address keeps its count: one valid account must not launder an
// address's guesses at others.
func (g *Guard) Succeed(account string) {
	g.mu.Lock()
	delete(g.byAccount, account)
	g.mu.Unlock()
}

// Limits returns the limits the guard applies.
func (g *Guard) Limits() Limits { return g.limits }

// AddrKey is the remote address a limit applies to: the IPv4 address, or
// the /64 of an IPv6 address, since one IPv6 host usually holds a whole /64.
func AddrKey(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if v4 := tcp.IP.To4(); v4 != nil {
		return v4.String()
	}
	return tcp.IP.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
