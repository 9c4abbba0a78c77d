#!/usr/bin/env bash
# Runs the same load against agentmail and against Postfix + Dovecot on this
# machine and prints one table with each figure and the ratio agentmail/pair.
#
#   make bench-compare            # or: scripts/bench-compare.sh
#
# Needs root (to install the Debian packages and run Postfix and Dovecot as
# their own users). Everything listens on 127.0.0.1 only, on uncommon ports,
# with configuration, queues and mail in one temporary directory; every
# process started is stopped again by its PID. Tune with the environment:
#   MESSAGES (10000)   SENDERS (50)   IMAP_MESSAGES (10000)   BIG (25MiB)
#   ROUNDS (7): plain and paid runs of agentmail, alternating, for the ratio
#   IMAP_ROUNDS (5): IMAP workloads on agentmail and on Dovecot, alternating
#   PF_SMTP, DC_IMAP, DC_LMTP, AM_SMTP, AM_IMAP, AM_HTTP move a listener (host:port)
#   when its default port is taken;
#   KEEP=1 keeps the temporary directory; OUT=FILE also writes the table there;
#   AGENTMAIL_BIN=PATH uses that binary instead of building the checkout.
set -euo pipefail

MESSAGES=${MESSAGES:-10000}
ROUNDS=${ROUNDS:-7}
IMAP_ROUNDS=${IMAP_ROUNDS:-5}
SENDERS=${SENDERS:-50}
IMAP_MESSAGES=${IMAP_MESSAGES:-10000}
BIG=${BIG:-25MiB}
PF_SMTP=${PF_SMTP:-127.0.0.1:25260}   # Postfix smtpd
DC_IMAP=${DC_IMAP:-127.0.0.1:11440}   # Dovecot IMAP
DC_LMTP=${DC_LMTP:-127.0.0.1:24240}   # Dovecot LMTP, Postfix's local transport
AM_SMTP=${AM_SMTP:-127.0.0.1:25270}   # agentmail
AM_IMAP=${AM_IMAP:-127.0.0.1:11450}
AM_HTTP=${AM_HTTP:-127.0.0.1:18080}
PAIR_PASSWORD=bench-password
REPO=$(cd "$(dirname "$0")/.." && pwd)

log() { printf '== %s\n' "$*" >&2; }

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "bench-compare: run as root (it installs packages and runs Postfix and Dovecot)" >&2
		exit 1
	fi
}

# install_pair installs the Debian packages if missing. Daemons must not start
# on their default ports: a policy-rc.d that refuses every start is put in
# place for the install when none exists, and removed again.
install_pair() {
	if command -v postfix >/dev/null && command -v dovecot >/dev/null &&
		[ -e /usr/lib/dovecot/lmtp ] && [ -e /usr/lib/dovecot/imap ]; then
		return
	fi
	log "installing postfix, dovecot-imapd, dovecot-lmtpd"
	local policy=/usr/sbin/policy-rc.d made_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
	fi
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix dovecot-imapd dovecot-lmtpd \
		>/dev/null
	if [ -n "$made_policy" ]; then rm -f "$policy"; fi
}

check_ports_free() {
	local addr
	for addr in $PF_SMTP $DC_IMAP $DC_LMTP $AM_SMTP $AM_IMAP $AM_HTTP; do
		if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then
			echo "bench-compare: $addr is already in use" >&2
			exit 1
		fi
	done
}

# wait_port waits until something accepts connections on host:port.
wait_port() {
	local i
	for i in $(seq 100); do
		if (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "bench-compare: nothing listens on $1" >&2
	return 1
}

PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	done
	if [ -z "${KEEP:-}" ]; then rm -rf "$W"; else log "kept $W"; fi
}

