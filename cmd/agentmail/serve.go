package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"agentmail/internal/config"
	"agentmail/internal/server"
)

func newServeCmd(g *globalFlags) *cobra.Command {
	var smtpAddr, imapAddr, httpAddr, smtpsAddr, imapsAddr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server: SMTP, IMAP, the HTTP side-server and the admin socket",
		Long: `Run agentmail over the data directory until SIGINT or SIGTERM, then stop
cleanly: listeners close, sessions end, queued writes are committed.

Agents submit over SMTP (AUTH is allowed without TLS from loopback only),
read over IMAP, and query pricing and billing over HTTP. SMTP and IMAP
offer STARTTLS, and implicit TLS on --smtp-tls and --imap-tls when set.
Without tls.cert_file and tls.key_file a self-signed certificate is
generated into the data directory; SIGHUP reads the certificate again. The admin socket
admin.sock in the data directory serves the agent, wallet and pricing
commands while the server runs. An address with port 0 gets a free port;
the log line "agentmail serving" names the ports chosen.`,
		Example: `  agentmail serve
  agentmail serve --config /etc/agentmail.toml
  agentmail serve --data /var/lib/agentmail --domain agents.example.com \
      --smtp 0.0.0.0:587 --smtp-tls 0.0.0.0:465 --imap 0.0.0.0:143 \
      --imap-tls 0.0.0.0:993 --http 127.0.0.1:8080`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			fs := cmd.Flags()
			if fs.Changed("smtp") {
				cfg.SMTP.Listen = smtpAddr
			}
			if fs.Changed("imap") {
				cfg.IMAP.Listen = imapAddr
			}
			if fs.Changed("http") {
				cfg.HTTP.Listen = httpAddr
			}
			if fs.Changed("smtp-tls") {
				cfg.SMTP.ListenTLS = smtpsAddr
			}
			if fs.Changed("imap-tls") {
				cfg.IMAP.ListenTLS = imapsAddr
			}
			log, err := newLogger(cmd.ErrOrStderr(), cfg.Log)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, log)
		},
	}
	def := config.Default()
	cmd.Flags().StringVar(&smtpAddr, "smtp", def.SMTP.Listen, "SMTP submission listen address")
	cmd.Flags().StringVar(&imapAddr, "imap", def.IMAP.Listen, "IMAP listen address")
	cmd.Flags().StringVar(&httpAddr, "http", def.HTTP.Listen, "HTTP side-server listen address")
	cmd.Flags().StringVar(&smtpsAddr, "smtp-tls", def.SMTP.ListenTLS,
		"SMTP implicit-TLS listen address (\"\" is off)")
	cmd.Flags().StringVar(&imapsAddr, "imap-tls", def.IMAP.ListenTLS,
		"IMAP implicit-TLS listen address (\"\" is off)")
	return cmd
}

// serve runs the server until ctx ends or a stop signal arrives.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	srv, err := server.Start(cfg, log, server.Options{})
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-hup:
			if err := srv.Reload(); err != nil {
				log.Error("SIGHUP: TLS certificate not reloaded; the old one stays", "err", err)
			}
		}
	}
	log.Info("agentmail stopping")
	if err := srv.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	log.Info("agentmail stopped")
	return nil
}

// newLogger builds the logger the configuration asks for.
func newLogger(w io.Writer, c config.Log) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level %q: want debug, info, warn or error", c.Level)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
