package crashtest

import "fmt"

// Counts is what one verification looked at.
type Counts struct {
	Messages     int // submissions in the journal
	Accepted     int // 250: each found exactly once in every mailbox it belongs in
	Refused      int // 4xx or 5xx: found nowhere
	Unsent       int // the server was down before the data went out: found nowhere
	Unknown      int // fate unknown at a kill: found everywhere once, or nowhere
	Recovered    int // of Unknown, those found (committed before the kill)
	Reservations int // requests in the ledger, each matched with its delivered request
	Settlements  int // settled or declined requests, each matched with its response
}

// place is one mailbox of one agent.
type place struct{ agent, mailbox string }

// snapshot is every message the server holds for the fleet, by place.
type snapshot struct {
	tokens      map[place]map[string]int // token → copies
	reservation map[string]int           // request id → stamped requests delivered
	settlement  map[string]int           // request id → stamped responses delivered
	where       map[string][]place       // token → places it was found
}

// Verify reads every mailbox of the fleet and the ledger's usage rows from
// the running srv and checks them against the journal. It returns what it
// counted and every violation found.
func (f *Fleet) Verify(srv *Server, saveSent bool) (Counts, []string) {
	return f.VerifyAsOf(srv, saveSent, nil)
}

// VerifyAsOf is Verify for a store that holds the server's state as of an
// earlier moment, such as a restored backup: the messages in acked must be
// there; those acknowledged later may be there or not, but whole.
// A nil acked means every acknowledged message.
func (f *Fleet) VerifyAsOf(srv *Server, saveSent bool, acked map[string]bool) (Counts,
	[]string) {
	snap, err := f.read(srv)
	if err != nil {
		return Counts{}, []string{err.Error()}
	}
	var c Counts
	var bad []string
	report := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }

	for _, s := range f.Journal.All() {
		c.Messages++
		if acked != nil && s.Outcome == Accepted && !acked[s.Token] {
			s.Outcome = Unknown // acknowledged after the moment the store shows
		}
		f.checkCopies(s, snap, saveSent, &c, report)
	}
	for token, places := range snap.where {
		if _, ok := f.Journal.Get(token); !ok {
			report("message %q in %v was never sent by the test", token, places)
		}
	}
	f.checkLedger(srv, snap, acked, &c, report)
	return c, bad
}

func (f *Fleet) read(srv *Server) (*snapshot, error) {
	snap := &snapshot{tokens: map[place]map[string]int{}, reservation: map[string]int{},
		settlement: map[string]int{}, where: map[string][]place{}}
	for _, agent := range f.Agents() {
		c, err := IMAPLogin(srv.IMAP, agent)
		if err != nil {
			return nil, fmt.Errorf("imap login %s: %w", agent, err)
		}
		for _, mailbox := range []string{"INBOX", "Sent"} {
			msgs, err := ReadMailbox(c, mailbox, 0, false)
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("%s %s: %w", agent, mailbox, err)
			}
			p := place{agent, mailbox}
			snap.tokens[p] = map[string]int{}
			for _, m := range msgs {
				snap.tokens[p][m.Token]++
				snap.where[m.Token] = append(snap.where[m.Token], p)
				if mailbox == "INBOX" && m.Reservation != "" {
					snap.reservation[m.Reservation]++
				}
				if mailbox == "INBOX" && m.Settlement != "" {
					snap.settlement[m.Settlement]++
				}
			}
		}
		c.Close()
	}
	return snap, nil
}

// checkCopies checks one submission against its outcome: the mailboxes it
// belongs in are its recipients' INBOXes and, when kept, its sender's Sent.
func (f *Fleet) checkCopies(s Sent, snap *snapshot, saveSent bool, c *Counts,
	report func(string, ...any)) {
	homes := map[place]bool{}
	for _, r := range s.To {
		homes[place{r, "INBOX"}] = true
	}
	if saveSent {
		homes[place{s.From, "Sent"}] = true
	}
	copies := map[place]int{}
	total := 0
	for _, p := range snap.where[s.Token] {
		copies[p]++
		total++
		if !homes[p] {
			report("%s %s (%s) found in %s/%s where it does not belong", s.Kind, s.Token,
				s.Outcome, p.agent, p.mailbox)
		}
	}

	switch s.Outcome {
	case Accepted:
		c.Accepted++
		for p := range homes {
			if copies[p] != 1 {
				report("%s %s was acknowledged but is in %s/%s %d times", s.Kind, s.Token,
					p.agent, p.mailbox, copies[p])
			}
		}
	case Refused, TempFailed, Unsent:
		if s.Outcome == Unsent {
			c.Unsent++
		} else {
			c.Refused++
		}
		if total > 0 {
			report("%s %s was not acknowledged (%s: %s) but is in %v", s.Kind, s.Token,
				s.Outcome, s.Reply, snap.where[s.Token])
		}
	case Unknown:
		c.Unknown++
		if total > 0 {
			c.Recovered++
		}
		for p := range homes {
			if n := copies[p]; n > 1 || (total > 0 && n != 1) {
				report("%s %s (fate unknown) is in %s/%s %d times of %d copies: "+
					"half-delivered or duplicated", s.Kind, s.Token, p.agent, p.mailbox, n, total)
			}
		}
	case Pending:
		report("%s %s never got an outcome", s.Kind, s.Token)
	}
}

// checkLedger matches every request in the ledger with the mail that
// carried it, and every acknowledged request and response with the ledger.
func (f *Fleet) checkLedger(srv *Server, snap *snapshot, acked map[string]bool, c *Counts,
	report func(string, ...any)) {
	status := map[string]string{}
	for _, buyer := range f.Buyers {
		rows, err := Usage(srv.HTTP, buyer)
		if err != nil {
			report("usage: %v", err)
			return
		}
		for _, row := range rows {
			if row.Role == "buyer" {
				status[row.RequestID] = row.Status
			}
		}
	}

	for id, st := range status {
		c.Reservations++
		req, ok := f.Journal.Get(id)
		switch {
		case !ok:
			report("the ledger holds request %s that the test never sent", id)
		case req.Outcome != Accepted && req.Outcome != Unknown:
			report("request %s is in the ledger (%s) but was %s", id, st, req.Outcome)
		}
		if n := snap.reservation[id]; n != 1 {
			report("request %s is %s in the ledger; its stamped request was delivered %d times",
				id, st, n)
		}
		switch st {
		case "settled", "declined":
			c.Settlements++
			if n := snap.settlement[id]; n != 1 {
				report("request %s is %s; its stamped response was delivered %d times",
					id, st, n)
			}
		case "open":
			if n := snap.settlement[id]; n != 0 {
				report("request %s is open but %d responses were delivered", id, n)
			}
		default:
			report("request %s is %s: nothing in this test expires or voids", id, st)
		}
	}

	for _, s := range f.Journal.All() {
		if s.Outcome != Accepted || (acked != nil && !acked[s.Token]) {
			continue
		}
		st := status[s.RequestID]
		switch {
		case s.Kind == KindRequest && st == "":
			report("request %s was acknowledged but the ledger has no reservation", s.Token)
		case s.Kind == KindResponse && st != "settled" && st != "declined":
			report("response %s to %s was acknowledged but the request is %q", s.Token,
				s.RequestID, st)
		}
	}
}
