package load

import (
	"fmt"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// idleWatcher holds one IMAP session in IDLE on a recipient's INBOX and
// notes when each new message is announced (an untagged EXISTS).
type idleWatcher struct {
	client *imapclient.Client
	idle   *imapclient.IdleCommand

	mu      sync.Mutex
	start   time.Time
	ready   bool
	base    uint32          // messages before the run
	seen    uint32          // messages announced so far
	arrived []time.Duration // arrival of message base+1+i, since the start
	changed chan struct{}   // signalled after each announcement
}

// startWatchers logs in as every recipient and enters IDLE on its INBOX.
func startWatchers(addr string, recipients []Worker) ([]*idleWatcher, error) {
	var out []*idleWatcher
	for _, r := range recipients {
		w, err := startWatcher(addr, r)
		if err != nil {
			stopWatchers(out)
			return nil, fmt.Errorf("IDLE as %s: %w", r.imapUser(), err)
		}
		out = append(out, w)
	}
	return out, nil
}

func startWatcher(addr string, r Worker) (*idleWatcher, error) {
	w := &idleWatcher{changed: make(chan struct{}, 1)}
	opts := &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				w.announce(*d.NumMessages)
			}
		},
	}}
	c, err := imapclient.DialInsecure(addr, opts)
	if err != nil {
		return nil, err
	}
	w.client = c
	if err := c.Login(r.imapUser(), r.RecipientPassword).Wait(); err != nil {
		c.Close()
		return nil, err
	}
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		c.Close()
		return nil, err
	}
	w.mu.Lock()
	w.base, w.seen, w.ready = sel.NumMessages, sel.NumMessages, true
	w.start = time.Now()
	w.mu.Unlock()
	if w.idle, err = c.Idle(); err != nil {
		c.Close()
		return nil, err
	}
	return w, nil
}

func (w *idleWatcher) setStart(t time.Time) {
	w.mu.Lock()
	w.start = t
	w.mu.Unlock()
}

// announce records an EXISTS. A server may announce several messages at
// once; each gets the time of the announcement.
func (w *idleWatcher) announce(n uint32) {
	now := time.Now()
	w.mu.Lock()
	if w.ready && n > w.seen {
		for ; w.seen < n; w.seen++ {
			w.arrived = append(w.arrived, now.Sub(w.start))
		}
	}
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// arrivals returns the arrival times recorded so far.
func (w *idleWatcher) arrivals() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.arrived...)
}

// waitDelivered waits until every watcher has seen its expected count, or
// until timeout passes without any new announcement.
func waitDelivered(ws []*idleWatcher, expected []int, timeout time.Duration) {
	for i, w := range ws {
		for {
			if len(w.arrivals()) >= expected[i] {
				break
			}
			select {
			case <-w.changed:
				continue
			case <-time.After(timeout):
			}
			break
		}
	}
}

func stopWatchers(ws []*idleWatcher) {
	for _, w := range ws {
		if w.idle != nil && w.idle.Close() == nil {
			_ = w.idle.Wait()
		}
		_ = w.client.Logout().Wait()
		w.client.Close()
	}
}
