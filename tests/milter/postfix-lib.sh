# postfix-lib.sh - a private Postfix instance for tests and benchmarks
# (sourced by tests/milter/test_postfix.sh and bench/bench_milter.sh).
#
# pf_setup DIR MAIN_CF_MILTER: write DIR/conf/{main,master}.cf for an
#   instance whose queue and data live under DIR, with smtpd on
#   127.0.0.1:$pf_smtp_port relaying everything to smtp-sink on
#   127.0.0.1:$pf_sink_port, which writes each message to DIR/sink/.
#   MAIN_CF_MILTER: a file of main.cf lines for the milter
#   (contrib/postfix/main.cf.gptmilter, 8893 replaced by $pf_milter_port,
#   or another file). smtpd, cleanup and the other services Debian chroots
#   run chrooted in DIR/queue, as on Debian; no DNS, no TLS, log in
#   DIR/maillog. $pf_milter_port is a free port for gptmilter.
# pf_start / pf_stop: start (smtp-sink + postfix) / stop them; pf_stop is
#   safe to call twice and from a trap.
# Needs root (Postfix's master), $PYTHON3.

pf_free_port() {
	"$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pf_listening() {
	"$PYTHON3" -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null
}

# pf_wait SECONDS COMMAND...: retry COMMAND every 0.1 s
pf_wait() {
	_n=$(($1 * 10)); shift
	while [ $_n -gt 0 ]; do "$@" && return 0; sleep 0.1; _n=$((_n - 1)); done
	return 1
}

pf_setup() {
	pf_dir=$1
	mkdir -p "$pf_dir/conf" "$pf_dir/queue" "$pf_dir/data" "$pf_dir/sink" || return 1
	# Postfix refuses group- or world-writable queue parents
	chmod 755 "$pf_dir" "$pf_dir/conf"
	chown postfix "$pf_dir/data"
	chmod 1777 "$pf_dir/sink"	# smtp-sink runs as postfix
	pf_smtp_port=$(pf_free_port)
	pf_sink_port=$(pf_free_port)
	while [ "$pf_sink_port" = "$pf_smtp_port" ]; do pf_sink_port=$(pf_free_port); done
	pf_milter_port=$(pf_free_port)
	while [ "$pf_milter_port" = "$pf_smtp_port" ] || [ "$pf_milter_port" = "$pf_sink_port" ]; do
		pf_milter_port=$(pf_free_port)
	done
	cat > "$pf_dir/conf/main.cf" <<PFEOF
compatibility_level = 3.6
queue_directory = $pf_dir/queue
data_directory = $pf_dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = gptm-test.localdomain
mydomain = localdomain
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
relayhost = [127.0.0.1]:$pf_sink_port
smtpd_relay_restrictions = permit_mynetworks, reject
smtp_dns_support_level = disabled
smtp_tls_security_level = none
smtpd_tls_security_level = none
alias_maps =
alias_database =
local_recipient_maps =
syslog_name = gptm-test
maillog_file = $pf_dir/maillog
maillog_file_prefixes = $pf_dir
milter_connect_timeout = 5s
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
default_process_limit = 100
relay_destination_concurrency_limit = 20
message_size_limit = 0
PFEOF
	sed "s/8893/$pf_milter_port/g" "$2" >> "$pf_dir/conf/main.cf" || return 1
	cat > "$pf_dir/conf/master.cf" <<PFEOF
127.0.0.1:$pf_smtp_port inet n - y - - smtpd
pickup    unix  n - y 60   1 pickup
cleanup   unix  n - y -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - y -    - trivial-rewrite
bounce    unix  - - y -    0 bounce
defer     unix  - - y -    0 bounce
trace     unix  - - y -    0 bounce
verify    unix  - - y -    1 verify
flush     unix  n - y 1000? 0 flush
proxymap  unix  - - n -    - proxymap
smtp      unix  - - y -    - smtp
relay     unix  - - y -    - smtp
showq     unix  n - y -    - showq
error     unix  - - y -    - error
retry     unix  - - y -    - error
discard   unix  - - y -    - discard
local     unix  - n n -    - local
anvil     unix  - - y -    1 anvil
scache    unix  - - y -    1 scache
postlog   unix-dgram n - n - 1 postlogd
PFEOF
}

pf_start() {
	smtp-sink -u postfix -d "$pf_dir/sink/%M." 127.0.0.1:$pf_sink_port 256 \
		> "$pf_dir/sink.log" 2>&1 &
	pf_sink_pid=$!
	if ! postfix -c "$pf_dir/conf" check > "$pf_dir/postfix.log" 2>&1 ||
	   ! postfix -c "$pf_dir/conf" start >> "$pf_dir/postfix.log" 2>&1; then
		echo "postfix did not start:"; cat "$pf_dir/postfix.log"
		tail -5 "$pf_dir/maillog" 2>/dev/null
		return 1
	fi
	pf_started=1
	pf_wait 20 pf_listening $pf_smtp_port || { echo "smtpd not listening"; return 1; }
	pf_wait 10 pf_listening $pf_sink_port || { echo "smtp-sink not listening"; return 1; }
}

pf_stop() {
	if [ -n "${pf_started:-}" ]; then
		postfix -c "$pf_dir/conf" stop >/dev/null 2>&1
		pf_started=
		# postfix stop returns before master exits
		_m=$(cat "$pf_dir/queue/pid/master.pid" 2>/dev/null | tr -d ' ')
		[ -n "$_m" ] && pf_wait 5 sh -c "! kill -0 $_m 2>/dev/null"
	fi
	if [ -n "${pf_sink_pid:-}" ]; then
		kill "$pf_sink_pid" 2>/dev/null
		wait "$pf_sink_pid" 2>/dev/null
		pf_sink_pid=
	fi
}

pf_delivered() { ls "$pf_dir/sink" | wc -l; }
