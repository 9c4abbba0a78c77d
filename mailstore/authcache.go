package mailstore

import (
	"crypto/sha256"
	"sync"
	"time"
)

// authCacheTTL is how long a verified password is remembered. bcrypt makes
// each check cost tens of milliseconds, which would otherwise bound how many
// sessions an agent can open per second.
const authCacheTTL = 5 * time.Minute

// authCacheLenMax bounds the cache; it is cleared when full.
const authCacheLenMax = 10000

// authCache remembers, per address, a digest of the last password that
// passed bcrypt. Only digests are kept, never passwords.
type authCache struct {
	mu      sync.Mutex
	entries map[string]authEntry
}

type authEntry struct {
	digest  [32]byte
	expires time.Time
}

func (c *authCache) check(address, password string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[address]
	return ok && time.Now().Before(e.expires) && e.digest == sha256.Sum256([]byte(password))
}

func (c *authCache) remember(address, password string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= authCacheLenMax {
		c.entries = make(map[string]authEntry)
	}
	c.entries[address] = authEntry{sha256.Sum256([]byte(password)), time.Now().Add(authCacheTTL)}
}

func (c *authCache) forget(address string) {
	c.mu.Lock()
	delete(c.entries, address)
	c.mu.Unlock()
}
