package mailstore

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/bcrypt"

	"agentmail/internal/store"
)

var (
	// ErrNoAgent is returned when an address names no agent.
	ErrNoAgent = errors.New("no such agent")
	// ErrAgentExists is returned when adding an address that is taken.
	ErrAgentExists = errors.New("agent already exists")
)

var bucketAgents = []byte("agents")

// passwordLenMin is the shortest password an admin may set.
const passwordLenMin = 8

// Agent is an account: one address, one password, one set of mailboxes.
type Agent struct {
	Address string    `json:"address"`
	Created time.Time `json:"created"`
}

type agentRecord struct {
	Agent
	PasswordHash []byte `json:"password_hash"`
}

// NormalizeAddress checks that addr is a bare address (local@domain) and
// returns it in lower case, the form used as the key of every agent. Local
// parts are limited to letters, digits and ".-_+" so that an address can be
// used in keys, stamps and logs without quoting.
func NormalizeAddress(addr string) (string, error) {
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != strings.TrimSpace(addr) {
		return "", fmt.Errorf("invalid address %q: want local@domain", addr)
	}
	// ASCII only, checked before lower-casing: strings.ToLower maps some
	// non-ASCII letters to ASCII ones (KELVIN SIGN to k), which would let a
	// look-alike name reach another agent.
	for i := 0; i < len(a.Address); i++ {
		if a.Address[i] >= 0x80 {
			return "", fmt.Errorf("invalid address %q: use letters, digits and .-_+ only", addr)
		}
	}
	local, domain, _ := strings.Cut(strings.ToLower(a.Address), "@")
	if local == "" || len(a.Address) > 254 || strings.Trim(local, addressChars) != "" ||
		strings.Trim(domain, addressChars) != "" || domain == "" {
		return "", fmt.Errorf("invalid address %q: use letters, digits and .-_+ only", addr)
	}
	return local + "@" + domain, nil
}

const addressChars = "abcdefghijklmnopqrstuvwxyz0123456789.-_+"

// ResolveAgent turns an agent id or address into an address: a bare id is
// the local part on the primary domain.
func ResolveAgent(idOrAddress, domain string) (string, error) {
	if !strings.Contains(idOrAddress, "@") {
		idOrAddress += "@" + domain
	}
	return NormalizeAddress(idOrAddress)
}

// AgentID is the short form of an address: its local part on the primary
// domain, the full address elsewhere.
func AgentID(address, domain string) string {
	local, dom, ok := strings.Cut(address, "@")
	if ok && strings.EqualFold(dom, domain) {
		return local
	}
	return address
}

// GeneratePassword returns a random password suitable for an agent.
func GeneratePassword() string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Store) hashPassword(password string) ([]byte, error) {
	if len(password) < passwordLenMin {
		return nil, fmt.Errorf("password too short: at least %d characters", passwordLenMin)
	}
	if len(password) > 72 {
		return nil, errors.New("password too long: at most 72 bytes")
	}
	return bcrypt.GenerateFromPassword([]byte(password), s.passwordCost())
}

func (s *Store) passwordCost() int {
	if s.bcryptCost == 0 {
		return bcrypt.DefaultCost
	}
	return s.bcryptCost
}

// SetPasswordCost sets the bcrypt cost of passwords set from now on. Tests
// lower it; the default is bcrypt's.
func (s *Store) SetPasswordCost(cost int) {
	s.bcryptCost = cost
	s.dummyOnce = sync.Once{}
}

// dummyHash is compared against when the address is unknown, to spend the
// same time as a real check.
func (s *Store) dummyHash() []byte {
	s.dummyOnce.Do(func() {
		s.dummy, _ = bcrypt.GenerateFromPassword([]byte("agentmail-no-such-agent"),
			s.passwordCost())
	})
	return s.dummy
}

