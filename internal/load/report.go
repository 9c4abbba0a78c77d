package load

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"text/tabwriter"
	"time"
)

// Latency summarizes durations, in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.5) - 1
		return ms(s[min(max(i, 0), len(s)-1)])
	}
	return Latency{Count: len(s), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Report is the outcome of one SMTP load run.
type Report struct {
	Senders  int    `json:"senders"`
	Messages int    `json:"messages"`
	Mix      string `json:"mix"`
	Sizes    string `json:"sizes"`
	Auth     bool   `json:"auth"`

	Seconds        float64        `json:"seconds"` // first connection to last reply
	Accepted       int            `json:"accepted"`
	AcceptedPerSec float64        `json:"accepted_per_sec"`
	Errors         map[string]int `json:"errors_by_code"` // reply code, or "net"
	Final250       Latency        `json:"final_250"`      // end of data to the 250

	Requests          int     `json:"requests_reserved"`
	RequestsPerSec    float64 `json:"requests_per_sec"`
	Settlements       int     `json:"settlements"`
	SettlementsPerSec float64 `json:"settlements_per_sec"`

	// Only with IDLE sessions: messages seen arriving in the recipients'
	// INBOX, the rate up to the last of them, and 250 → EXISTS latency.
	Watched         bool    `json:"idle"`
	Expected        int     `json:"delivery_expected,omitempty"`
	Delivered       int     `json:"delivered,omitempty"`
	DeliveredPerSec float64 `json:"delivered_per_sec,omitempty"`
	Wake            Latency `json:"wake_after_250"`

	Memory *Memory `json:"memory,omitempty"`
}

func buildReport(cfg Config, all []sent, elapsed time.Duration, ws []*idleWatcher) *Report {
	rep := &Report{Senders: len(cfg.Workers), Messages: cfg.Messages, Mix: cfg.Mix.String(),
		Sizes: cfg.Sizes.String(), Auth: !cfg.NoAuth, Errors: map[string]int{},
		Seconds: elapsed.Seconds()}
	var lat []time.Duration
	var last time.Duration
	for _, s := range all {
		if s.code != "" {
			rep.Errors[s.code]++
			continue
		}
		rep.Accepted++
		lat = append(lat, s.latency)
		last = max(last, s.at)
		switch s.kind {
		case KindRequest:
			rep.Requests++
		case KindResponse:
			rep.Settlements++
		}
	}
	rep.Final250 = summarize(lat)
	rep.AcceptedPerSec = perSec(rep.Accepted, last)
	rep.RequestsPerSec = perSec(rep.Requests, last)
	rep.SettlementsPerSec = perSec(rep.Settlements, last)
	if ws != nil {
		rep.Watched = true
		wakeReport(rep, all, ws)
	}
	return rep
}

// wakeReport matches each recipient's accepted deliveries, in the order of
// their 250s, with the EXISTS announcements in order: the n-th message to
// reach a mailbox is taken to be the n-th the senders saw accepted.
// TODO: with several senders per recipient two deliveries can swap places;
// fetching each new message's Message-ID would match exactly, at the price
// of a command per wake-up that would itself delay the next EXISTS.
func wakeReport(rep *Report, all []sent, ws []*idleWatcher) {
	accepted := make([][]time.Duration, len(ws))
	for _, s := range all {
		if s.intoInbox {
			accepted[s.rcpt] = append(accepted[s.rcpt], s.at)
			rep.Expected++
		}
	}
	var wakes []time.Duration
	var last time.Duration
	for i, w := range ws {
		arr := w.arrivals()
		acc := accepted[i]
		sort.Slice(acc, func(a, b int) bool { return acc[a] < acc[b] })
		n := min(len(arr), len(acc))
		rep.Delivered += n
		for k := 0; k < n; k++ {
			// An announcement can beat the 250 to the client: count it as 0.
			wakes = append(wakes, max(arr[k]-acc[k], 0))
			last = max(last, arr[k])
		}
	}
	rep.Wake = summarize(wakes)
	rep.DeliveredPerSec = perSec(rep.Delivered, last)
}

func perSec(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// WriteTable prints the report as a two-column table.
func (r *Report) WriteTable(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) {
		fmt.Fprintf(w, "%s\t"+format+"\n", append([]any{k}, a...)...)
	}
	row("senders", "%d", r.Senders)
	row("messages", "%d (mix %s; sizes %s; auth %v)", r.Messages, r.Mix, r.Sizes, r.Auth)
	row("accepted", "%d in %.2f s: %.0f msg/s", r.Accepted, r.Seconds, r.AcceptedPerSec)
	row("final 250 (ms)", "%s", r.Final250)
	if r.Requests+r.Settlements > 0 {
		row("requests reserved", "%d: %.0f/s", r.Requests, r.RequestsPerSec)
		row("settlements", "%d: %.0f/s", r.Settlements, r.SettlementsPerSec)
	}
	if r.Watched {
		row("delivered (IDLE)", "%d of %d: %.0f msg/s", r.Delivered, r.Expected, r.DeliveredPerSec)
		row("250 → IDLE (ms)", "%s", r.Wake)
	}
	codes := make([]string, 0, len(r.Errors))
	for c := range r.Errors {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		row("errors "+c, "%d", r.Errors[c])
	}
	if m := r.Memory; m != nil {
		row("server RSS (MiB)", "idle %.1f, peak %.1f, rise %.1f; VmHWM %.1f (%d procs max)",
			mib(m.IdleKiB), mib(m.PeakKiB), mib(m.RiseKiB), mib(m.HWMKiB), m.Procsmax)
	}
	return w.Flush()
}

func mib(k int64) float64 { return float64(k) / 1024 }

// String writes p50/p90/p99/max.
func (l Latency) String() string {
	if l.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %.2f  p90 %.2f  p99 %.2f  max %.2f", l.P50, l.P90, l.P99, l.Max)
}
