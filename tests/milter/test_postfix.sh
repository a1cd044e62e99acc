#!/bin/sh
# test_postfix.sh - gptmilter behind a real Postfix, end to end.
#
# A private Postfix instance (postfix-lib.sh: its own config, queue and data
# directories under a scratch directory) listens on 127.0.0.1:<free port>
# and relays everything to smtp-sink, which writes each message it
# receives to a file. swaks sends. It follows contrib/postfix/README as
# written, on Debian's chrooted smtpd and cleanup: gptmilter on its
# default socket inet:8893@127.0.0.1 and main.cf.gptmilter appended to
# main.cf, the port 8893 replaced by a free one in both.
# Checked: ham arrives with the score and status headers (and without a
# forged X-Spam-Flag), logged with its queue id; after a SIGHUP with
# reject_threshold = 0, mail is refused at SMTP with 550 5.7.1 and the
# configured text; with gptmilter stopped, milter_default_action (tempfail)
# applies and nothing arrives; then the README's unix-socket variant (the
# socket in a directory of its own inside the chroot, -u) delivers too.
# Postfix's master must run as root: this test fails (it does not skip)
# when not run as root. Everything started is stopped on exit.
set -u
: "${top_srcdir:?}" "${top_builddir:?}" "${PYTHON3:?}"
GPTMILTER="${GPTMILTER:-$top_builddir/src/milter/gptmilter}"
PATH=$PATH:/usr/sbin:/sbin

if [ "$(id -u)" -ne 0 ]; then
	echo "FAIL: test_postfix.sh must run as root (Postfix's master needs it)"
	exit 1
fi
for p in postfix smtp-sink swaks; do
	command -v $p >/dev/null || { echo "FAIL: $p not installed"; exit 1; }
done
[ -x "$GPTMILTER" ] || { echo "FAIL: $GPTMILTER not built"; exit 1; }
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/milter/postfix-lib.sh"

tmp="$top_builddir/tests/tmp/postfix.$$"
rm -rf "$tmp"
mkdir -p "$tmp" || exit 1
tmp=$(cd "$tmp" && pwd)
milter_pid=