write_dovecot_conf() {
	mkdir -p "$W/dovecot/run" "$W/dovecot/state" "$W/mail"
	chown nobody:nogroup "$W/mail"
	cat >"$W/dovecot/dovecot.conf" <<CONF
# Dovecot for the comparison: IMAP and LMTP on loopback, Maildir, one
# static password, every user mapped to the nobody account.
instance_name = agentmail-bench
base_dir = $W/dovecot/run
state_dir = $W/dovecot/state
log_path = $W/dovecot/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
mail_location = maildir:~/Maildir
first_valid_uid = 1
passdb {
  driver = static
  args = password=$PAIR_PASSWORD
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$W/mail/%u
}
service imap-login {
  inet_listener imap {
    address = ${DC_IMAP%:*}
    port = ${DC_IMAP#*:}
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = ${DC_LMTP%:*}
    port = ${DC_LMTP#*:}
  }
}
CONF
}

write_postfix_conf() {
	local d=$W/postfix
	mkdir -p "$d/queue" "$d/data"
	chown postfix "$d/data"
	cat >"$d/main.cf" <<CONF
# Postfix for the comparison: accepts mail for bench.test from loopback
# without authentication and hands it to Dovecot over LMTP.
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
maillog_file = $d/maillog
maillog_file_prefixes = $W
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = ${PF_SMTP%:*}
inet_protocols = ipv4
myhostname = bench.test
mydomain = bench.test
mydestination = bench.test
mynetworks = 127.0.0.0/8
local_recipient_maps =
local_transport = lmtp:inet:$DC_LMTP
alias_maps =
alias_database =
smtpd_relay_restrictions = permit_mynetworks, reject
message_size_limit = 41943040
smtputf8_enable = no
biff = no
CONF
	cat >"$d/master.cf" <<CONF
# service type private unpriv chroot wakeup maxproc command
$PF_SMTP inet n - n - - smtpd
pickup    unix n - n 60   1 pickup
cleanup   unix n - n -    0 cleanup
qmgr      unix n - n 300  1 qmgr
rewrite   unix - - n -    - trivial-rewrite
bounce    unix - - n -    0 bounce
defer     unix - - n -    0 bounce
trace     unix - - n -    0 bounce
verify    unix - - n -    1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n -    - proxymap
smtp      unix - - n -    - smtp
relay     unix - - n -    - smtp
showq     unix n - n -    - showq
error     unix - - n -    - error
retry     unix - - n -    - error
discard   unix - - n -    - discard
local     unix - n n -    - local
lmtp      unix - - n -    - lmtp
anvil     unix - - n -    1 anvil
scache    unix - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
CONF
}

start_pair() {
	write_dovecot_conf
	write_postfix_conf
	dovecot -F -c "$W/dovecot/dovecot.conf" >"$W/dovecot/stdout.log" 2>&1 &
	DC_PID=$!
	PIDS+=("$DC_PID")
	# Postfix reports its own errors only to a terminal or to maillog_file.
	if ! postfix -c "$W/postfix" start >"$W/postfix/start.log" 2>&1; then
		echo "bench-compare: postfix did not start; see $W/postfix/maillog" >&2
		KEEP=1
		exit 1
	fi
	for _ in $(seq 50); do [ -s "$W/postfix/queue/pid/master.pid" ] && break; sleep 0.1; done
	PF_PID=$(tr -d ' \n' <"$W/postfix/queue/pid/master.pid")
	PIDS+=("$PF_PID")
	wait_port "$PF_SMTP"
	wait_port "$DC_IMAP"
	wait_port "$DC_LMTP"
}

# agentmail runs on its embedded defaults except the per-agent sending rate,
# which is off as Postfix's (smtpd_client_message_rate_limit = 0): each load
# sender sends far more than 60 messages at once.
start_agentmail() {
	mkdir -p "$W/agentmail"
	printf '[smtp]\nsend_rate_per_minute = 0\n' >"$W/agentmail.toml"
	"$AM" serve --config "$W/agentmail.toml" --data "$W/agentmail" --smtp "$AM_SMTP" \
		--imap "$AM_IMAP" --http "$AM_HTTP" >"$W/agentmail.log" 2>&1 &
	AM_PID=$!
	PIDS+=("$AM_PID")
	wait_port "$AM_SMTP"
	wait_port "$AM_IMAP"
}

# am_load and pair_load run 'agentmail load' against one side with the
# given extra flags and write its JSON report to the named file.
am_load() {
	local out=$1
	shift
	"$AM" load --data "$W/agentmail" --smtp "$AM_SMTP" --imap "$AM_IMAP" --pid "$AM_PID" \
		--no-progress --json "$@" >"$W/results/$out.json"
}

pair_load() {
	local out=$1
	shift
	"$AM" load --no-auth --smtp "$PF_SMTP" --imap "$DC_IMAP" --pid "$PF_PID,$DC_PID" \
		--from 'sender%d@client.test' --to 'user%d@bench.test' --password "$PAIR_PASSWORD" \
		--no-progress --json "$@" >"$W/results/$out.json"
}

describe_machine() {
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 |
		sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -sr)"
	echo "- load average before the run: $LOADAVG"
	echo "- agentmail ${AGENTMAIL_BIN:-$(cd "$REPO" && git rev-parse --short HEAD)}, $(go version |
		cut -d' ' -f3); $(postconf -c "$W/postfix" -h mail_version | sed 's/^/postfix /');" \
		"dovecot $(dovecot --version | cut -d' ' -f1)"
	echo "- workload: $SENDERS senders, $MESSAGES messages per SMTP run," \
		"$IMAP_MESSAGES-message mailbox for IMAP, big message $BIG"
	echo
}

