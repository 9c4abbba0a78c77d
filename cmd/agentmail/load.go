package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"agentmail/internal/admin"
	"agentmail/internal/load"
)

// loadFlags are the settings of 'agentmail load'.
type loadFlags struct {
	smtp, imap         string
	idle, noAuth       bool
	senders, rcpts     int
	messages           int
	mix, sizes         string
	password           string
	credit, price      string
	credentials        string
	fromPat, toPat     string
	pids               []int
	deliver            time.Duration
	asJSON, noProgress bool
}

func newLoadCmd(g *globalFlags) *cobra.Command {
	var f loadFlags
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Measure a running mail server: concurrent SMTP submission, IDLE wake-up, memory",
		Long: `Open --senders SMTP sessions at once and submit --messages messages over
them, then report accepted messages per second, the latency of the final 250
after DATA (p50, p90, p99, max), requests and settlements per second and
errors by reply code.

Against agentmail (the default), each sender authenticates as its own buyer
load-buyerN and writes to seller load-sellerN; both are created through the
admin socket of the server running on --data, buyers are credited and
sellers publish per_request pricing. --mix chooses plain mail, paid requests
(reserve) and responses (settle, sent by the seller of an open request).

With --idle, one IMAP session per recipient waits in IDLE on its INBOX: the
report adds messages delivered per second (visible over IMAP) and the time
from each 250 to the EXISTS that announces it. With --pid, the server's
memory (VmRSS of the process and its children, sampled every 20 ms, and
VmHWM) is reported.

To drive another server, --no-auth sends plain mail without AUTH from --from
to --to (printf patterns with one %d), and --idle logs in as each recipient's
local part with --password. --credentials FILE instead lists one worker per
line: sender, password, recipient, password.`,
		Example: `  agentmail load --data ./data --senders 50 --messages 20000 --idle
  agentmail load --mix plain=50,request=25,response=25 --sizes 2KiB=9,64KiB=1
  agentmail load --sizes 25MiB --messages 1 --senders 1 --pid $(pidof agentmail)
  agentmail load --no-auth --smtp 127.0.0.1:2526 --imap 127.0.0.1:1144 --idle \
      --from 'sender%d@bench.test' --to 'user%d@bench.test' --password bench`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return runLoad(cmd, g, f) },
	}
	fs := cmd.Flags()
	fs.StringVar(&f.smtp, "smtp", "127.0.0.1:2525", "SMTP address of the server")
	fs.StringVar(&f.imap, "imap", "127.0.0.1:1143", "IMAP address, for --idle")
	fs.BoolVar(&f.idle, "idle", false, "hold IMAP IDLE sessions on the recipients")
	fs.BoolVar(&f.noAuth, "no-auth", false, "submit plain mail without AUTH (other servers)")
	fs.IntVar(&f.senders, "senders", 50, "concurrent SMTP sessions, each its own sender")
	fs.IntVar(&f.rcpts, "recipients", 0, "distinct recipients, shared round robin (0: one per sender)")
	fs.IntVar(&f.messages, "messages", 10000, "messages in all")
	fs.StringVar(&f.mix, "mix", "plain", "kinds by weight: plain=N,request=N,response=N")
	fs.StringVar(&f.sizes, "sizes", "2KiB", "message sizes by weight, e.g. 2KiB=90,1MiB=1")
	fs.StringVar(&f.password, "password", "load-test-password", "password of every agent")
	fs.StringVar(&f.credit, "credit", "1000000", "amount credited to each buyer")
	fs.StringVar(&f.price, "price", "0.01", "per_request base price of each seller")
	fs.StringVar(&f.credentials, "credentials", "", "file of 'sender pass recipient pass' lines")
	fs.StringVar(&f.fromPat, "from", "", "sender pattern with %d (no agents are created)")
	fs.StringVar(&f.toPat, "to", "", "recipient pattern with %d (no agents are created)")
	fs.IntSliceVar(&f.pids, "pid", nil, "server PIDs whose memory to sample")
	fs.DurationVar(&f.deliver, "deliver-timeout", time.Minute,
		"with --idle, how long to wait without news for the last deliveries")
	fs.BoolVar(&f.noProgress, "no-progress", false, "no progress bar even on a terminal")
	addJSONFlag(cmd, &f.asJSON)
	cmd.AddCommand(newLoadIMAPCmd())
	return cmd
}

