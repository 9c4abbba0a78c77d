package load

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"agentmail/internal/config"
	"agentmail/internal/server"
)

func TestParseSizesAndMix(t *testing.T) {
	tests := []struct {
		in   string
		want int
		bad  bool
	}{
		{"2KiB", 2048, false},
		{"25MiB", 25 << 20, false},
		{"1000", 1000, false},
		{"3KB", 3000, false},
		{"65MiB", 0, true},
		{"2GiB", 0, true},
		{"x", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.bad)
		}
	}
	if _, err := ParseMix("plain=2,bogus"); err == nil {
		t.Error("ParseMix accepted an unknown kind")
	}
	mix, err := ParseMix("plain=2,request=1,response=1")
	if err != nil || mix.String() != "plain=2,request=1,response=1" {
		t.Fatalf("ParseMix = %v, %v", mix, err)
	}
}

// TestPickFollowsWeights checks that every cycle of the total weight holds
// each choice exactly as often as its weight.
func TestPickFollowsWeights(t *testing.T) {
	mix, _ := ParseMix("plain=5,request=3,response=2")
	counts := map[string]int{}
	for i := 0; i < 100; i++ {
		counts[pick(mix, i)]++
	}
	if counts[KindPlain] != 50 || counts[KindRequest] != 30 || counts[KindResponse] != 20 {
		t.Errorf("counts over 100 picks = %v", counts)
	}
}

func TestComposeSizeAndLines(t *testing.T) {
	filler := newFiller(64 << 10)
	for _, size := range []int{0, 300, 2048, 64 << 10} {
		m := compose(filler, KindRequest, "a@x", "b@x", "id-1", size, time.Now())
		n := len(m.header) + len(m.body)
		if size > len(m.header) && (n > size || n <= size-lineLen) {
			t.Errorf("size %d: composed %d bytes", size, n)
		}
		raw := string(m.header) + string(m.body)
		if strings.Contains(raw, "\r\n.") || !strings.HasSuffix(raw, "\r\n") {
			t.Errorf("size %d: message would need dot-stuffing or ends mid-line", size)
		}
		if !strings.Contains(string(m.header), "X-AgentMail-Marketplace-Request-Id: id-1\r\n") {
			t.Errorf("size %d: no request id in %q", size, m.header)
		}
	}
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := summarize(ds)
	if l.P50 != 50 || l.P90 != 90 || l.P99 != 99 || l.Max != 100 || l.Count != 100 {
		t.Errorf("summarize = %+v", l)
	}
	if summarize(nil).Count != 0 {
		t.Error("summarize(nil) counted something")
	}
}

func TestNoAuthOnlyPlain(t *testing.T) {
	mix, _ := ParseMix("plain,request")
	sizes, _ := ParseSizes("1KiB")
	cfg := Config{SMTPAddr: "127.0.0.1:1", Workers: PatternWorkers(1, 1, "s%d@x", "r%d@x", "p"),
		Messages: 1, Mix: mix, Sizes: sizes, NoAuth: true}
	if _, err := Run(cfg); err == nil || !strings.Contains(err.Error(), "only plain") {
		t.Errorf("Run with --no-auth and requests: %v", err)
	}
}

// TestRunAgainstServer is a tiny real run: three buyers, plain mail, paid
// requests and responses, IDLE on the sellers, memory of this process, then
// the IMAP workload on a seller's INBOX.
func TestRunAgainstServer(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.SMTP.Listen, cfg.IMAP.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	srv, err := server.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.Stores.Mail.SetPasswordCost(bcrypt.MinCost)
	workers, err := Provision(srv.Stores.Admin(cfg.Domain), ProvisionConfig{Senders: 3,
		Password: "load-test-password", Credit: "100", Price: "0.01"})
	if err != nil {
		t.Fatal(err)
	}
	smtpAddr, imapAddr, _ := srv.Addrs()
	mix, _ := ParseMix("plain=2,request=1,response=1")
	sizes, _ := ParseSizes("1KiB=3,8KiB=1")
	var progress bytes.Buffer
	rep, err := Run(Config{SMTPAddr: smtpAddr, IMAPAddr: imapAddr, Workers: workers,
		Messages: 24, Mix: mix, Sizes: sizes, Deliver: 10 * time.Second,
		PIDs: []int{os.Getpid()}, Progress: ProgressBar(&progress)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 24 || len(rep.Errors) != 0 {
		t.Errorf("accepted %d, errors %v", rep.Accepted, rep.Errors)
	}
	if rep.Settlements == 0 || rep.Requests < rep.Settlements {
		t.Errorf("requests %d, settlements %d", rep.Requests, rep.Settlements)
	}
	if rep.Expected != 24-rep.Settlements || rep.Delivered != rep.Expected {
		t.Errorf("delivered %d of %d", rep.Delivered, rep.Expected)
	}
	if rep.Final250.Count != 24 || rep.Memory == nil || rep.Memory.PeakKiB == 0 {
		t.Errorf("final 250 %+v, memory %+v", rep.Final250, rep.Memory)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "250 → IDLE") {
		t.Errorf("table: %v\n%s", err, table.String())
	}
	if !strings.Contains(progress.String(), "24/24") {
		t.Errorf("progress output %q", progress.String())
	}

	irep, err := RunIMAP(IMAPConfig{Addr: imapAddr, User: "load-seller0",
		Password: "load-test-password", Mailbox: "INBOX", Repeat: 2, Needle: "load"})
	if err != nil {
		t.Fatal(err)
	}
	if irep.Messages == 0 || len(irep.Ops) != 6 {
		t.Fatalf("IMAP report %+v", irep)
	}
	for _, op := range irep.Ops[:4] {
		if op.Items != int(irep.Messages) {
			t.Errorf("%s: %d items, want %d", op.Name, op.Items, irep.Messages)
		}
	}
	if irep.Ops[4].Items != int(irep.Messages) || irep.Ops[5].Items != 0 {
		t.Errorf("searches found %d and %d", irep.Ops[4].Items, irep.Ops[5].Items)
	}
}
