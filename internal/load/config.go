package load

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kinds of message a worker sends.
const (
	KindPlain    = "plain"
	KindRequest  = "request"
	KindResponse = "response"
)

// Limits on what one run may ask for, so a typo cannot exhaust the client.
const (
	sendersMax     = 1000
	messageSizeMax = 64 << 20
)

// Config describes one SMTP load run.
type Config struct {
	SMTPAddr string // host:port of the submission server
	IMAPAddr string // host:port for IDLE sessions; "" disables them
	Workers  []Worker
	Messages int           // total messages, spread over the workers
	Mix      Mix           // which kinds of message, by weight
	Sizes    Sizes         // message sizes, by weight
	NoAuth   bool          // submit without AUTH (other servers' plain mail)
	Deliver  time.Duration // how long to wait for IDLE to see every delivery
	PIDs     []int         // server processes whose memory is sampled
	Progress func(done, total int, elapsed time.Duration)
}

// Weighted is one choice of a weighted mix.
type Weighted[T any] struct {
	Value  T
	Weight int
}

// Mix is a weighted choice of message kinds.
type Mix []Weighted[string]

// Sizes is a weighted choice of message sizes in bytes.
type Sizes []Weighted[int]

// ParseMix reads "plain=70,request=20,response=10"; a bare kind weighs 1.
func ParseMix(s string) (Mix, error) {
	var mix Mix
	err := parseWeighted(s, func(key string, w int) error {
		switch key {
		case KindPlain, KindRequest, KindResponse:
			mix = append(mix, Weighted[string]{key, w})
			return nil
		}
		return fmt.Errorf("unknown message kind %q: want plain, request or response", key)
	})
	return mix, err
}

// ParseSizes reads "2KiB=90,64KiB=9,1MiB=1"; a bare size weighs 1.
func ParseSizes(s string) (Sizes, error) {
	var sizes Sizes
	err := parseWeighted(s, func(key string, w int) error {
		n, err := ParseSize(key)
		if err != nil {
			return err
		}
		sizes = append(sizes, Weighted[int]{n, w})
		return nil
	})
	return sizes, err
}

func parseWeighted(s string, add func(key string, weight int) error) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("empty list")
	}
	for _, item := range strings.Split(s, ",") {
		key, ws, hasWeight := strings.Cut(strings.TrimSpace(item), "=")
		w := 1
		if hasWeight {
			var err error
			if w, err = strconv.Atoi(ws); err != nil || w < 0 || w > 1_000_000 {
				return fmt.Errorf("weight %q of %q: want an integer 0..1000000", ws, key)
			}
		}
		if err := add(key, w); err != nil {
			return err
		}
	}
	return nil
}

// ParseSize reads a byte count with an optional B, KiB, MiB or KB, MB suffix.
func ParseSize(s string) (int, error) {
	units := map[string]int{"": 1, "B": 1, "K": 1 << 10, "KIB": 1 << 10, "KB": 1000,
		"M": 1 << 20, "MIB": 1 << 20, "MB": 1_000_000}
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		i = len(s)
	}
	n, err := strconv.Atoi(s[:i])
	mult, ok := units[strings.ToUpper(s[i:])]
	if err != nil || !ok || n < 0 || n*mult > messageSizeMax {
		return 0, fmt.Errorf("size %q: want a number with B, KiB or MiB, at most %d MiB",
			s, messageSizeMax>>20)
	}
	return n * mult, nil
}

// pick returns the choice for the i-th message: a fixed interleaving, so runs
// are reproducible. Multiplying by a prime permutes each cycle of the total
// weight (unless the total is a multiple of that prime), so every cycle
// follows the weights exactly while kinds stay spread out.
func pick[T any](choices []Weighted[T], i int) T {
	total := 0
	for _, c := range choices {
		total += c.Weight
	}
	slot := (i * 7919) % total
	for _, c := range choices {
		if slot < c.Weight {
			return c.Value
		}
		slot -= c.Weight
	}
	return choices[len(choices)-1].Value
}

func (c *Config) validate() error {
	switch {
	case c.SMTPAddr == "":
		return fmt.Errorf("no SMTP address")
	case len(c.Workers) == 0 || len(c.Workers) > sendersMax:
		return fmt.Errorf("senders: want 1..%d, got %d", sendersMax, len(c.Workers))
	case c.Messages < 1:
		return fmt.Errorf("messages: want at least 1, got %d", c.Messages)
	case totalWeight(c.Mix) == 0 || totalWeight(c.Sizes) == 0:
		return fmt.Errorf("the mix and the sizes need a positive weight")
	}
	for _, m := range c.Mix {
		if c.NoAuth && m.Value != KindPlain && m.Weight > 0 {
			return fmt.Errorf("without AUTH only plain mail can be sent, not %s", m.Value)
		}
	}
	return nil
}

func totalWeight[T any](ws []Weighted[T]) int {
	n := 0
	for _, w := range ws {
		n += w.Weight
	}
	return n
}

// String writes the mix back in the form ParseMix reads.
func (m Mix) String() string {
	parts := make([]string, len(m))
	for i, w := range m {
		parts[i] = fmt.Sprintf("%s=%d", w.Value, w.Weight)
	}
	return strings.Join(parts, ",")
}

// String writes the sizes back in bytes, largest weight first.
func (s Sizes) String() string {
	c := append(Sizes(nil), s...)
	sort.SliceStable(c, func(i, j int) bool { return c[i].Weight > c[j].Weight })
	parts := make([]string, len(c))
	for i, w := range c {
		parts[i] = fmt.Sprintf("%dB=%d", w.Value, w.Weight)
	}
	return strings.Join(parts, ",")
}