// AddAgent creates an agent with its standard folders.
func (s *Store) AddAgent(address, password string) error {
	address, err := NormalizeAddress(address)
	if err != nil {
		return err
	}
	hash, err := s.hashPassword(password)
	if err != nil {
		return err
	}
	rec := agentRecord{Agent: Agent{Address: address, Created: time.Now().UTC()}, PasswordHash: hash}
	return s.db.Update(func(tx *store.Tx) error {
		b := tx.Bucket(bucketAgents)
		if b.Get([]byte(address)) != nil {
			return fmt.Errorf("add %s: %w", address, ErrAgentExists)
		}
		if err := putJSON(b, []byte(address), rec); err != nil {
			return err
		}
		for _, f := range standardFolders {
			if err := s.createMailboxTx(tx, address, f.name, f.specialUse); err != nil {
				return fmt.Errorf("add %s: %w", address, err)
			}
		}
		return nil
	})
}

// SetPassword replaces an agent's password.
func (s *Store) SetPassword(address, password string) error {
	hash, err := s.hashPassword(password)
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *store.Tx) error {
		b := tx.Bucket(bucketAgents)
		var rec agentRecord
		if err := getJSON(b, []byte(address), &rec); err != nil {
			return err
		}
		rec.PasswordHash = hash
		return putJSON(b, []byte(address), rec)
	})
	if err == nil {
		s.auth.forget(address)
	}
	return err
}

// RemoveAgent deletes an agent and all its mail.
func (s *Store) RemoveAgent(address string) error {
	err := s.db.Update(func(tx *store.Tx) error {
		b := tx.Bucket(bucketAgents)
		if b.Get([]byte(address)) == nil {
			return fmt.Errorf("remove %s: %w", address, ErrNoAgent)
		}
		if err := b.Delete([]byte(address)); err != nil {
			return err
		}
		boxes := tx.Bucket(bucketMailboxes)
		ab := boxes.Bucket([]byte(address))
		if ab == nil {
			return nil
		}
		// Sessions with one of the mailboxes selected are told it is gone.
		err := ab.ForEachBucket(func(k []byte) error {
			name := string(k)
			tx.OnCommit(func() { s.observer.MailboxGone(address, name) })
			return unrefMailboxBlobs(tx, ab.Bucket(k))
		})
		if err != nil {
			return fmt.Errorf("remove %s: %w", address, err)
		}
		return boxes.DeleteBucket([]byte(address))
	})
	if err == nil {
		s.auth.forget(address)
	}
	return err
}

// Agent returns the agent at address, or ErrNoAgent.
func (s *Store) Agent(address string) (Agent, error) {
	var rec agentRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketAgents), []byte(address), &rec)
	})
	return rec.Agent, err
}

// AgentExistsTx reports whether address is an agent, inside a transaction.
func AgentExistsTx(tx *bolt.Tx, address string) bool {
	return tx.Bucket(bucketAgents).Get([]byte(address)) != nil
}

// Agents lists every agent in address order.
func (s *Store) Agents() ([]Agent, error) {
	var out []Agent
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAgents).ForEach(func(k, v []byte) error {
			var rec agentRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("agent %s: %w", k, err)
			}
			out = append(out, rec.Agent)
			return nil
		})
	})
	return out, err
}

// Authenticate checks an agent's password. It takes as long for an unknown
// address as for a wrong password, so the answer does not reveal which
// addresses exist.
func (s *Store) Authenticate(address, password string) bool {
	address, err := NormalizeAddress(address)
	if err != nil {
		address = ""
	}
	if s.auth.check(address, password) {
		return true
	}
	var hash []byte
	_ = s.db.View(func(tx *bolt.Tx) error {
		var rec agentRecord
		if getJSON(tx.Bucket(bucketAgents), []byte(address), &rec) == nil {
			hash = rec.PasswordHash
		}
		return nil
	})
	if hash == nil {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash(), []byte(password))
		return false
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return false
	}
	s.auth.remember(address, password)
	return true
}

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return fmt.Errorf("%s: %w", key, ErrNoAgent)
	}
	return json.Unmarshal(data, v)
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}