cleanup() {
	pf_stop
	[ -n "$milter_pid" ] && kill "$milter_pid" 2>/dev/null && wait "$milter_pid"
	if [ $fails -eq 0 ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT
trap 'fails=$((fails + 1)); exit 1' INT TERM HUP

"$PYTHON3" "$top_srcdir/tests/gen_tiny_model.py" --out "$tmp/model" \
	--layers 2 --heads 2 --embd 32 --ctx 64 --labels ham,spam --seed 21 \
	--name e2e-tiny >/dev/null || { fail "gen_tiny_model.py"; exit 1; }
# the recipe's two ends meet: gptmilter's default socket is the one
# main.cf.gptmilter names (the test then moves both to a free port)
"$GPTMILTER" --dump-keys | grep -q '^socket	string	"inet:8893@127.0.0.1"' ||
	fail "the default socket is not inet:8893@127.0.0.1"
grep -qx 'smtpd_milters = inet:127.0.0.1:8893' "$top_srcdir/contrib/postfix/main.cf.gptmilter" ||
	fail "main.cf.gptmilter does not name inet:127.0.0.1:8893"
pf_setup "$tmp/pf" "$top_srcdir/contrib/postfix/main.cf.gptmilter" ||
	{ fail "pf_setup"; exit 1; }
write_conf() {	# $1: reject_threshold, $2: socket lines (default: TCP)
	_sock=${2:-"socket = \"inet:$pf_milter_port@127.0.0.1\";"}
	cat > "$tmp/gptmilter.conf" <<EOC
model = "$tmp/model";
$_sock
workers = 2;
policy: { spam_threshold = 1.005; reject_threshold = $1;
	  unsure_low = 0.0; unsure_high = 0.0;
	  reject_text = "Spam refused by gptmilter e2e"; };
skip: { trusted_networks = []; };
EOC
}
write_conf 1.01

# gptmilter first: Postfix defers while its milter is missing
"$GPTMILTER" -f -c "$tmp/gptmilter.conf" > "$tmp/milter.log" 2>&1 &
milter_pid=$!
pf_wait 20 pf_listening "$pf_milter_port" ||
	{ fail "gptmilter did not start"; cat "$tmp/milter.log"; exit 1; }
pf_start || { fail "Postfix did not start"; exit 1; }

send() {	# $1: name, $2: subject, $3: extra header; output in $tmp/$1.swaks
	swaks --server 127.0.0.1:$pf_smtp_port --from sender@example.org \
		--to rcpt@example.net --helo client.example \
		--header "Subject: $2" ${3:+--add-header "$3"} \
		--body "Hello, this is message $1 of the gptmilter end-to-end test." \
		--timeout 30 > "$tmp/$1.swaks" 2>&1
}
delivered() { [ "$(pf_delivered)" -ge "$1" ]; }

# 1. ham: delivered with the verdict headers; a forged flag is removed
send ham "Meeting notes" "X-Spam-Flag: YES" ||
	fail "ham: swaks failed: $(tail -5 "$tmp/ham.swaks")"
grep -q '^<- *250 .*queued as' "$tmp/ham.swaks" || fail "ham: not queued"
if pf_wait 30 delivered 1; then
	f="$tmp/pf/sink/$(ls "$tmp/pf/sink" | head -1)"
	grep -q '^X-Spam-Score: [01]\.[0-9][0-9][0-9]$' "$f" ||
		fail "ham: no X-Spam-Score in the delivered message"
	grep -q '^X-Spam-Status: No, score=[01]\.[0-9]* threshold=1\.005 model=e2e-tiny$' "$f" ||
		fail "ham: no X-Spam-Status in the delivered message"
	grep -qi '^X-Spam-Flag' "$f" && fail "ham: forged X-Spam-Flag delivered"
	grep -q '^Subject: Meeting notes$' "$f" || fail "ham: Subject changed"
else
	fail "ham: nothing arrived at smtp-sink"
fi
# the recipe's point: smtpd ran chrooted in the queue directory
chrooted=0
for p in $(pgrep -x smtpd); do
	[ "$(readlink "/proc/$p/root")" = "$tmp/pf/queue" ] && chrooted=1
done
[ $chrooted -eq 1 ] || fail "no smtpd chrooted in $tmp/pf/queue"
qid=$(sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' "$tmp/ham.swaks" | head -1)
grep -q "${qid:-none}: score=[01]\.[0-9]* threshold=1\.005 label=[a-z]* action=accept latency=" \
	"$tmp/milter.log" || fail "ham: no log line with queue id $qid"

# 2. SIGHUP with reject_threshold = 0: refused at SMTP with 550 5.7.1
write_conf 0.0
kill -HUP "$milter_pid"
pf_wait 20 grep -q 'reload: configuration .* applied' "$tmp/milter.log" ||
	fail "reload not logged"
send spam "Cheap watches" || :
grep -q '^<\*\* *550 5.7.1 Spam refused by gptmilter e2e' "$tmp/spam.swaks" ||
	fail "spam: not refused with 550 5.7.1: $(grep '^<' "$tmp/spam.swaks" | tail -3)"
grep -q 'action=reject' "$tmp/milter.log" || fail "spam: reject not logged"

# 3. gptmilter stopped: milter_default_action = tempfail
kill -TERM "$milter_pid"
wait "$milter_pid"
rc=$?
milter_pid=
[ $rc -eq 0 ] || fail "gptmilter exit status $rc after SIGTERM"
grep -q 'gptmilter\[[0-9]*\]: stopped' "$tmp/milter.log" ||
	fail "gptmilter did not log its stop"
send down "While the milter is down" || :
grep -q '^<\*\* *4[0-9][0-9] ' "$tmp/down.swaks" ||
	fail "milter down: no 4xx: $(grep '^<' "$tmp/down.swaks" | tail -3)"
sleep 1
[ "$(pf_delivered)" -eq 1 ] || fail "sink got $(pf_delivered) messages, wanted 1"

# 4. The README's unix-socket variant, as written: a directory of its own
#    in the chroot (the queue directory here, /var/spool/postfix there),
#    the daemon's user owning it (nobody here, gptmilter there), group
#    postfix; the socket created as root, then -u; main.cf names the path
#    as smtpd sees it inside the chroot.
sd="$tmp/pf/queue/gptmilter"
install -d -o nobody -g postfix -m 0750 "$sd"
write_conf 1.01 "socket = \"unix:$sd/gptmilter.sock\";
socket_owner = \"nobody:postfix\";
socket_mode = \"0660\";"
"$GPTMILTER" -n -c "$tmp/gptmilter.conf" > "$tmp/unix-n.log" 2>&1 ||
	fail "unix variant: gptmilter -n: $(cat "$tmp/unix-n.log")"
grep -q warning "$tmp/unix-n.log" && fail "unix variant: -n warns: $(cat "$tmp/unix-n.log")"
"$GPTMILTER" -f -c "$tmp/gptmilter.conf" -u nobody > "$tmp/milter2.log" 2>&1 &
milter_pid=$!
# "listening on" is logged once the socket has its owner and mode: the
# socket file itself appears a moment before
pf_wait 20 grep -q 'listening on' "$tmp/milter2.log" ||
	{ fail "unix variant: not listening"; cat "$tmp/milter2.log"; }
test -S "$sd/gptmilter.sock" || fail "unix variant: no socket"
[ "$(stat -c '%U:%G %a' "$sd/gptmilter.sock")" = "nobody:postfix 660" ] ||
	fail "unix variant: socket is $(stat -c '%U:%G %a' "$sd/gptmilter.sock")"
postconf -c "$tmp/pf/conf" -e "smtpd_milters = unix:/gptmilter/gptmilter.sock" &&
	postfix -c "$tmp/pf/conf" reload > /dev/null 2>&1 || fail "postfix reload"
sleep 2
send unix "Through the unix socket" ||
	fail "unix variant: swaks failed: $(tail -5 "$tmp/unix.swaks")"
if pf_wait 30 delivered 2; then
	f=$(grep -l '^Subject: Through the unix socket$' "$tmp"/pf/sink/* | head -1)
	grep -q '^X-Spam-Status: No, score=' "${f:-/dev/null}" ||
		fail "unix variant: no X-Spam-Status in the delivered message"
else
	fail "unix variant: nothing arrived: $(grep '^<' "$tmp/unix.swaks" | tail -3)"
fi
kill -TERM "$milter_pid"
wait "$milter_pid" || fail "unix variant: exit status $?"
milter_pid=
[ -e "$sd/gptmilter.sock" ] && fail "unix variant: the socket stayed after exit"
cat "$tmp/milter2.log" >> "$tmp/milter.log"

if grep -q 'ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer' "$tmp/milter.log"; then
	fail "sanitizer report"
fi
if [ $fails -eq 0 ]; then
	echo "PASS: Postfix end to end (smtpd :$pf_smtp_port, sink :$pf_sink_port)"
else
	echo "--- milter.log"; cat "$tmp/milter.log"
	echo "--- maillog"; tail -30 "$tmp/pf/maillog" 2>/dev/null
fi
finish test_postfix