main() {
	LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
	need_root
	install_pair
	check_ports_free
	W=$(mktemp -d /tmp/agentmail-bench.XXXXXX)
	chmod 755 "$W"
	trap cleanup EXIT
	mkdir -p "$W/results"
	AM=${AGENTMAIL_BIN:-$W/agentmail-bin}
	if [ -z "${AGENTMAIL_BIN:-}" ]; then
		log "building agentmail"
		(cd "$REPO" && go build -o "$AM" ./cmd/agentmail)
	fi
	start_pair
	start_agentmail
	sleep 1 # let both settle to their idle memory

	log "plain ${SENDERS}x2KiB, $MESSAGES messages: agentmail"
	am_load am_plain --senders "$SENDERS" --messages "$MESSAGES" --sizes 2KiB --idle
	log "plain ${SENDERS}x2KiB, $MESSAGES messages: postfix+dovecot"
	pair_load pair_plain --senders "$SENDERS" --messages "$MESSAGES" --sizes 2KiB --idle

	# The paid rate is compared with agentmail's own plain rate measured
	# right before it, in alternating rounds: the disk of a shared machine
	# changes speed over seconds, and one pair of runs can be off by half.
	for r in $(seq 1 "$ROUNDS"); do
		log "plain then paid requests, round $r of $ROUNDS: agentmail"
		am_load "am_plain_round$r" --senders "$SENDERS" --messages "$MESSAGES" --sizes 2KiB --idle
		am_load "am_request_round$r" --senders "$SENDERS" --messages "$MESSAGES" --sizes 2KiB \
			--idle --mix request
	done
	cp "$W/results/am_request_round1.json" "$W/results/am_request.json"
	log "paid round trips (request + response): agentmail"
	am_load am_roundtrip --senders "$SENDERS" --messages "$MESSAGES" --sizes 2KiB \
		--mix request=1,response=1

	log "one $BIG message"
	am_load am_big --senders 1 --messages 1 --sizes "$BIG"
	pair_load pair_big --senders 1 --messages 1 --sizes "$BIG"

	log "filling a $IMAP_MESSAGES-message mailbox on each side"
	"$AM" agent add imapbench0 --data "$W/agentmail" --password-stdin \
		<<<"$PAIR_PASSWORD" >/dev/null
	for i in $(seq 0 $(( (SENDERS < 10 ? SENDERS : 10) - 1 ))); do
		echo "load-buyer$i@localhost load-test-password imapbench0@localhost $PAIR_PASSWORD"
	done >"$W/imap-credentials"
	am_load am_fill --credentials "$W/imap-credentials" --messages "$IMAP_MESSAGES" \
		--sizes 2KiB --idle
	pair_load pair_fill --senders "$(wc -l <"$W/imap-credentials")" --recipients 1 \
		--to 'imapbench%d@bench.test' \
		--messages "$IMAP_MESSAGES" --sizes 2KiB --idle
	# The IMAP workload alternates between the two servers for the same
	# reason as the paid rounds: the machine's speed drifts between runs.
	for r in $(seq 1 "$IMAP_ROUNDS"); do
		log "IMAP workload, round $r of $IMAP_ROUNDS"
		"$AM" load imap --imap "$AM_IMAP" --user imapbench0 --password "$PAIR_PASSWORD" \
			--json >"$W/results/am_imap_round$r.json"
		"$AM" load imap --imap "$DC_IMAP" --user imapbench0 --password "$PAIR_PASSWORD" \
			--json >"$W/results/pair_imap_round$r.json"
	done

	{
		describe_machine
		python3 "$REPO/scripts/bench-table.py" "$W/results"
	} | tee "${OUT:-/dev/null}"
}

main "$@"
