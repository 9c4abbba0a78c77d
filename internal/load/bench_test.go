package load

import (
	"io"
	"log/slog"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"agentmail/internal/config"
	"agentmail/internal/server"
)

// BenchmarkSMTP runs the load tool against an in-process server (fsync on),
// 50 senders of 2 KiB messages, plain mail and paid requests: the whole
// submission path from the SMTP edge to the durable commit, client included.
// Profile it with -cpuprofile to see where a submission's time goes.
func BenchmarkSMTP(b *testing.B) {
	for _, kind := range []string{KindPlain, KindRequest} {
		b.Run(kind, func(b *testing.B) { benchSMTP(b, kind, 50) })
	}
}

func benchSMTP(b *testing.B, kind string, senders int) {
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.SMTP.Listen, cfg.IMAP.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	srv, err := server.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	srv.Stores.Mail.SetPasswordCost(bcrypt.MinCost)
	workers, err := Provision(srv.Stores.Admin(cfg.Domain), ProvisionConfig{Senders: senders,
		Password: "load-test-password", Credit: "1000000", Price: "0.01"})
	if err != nil {
		b.Fatal(err)
	}
	smtpAddr, _, _ := srv.Addrs()
	mix, _ := ParseMix(kind)
	sizes, _ := ParseSizes("2KiB")
	b.ResetTimer()
	rep, err := Run(Config{SMTPAddr: smtpAddr, Workers: workers, Messages: max(b.N, senders),
		Mix: mix, Sizes: sizes})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if len(rep.Errors) > 0 {
		b.Fatalf("errors by code: %v", rep.Errors)
	}
	b.ReportMetric(rep.AcceptedPerSec, "msgs/s")
	b.ReportMetric(rep.Final250.P99, "p99-ms")
}