func runLoad(cmd *cobra.Command, g *globalFlags, f loadFlags) error {
	mix, err := load.ParseMix(f.mix)
	if err != nil {
		return usageError{fmt.Errorf("--mix: %w", err)}
	}
	sizes, err := load.ParseSizes(f.sizes)
	if err != nil {
		return usageError{fmt.Errorf("--sizes: %w", err)}
	}
	workers, err := loadWorkers(cmd, g, f)
	if err != nil {
		return err
	}
	cfg := load.Config{SMTPAddr: f.smtp, Workers: workers, Messages: f.messages, Mix: mix,
		Sizes: sizes, NoAuth: f.noAuth, Deliver: f.deliver, PIDs: f.pids}
	if f.idle {
		cfg.IMAPAddr = f.imap
	}
	if !f.noProgress && isTerminal(cmd.ErrOrStderr()) {
		cfg.Progress = load.ProgressBar(cmd.ErrOrStderr())
	}
	rep, err := load.Run(cfg)
	if err != nil {
		return err
	}
	if f.asJSON {
		return printJSON(cmd.OutOrStdout(), rep)
	}
	return rep.WriteTable(cmd.OutOrStdout())
}

// loadWorkers returns the senders and recipients: from a credentials file,
// from patterns, or created in agentmail through the admin API.
func loadWorkers(cmd *cobra.Command, g *globalFlags, f loadFlags) ([]load.Worker, error) {
	switch {
	case f.credentials != "":
		file, err := os.Open(f.credentials)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		return load.ReadCredentials(file)
	case f.fromPat != "" || f.toPat != "":
		if f.fromPat == "" || f.toPat == "" {
			return nil, usageError{fmt.Errorf("--from and --to go together")}
		}
		return load.PatternWorkers(f.senders, f.rcpts, f.fromPat, f.toPat, f.password), nil
	}
	var workers []load.Worker
	err := withAdmin(cmd, g, func(api admin.API) error {
		var err error
		workers, err = load.Provision(api, load.ProvisionConfig{Senders: f.senders,
			Recipients: f.rcpts, Password: f.password, Credit: f.credit, Price: f.price})
		return err
	})
	return workers, err
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w any) bool {
	file, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newLoadIMAPCmd() *cobra.Command {
	cfg := load.IMAPConfig{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "imap",
		Short: "Time SELECT, FETCH and SEARCH on one large mailbox",
		Long: `Log in once and run, --repeat times: SELECT, FETCH 1:* FLAGS, FETCH 1:*
ENVELOPE, FETCH 1:* BODY.PEEK[], SEARCH SUBJECT --needle and SEARCH BODY of a
word no message holds (so every body is read). Prints the first (cold),
median and fastest time of each. Works against any IMAP server; fill the
mailbox first, for example with 'agentmail load --recipients 1'.`,
		Example: `  agentmail load imap --user load-seller0 --password load-test-password
  agentmail load imap --imap 127.0.0.1:1144 --user user0 --password bench --json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := load.RunIMAP(cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), rep)
			}
			return rep.WriteTable(cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.Addr, "imap", "127.0.0.1:1143", "IMAP address of the server")
	fs.StringVar(&cfg.User, "user", "load-seller0", "login name")
	fs.StringVar(&cfg.Password, "password", "load-test-password", "password")
	fs.StringVar(&cfg.Mailbox, "mailbox", "INBOX", "mailbox to work on")
	fs.IntVar(&cfg.Repeat, "repeat", 5, "runs of the whole sequence")
	fs.StringVar(&cfg.Needle, "needle", "-4242", "text searched for in Subject")
	addJSONFlag(cmd, &asJSON)
	return cmd
}
