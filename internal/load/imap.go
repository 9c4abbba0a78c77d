package load

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// IMAPConfig describes the IMAP workload: one session on one large mailbox.
type IMAPConfig struct {
	Addr, User, Password string
	Mailbox              string
	Repeat               int    // runs of the whole sequence; the first is cold
	Needle               string // searched for in Subject
}

// IMAPOp is the timing of one operation over the runs, in milliseconds.
type IMAPOp struct {
	Name   string  `json:"op"`
	First  float64 `json:"first_ms"`
	Median float64 `json:"median_ms"`
	Min    float64 `json:"min_ms"`
	Items  int     `json:"items"` // messages fetched or found in the last run
}

// IMAPReport is the outcome of the IMAP workload.
type IMAPReport struct {
	Messages uint32   `json:"messages"`
	Ops      []IMAPOp `json:"ops"`
}

// imapStep is one timed command; it returns how many items it got.
type imapStep struct {
	name string
	run  func(c *imapclient.Client) (int, error)
}

// RunIMAP logs in once and runs SELECT, FETCH 1:* FLAGS, FETCH 1:* ENVELOPE,
// FETCH 1:* BODY.PEEK[], SEARCH SUBJECT and SEARCH BODY (a word no message
// has, so every body is read) Repeat times.
func RunIMAP(cfg IMAPConfig) (*IMAPReport, error) {
	if cfg.Repeat < 1 {
		cfg.Repeat = 1
	}
	c, err := imapclient.DialInsecure(cfg.Addr, nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Login(cfg.User, cfg.Password).Wait(); err != nil {
		return nil, fmt.Errorf("login as %s: %w", cfg.User, err)
	}
	rep := &IMAPReport{}
	steps := imapSteps(cfg, &rep.Messages)
	times := make([][]time.Duration, len(steps))
	items := make([]int, len(steps))
	for range cfg.Repeat {
		for i, st := range steps {
			start := time.Now()
			n, err := st.run(c)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", st.name, err)
			}
			times[i] = append(times[i], time.Since(start))
			items[i] = n
		}
		if err := c.Unselect().Wait(); err != nil {
			return nil, fmt.Errorf("UNSELECT: %w", err)
		}
	}
	for i, st := range steps {
		sorted := slices.Clone(times[i])
		slices.Sort(sorted)
		rep.Ops = append(rep.Ops, IMAPOp{Name: st.name, First: ms(times[i][0]),
			Median: ms(sorted[len(sorted)/2]), Min: ms(sorted[0]), Items: items[i]})
	}
	_ = c.Logout().Wait()
	return rep, nil
}

func imapSteps(cfg IMAPConfig, messages *uint32) []imapStep {
	var all imap.SeqSet
	all.AddRange(1, 0)
	fetch := func(opts *imap.FetchOptions) func(*imapclient.Client) (int, error) {
		return func(c *imapclient.Client) (int, error) { return drainFetch(c.Fetch(all, opts)) }
	}
	search := func(crit *imap.SearchCriteria) func(*imapclient.Client) (int, error) {
		return func(c *imapclient.Client) (int, error) {
			data, err := c.Search(crit, nil).Wait()
			if err != nil {
				return 0, err
			}
			return len(data.AllSeqNums()), nil
		}
	}
	return []imapStep{
		{"SELECT", func(c *imapclient.Client) (int, error) {
			data, err := c.Select(cfg.Mailbox, nil).Wait()
			if err != nil {
				return 0, err
			}
			*messages = data.NumMessages
			return int(data.NumMessages), nil
		}},
		{"FETCH 1:* FLAGS", fetch(&imap.FetchOptions{Flags: true})},
		{"FETCH 1:* ENVELOPE", fetch(&imap.FetchOptions{Envelope: true})},
		{"FETCH 1:* BODY.PEEK[]", fetch(&imap.FetchOptions{
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}})},
		{"SEARCH SUBJECT " + cfg.Needle, search(&imap.SearchCriteria{
			Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: cfg.Needle}}})},
		{"SEARCH BODY zebra", search(&imap.SearchCriteria{Body: []string{"zebra"}})},
	}
}

// drainFetch reads a FETCH response to the end, discarding literals as they
// stream, and counts the messages.
func drainFetch(cmd *imapclient.FetchCommand) (int, error) {
	n := 0
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		n++
		for item := msg.Next(); item != nil; item = msg.Next() {
			if body, ok := item.(imapclient.FetchItemDataBodySection); ok && body.Literal != nil {
				if _, err := io.Copy(io.Discard, body.Literal); err != nil {
					return n, err
				}
			}
		}
	}
	return n, cmd.Close()
}

// WriteTable prints one row per operation.
func (r *IMAPReport) WriteTable(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "operation (%d messages)\tfirst ms\tmedian ms\tmin ms\titems\n", r.Messages)
	for _, op := range r.Ops {
		fmt.Fprintf(w, "%s\t%.1f\t%.1f\t%.1f\t%d\n", op.Name, op.First, op.Median, op.Min, op.Items)
	}
	return w.Flush()
}
