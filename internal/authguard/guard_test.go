package authguard

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The account block follows the account to other addresses; the address
// block covers every account; the tables stay bounded.
func TestAuthGuardTables(t *testing.T) {
	g := New(Limits{BlockAfter: 3, BlockFor: time.Minute})
	now := time.Unix(1_700_000_000, 0)
	for range 3 {
		g.Fail("192.0.2.1", "seller@localhost", now)
	}
	if g.BlockedUntil("198.51.100.7", "seller@localhost", now).IsZero() {
		t.Error("account block does not follow the account to another address")
	}
	if !g.BlockedUntil("198.51.100.7", "buyer@localhost", now.Add(time.Second)).IsZero() {
		t.Error("another address and account are blocked")
	}
	if g.BlockedUntil("192.0.2.1", "buyer@localhost", now).IsZero() {
		t.Error("address block does not cover other accounts")
	}
	if !g.BlockedUntil("192.0.2.1", "seller@localhost", now.Add(61*time.Second)).IsZero() {
		t.Error("block outlived BlockFor")
	}

	for i := range authTableMax + 100 {
		g.Fail("203.0.113.9", "guess"+strconv.Itoa(i%1000)+strings.Repeat("x", i/1000), now)
	}
	if n := len(g.byAccount); n > authTableMax {
		t.Errorf("account table grew to %d entries", n)
	}
}

func TestAddrKeyGroupsIPv6By64(t *testing.T) {
	a := AddrKey(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa::1"), Port: 1})
	b := AddrKey(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:bbbb::2"), Port: 2})
	c := AddrKey(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:3::1"), Port: 2})
	if a != b || a == c {
		t.Errorf("keys %q %q %q: want one /64 together, another apart", a, b, c)
	}
	if k := AddrKey(&net.TCPAddr{IP: net.ParseIP("192.0.2.1")}); k != "192.0.2.1" {
		t.Errorf("IPv4 key %q", k)
	}
}

// Every local agent connects from loopback: failures there count against
// the accounts tried, never against the address, unless asked.
func TestLoopbackAddressIsNotBlocked(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, count := range []bool{false, true} {
		g := New(Limits{BlockAfter: 3, BlockFor: time.Minute, CountLoopback: count})
		for i := range 3 {
			g.Fail("127.0.0.1", "guess"+strconv.Itoa(i)+"@localhost", now)
		}
		blocked := !g.BlockedUntil("127.0.0.1", "kelly@localhost", now).IsZero()
		if blocked != count {
			t.Errorf("CountLoopback %v: another local agent blocked = %v", count, blocked)
		}
		for range 3 {
			g.Fail("127.0.0.1", "kelly@localhost", now)
		}
		if g.BlockedUntil("::1", "kelly@localhost", now).IsZero() {
			t.Errorf("CountLoopback %v: the guessed account is not blocked", count)
		}
	}
}
