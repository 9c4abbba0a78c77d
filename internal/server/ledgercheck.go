package server

import (
	"fmt"
	"strings"
	"time"
)

// prepareLedger runs before any mail is accepted: reservations that fell due
// while the server was down are returned, oldest first, and then the ledger's
// invariants are checked. A breach stops the start unless the operator
// allowed it, since serving on books that do not add up would compound them.
func (s *Server) prepareLedger() error {
	expired := 0
	for {
		n, err := s.Stores.Market.ExpireDue()
		if err != nil {
			return fmt.Errorf("expire due reservations: %w", err)
		}
		if n == 0 {
			break
		}
		expired += n
	}
	if expired > 0 {
		s.log.Info("expired reservations that fell due while stopped", "count", expired)
	}

	breaches, err := s.Stores.Ledger.Verify()
	if err != nil {
		return fmt.Errorf("verify ledger: %w", err)
	}
	for _, b := range breaches {
		s.log.Error("ledger breach", "invariant", b.Invariant, "detail", b.Detail,
			"entries", fmt.Sprint(b.Entries))
	}
	if len(breaches) > 0 && !s.cfg.Billing.AllowLedgerBreach {
		lines := make([]string, len(breaches))
		for i, b := range breaches {
			lines[i] = b.String()
		}
		return fmt.Errorf("ledger verify found %d breaches; refusing to serve "+
			"(set billing.allow_ledger_breach to override):\n%s",
			len(breaches), strings.Join(lines, "\n"))
	}
	return nil
}

// verifyEvery checks the ledger's invariants periodically and logs breaches.
func (s *Server) verifyEvery(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			breaches, err := s.Stores.Ledger.Verify()
			if err != nil {
				s.log.Error("verify ledger", "err", err)
			}
			for _, b := range breaches {
				s.log.Error("ledger breach", "invariant", b.Invariant, "detail", b.Detail,
					"entries", fmt.Sprint(b.Entries))
			}
		}
	}
}
