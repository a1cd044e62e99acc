#!/bin/sh
# test_miltertest.sh - gptmilter through the milter protocol, one miltertest
# Lua script per case (tests/milter/t-*.lua, OpenDKIM style), each starting
# its own daemon with its own t-*.conf on a tiny random model. Random scores
# are arbitrary, so the cases force their verdicts with thresholds of 0 and
# 1.01. Also: -n (check configuration and model) and its exit statuses.
# Needs: miltertest (Debian package miltertest), Debian's python3 + numpy.
set -u
: "${top_srcdir:?}" "${top_builddir:?}" "${PYTHON3:?}"
MT_DIR="$top_srcdir/tests/milter"
GPTMILTER="${GPTMILTER:-$top_builddir/src/milter/gptmilter}"
export MT_DIR GPTMILTER
command -v miltertest >/dev/null ||
	{ echo "FAIL: miltertest not found (apt-get install miltertest)"; exit 1; }
[ -x "$GPTMILTER" ] || { echo "FAIL: $GPTMILTER not built"; exit 1; }

tmp="$top_builddir/tests/tmp/milter.$$"
rm -rf "$tmp"
mkdir -p "$tmp" || exit 1
trap 'if [ $fail -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi' EXIT
fail=0
cd "$tmp" || exit 1

gen="$top_srcdir/tests/gen_tiny_model.py"
"$PYTHON3" "$gen" --out model --layers 2 --heads 2 --embd 32 --ctx 64 \
	--labels ham,spam --seed 11 --name tiny-test >/dev/null || exit 1
"$PYTHON3" "$gen" --out model3 --layers 2 --heads 2 --embd 32 --ctx 64 \
	--labels ham,spam,phish --seed 12 >/dev/null || exit 1
cp -r model badmodel
# model-scripts: model with a record of training scripts, Latin ham only
# (t-script); the other models record none, so scripts change nothing
cp -r model model-scripts
"$PYTHON3" - model-scripts/config.json <<'PYEOF' || exit 1
import json, sys
c = json.load(open(sys.argv[1]))
c["gptmilter"]["scripts"] = {
    "ham": {"messages": 100, "by_script": {"Latn": 100}},
    "spam": {"messages": 50, "by_script": {"Latn": 40, "Cyrl": 10}}}
json.dump(c, open(sys.argv[1], "w"))
PYEOF
head -c 1000 model/model.safetensors > badmodel/model.safetensors
cp "$MT_DIR"/t-*.conf .

fail=0
bad() { echo "FAIL: $*"; fail=1; }

# -n: configuration and model check
out=$("$GPTMILTER" -n -c t-ham.conf 2>&1) || bad "-n with a good model: $out"
case $out in *"configuration OK"*tiny-test*) ;; *) bad "-n output: $out";; esac
out=$("$GPTMILTER" -n -c t-nomodel.conf 2>&1) && bad "-n without a model exited 0"
case $out in *no-such-model*) ;; *) bad "-n message names the model: $out";; esac
echo 'policy: { spam_threshold = 3.0; };' > range.conf
out=$("$GPTMILTER" -n -c range.conf 2>&1)
[ $? -eq 78 ] || bad "-n with a bad value: exit status not 78"
case $out in *range.conf:1*spam_threshold*range*) ;;
	*) bad "bad value message: $out";; esac
# spam_threshold "model" (the default): the model's recorded threshold,
# 0.5 when it records none; a number overrides; other strings are refused
"$PYTHON3" "$gen" --out model-thr --layers 2 --heads 2 --embd 32 --ctx 64 \
	--labels ham,spam --seed 11 --threshold 0.0 >/dev/null || exit 1
"$PYTHON3" "$gen" --out model-thr37 --layers 2 --heads 2 --embd 32 --ctx 64 \
	--labels ham,spam --seed 13 --threshold 0.37 --name tiny-thr37 \
	>/dev/null || exit 1
printf 'model = "model-thr";\n' > thr-model.conf
printf 'model = "model-thr";\npolicy: { spam_threshold = 0.625; };\n' > thr-num.conf
printf 'model = "model";\npolicy: { spam_threshold = "model"; };\n' > thr-none.conf
printf 'model = "model";\npolicy: { spam_threshold = "high"; };\n' > thr-bad.conf
out=$("$GPTMILTER" -n -c thr-model.conf 2>&1)
case $out in *"spam threshold 0 (the model's)"*) ;; *) bad "threshold from the model: $out";; esac
out=$("$GPTMILTER" -n -c thr-num.conf 2>&1)
case $out in *"spam threshold 0.625"*"(the model's)"*) bad "number not used: $out";;
	*"spam threshold 0.625"*) ;; *) bad "explicit threshold: $out";; esac
out=$("$GPTMILTER" -n -c thr-none.conf 2>&1)
case $out in *'spam threshold 0.5 ("model"; the model records none)'*) ;;
	*) bad "no recorded threshold: $out";; esac
# the threshold in force above a reject threshold that can fire: allowed
# (reject wins), but warned about, also when it comes from the model
printf 'model = "model";\npolicy: { reject_threshold = 0.3; };\n' > thr-conflict.conf
out=$("$GPTMILTER" -n -c thr-conflict.conf 2>&1) || bad "spam above reject: -n failed: $out"
case $out in *"warning: "*"policy.spam_threshold 0.5 ("*"is above policy.reject_threshold 0.3"*) ;;
	*) bad "spam above reject: no warning: $out";; esac
out=$("$GPTMILTER" -n -c thr-model.conf 2>&1)
case $out in *warning*) bad "warning without a conflict: $out";; esac
out=$("$GPTMILTER" -n -c thr-bad.conf 2>&1)
[ $? -eq 78 ] || bad "spam_threshold = \"high\": exit status not 78"
case $out in *'spam_threshold must be a number or "model"'*) ;;
	*) bad "spam_threshold = \"high\" message: $out";; esac
echo 'polcy: { spam_threshold = 0.5; };' > typo.conf
out=$("$GPTMILTER" -n -c typo.conf 2>&1) && bad "-n with an unknown group exited 0"
case $out in *'unknown group "polcy"'*) ;; *) bad "typo message: $out";; esac

# daemon mode: detaches, writes the pid file, drops to `nobody` (as root),
# serves /metrics, removes the pid file on SIGTERM
port=$("$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > daemon.conf <<EOC
model = "$tmp/model";
policy: { spam_threshold = 1.01; reject_threshold = 1.01; unsure_low = 0.0; unsure_high = 0.0; };
skip: { trusted_networks = []; };
metrics: { listen = "127.0.0.1:$port"; };
EOC
# fetch_metrics REGEX: /metrics once it matches REGEX (60 s at most)
fetch_metrics() {
	"$PYTHON3" - "$port" "$1" <<'PYEOF'
import re, sys, time, urllib.request
text = ""
for i in range(600):
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1],
                                      timeout=5).read().decode()
        if re.search(sys.argv[2], text):
            break
    except OSError:
        pass
    time.sleep(0.1)
print(text)
PYEOF
}
user=
[ "$(id -u)" -eq 0 ] && user="-u nobody"
chmod 755 "$tmp"
"$GPTMILTER" -c daemon.conf -p "unix:$tmp/daemon.sock" -P "$tmp/daemon.pid" \
	$user || bad "daemon mode: start failed"
i=0
while [ $i -lt 300 ] && ! [ -s daemon.pid ]; do sleep 0.1; i=$((i + 1)); done
pid=$(cat daemon.pid 2>/dev/null)
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
	bad "daemon mode: no live process in the pid file"
else
	[ -S daemon.sock ] || bad "daemon mode: no socket"
	if [ -n "$user" ]; then
		uid=$(awk '/^Uid:/ { print $2 }' /proc/$pid/status)
		[ "$uid" = "$(id -u nobody)" ] || bad "daemon mode: runs as uid $uid, not nobody"
	fi
	metrics=$(fetch_metrics 'gptmilter_uptime_seconds')
	case $metrics in
	*'gptmilter_messages_total{action="accept"} 0'*'gptmilter_unseen_script_total 0'*gptmilter_latency_seconds_bucket*gptmilter_uptime_seconds*) ;;
	*) bad "daemon mode: /metrics: $metrics";;
	esac
	# detached and as another user, it still scores
	MT_SOCK="unix:$tmp/daemon.sock" MT_EXPECT=continue timeout 60 \
		miltertest -s "$MT_DIR/q-client.lua" > daemon.client.log 2>&1 ||
		{ bad "daemon mode: message not scored"; cat daemon.client.log; }
	# a burst of SIGHUPs: reloads, never a stop (libmilter's signal
	# thread also waits for SIGHUP; see main.c)
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		kill -HUP "$pid"
	done
	# the reload loads the model again: seconds in a sanitizer build
	metrics=$(fetch_metrics 'gptmilter_reloads_total{result="ok"} [1-9]')
	kill -0 "$pid" 2>/dev/null || bad "daemon mode: a SIGHUP burst stopped it"
	case $metrics in
	*'gptmilter_reloads_total{result="ok"} '[1-9]*) ;;
	*) bad "daemon mode: no reload counted after SIGHUP: $metrics";;
	esac
	kill -TERM "$pid"
	i=0
	while [ $i -lt 300 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	kill -0 "$pid" 2>/dev/null && bad "daemon mode: still running after SIGTERM"
	[ -e daemon.pid ] && [ -z "$user" ] && bad "daemon mode: pid file left behind"
fi
echo "ok: daemon mode"

for lua in "$MT_DIR"/t-*.lua; do
	case=$(basename "$lua" .lua)
	delay=0
	[ "$case" = t-timeout ] && delay=1500
	GPTMILTER_TEST_DELAY_MS=$delay timeout 60 miltertest -s "$lua" \
		>"$case.log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		bad "$case (miltertest exit $rc)"
		sed 's/^/    /' "$case.log"
		continue
	fi
	grep -q 'gptmilter\[[0-9]*\]: stopped' "$case.log" ||
		{ bad "$case: no clean shutdown"; sed 's/^/    /' "$case.log"; }
	if grep -q 'ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer' \
		"$case.log"; then
		bad "$case: sanitizer report"
		sed 's/^/    /' "$case.log"
	fi
	echo "ok: $case"
done
# the log line of the Cyrillic message names its script
grep -q 'action=accept .*unseen_script=Cyrl' t-script.log ||
	{ bad "t-script: no unseen_script field in the log"; sed 's/^/    /' t-script.log; }

# queue full: one worker, a queue of one, each batch slowed to 3 s; of
# three messages sent together, one occupies the worker, one waits, one
# finds the queue full and gets policy.on_error (which one is up to timing)
cat > queue.conf <<EOC
model = "$tmp/model";
workers = 1;
queue = 1;
policy: { spam_threshold = 1.01; reject_threshold = 1.01; unsure_low = 0.0; unsure_high = 0.0; };
skip: { trusted_networks = []; };
EOC
GPTMILTER_TEST_DELAY_MS=3000 "$GPTMILTER" -f -c queue.conf \
	-p "unix:$tmp/queue.sock" > queue.log 2>&1 &
qpid=$!
i=0
while [ $i -lt 300 ] && ! [ -S queue.sock ]; do sleep 0.1; i=$((i + 1)); done
for c in 1 2 3; do
	MT_SOCK="unix:$tmp/queue.sock" MT_EXPECT=any \
		timeout 60 miltertest -s "$MT_DIR/q-client.lua" > "queue.$c.log" 2>&1 &
	eval "q$c=\$!"
	sleep 0.3
done
for c in 1 2 3; do
	eval "wait \$q$c" || { bad "queue full: client $c"; cat "queue.$c.log"; }
done
kill -TERM $qpid; wait $qpid || bad "queue full: daemon exit status"
n_ok=$(cat queue.1.log queue.2.log queue.3.log | grep -c 'OUTCOME continue')
n_tf=$(cat queue.1.log queue.2.log queue.3.log | grep -c 'OUTCOME tempfail')
[ "$n_ok" -eq 2 ] && [ "$n_tf" -eq 1 ] ||
	bad "queue full: $n_ok scored and $n_tf tempfailed, wanted 2 and 1"
grep -q 'cannot score: queue full' queue.log || bad "queue full: not logged"
echo "ok: queue full"

# SIGTERM while a message is being scored: it still gets its verdict
GPTMILTER_TEST_DELAY_MS=1500 "$GPTMILTER" -f -c queue.conf \
	-p "unix:$tmp/drain.sock" > drain.log 2>&1 &
dpid=$!
i=0
while [ $i -lt 300 ] && ! [ -S drain.sock ]; do sleep 0.1; i=$((i + 1)); done
MT_SOCK="unix:$tmp/drain.sock" MT_EXPECT=continue \
	timeout 60 miltertest -s "$MT_DIR/q-client.lua" > drain.client.log 2>&1 &
cpid=$!
i=0
while [ $i -lt 300 ] && ! grep -q . drain.client.log 2>/dev/null &&
	! grep -q 'stopping' drain.log; do
	sleep 0.1; i=$((i + 1))
	# the message is at end of data once the worker sleeps: give it 0.5 s
	[ $i -eq 5 ] && kill -TERM $dpid
done
wait $cpid || { bad "drain: the message in flight lost its verdict"; cat drain.client.log; }
wait $dpid || bad "drain: daemon exit status"
grep -q 'score=.*action=accept' drain.log || bad "drain: no verdict logged"
echo "ok: SIGTERM drains"

# SIGTERM while a message is still open (MAIL FROM and headers sent, the
# end of the message 7 s later, after libmilter's accept loop has ended):
# the message gets its verdict, the daemon exits 0 with its last log line
# and removes its socket (issue 17: the loop's end killed it, status 140)
cat > open.conf <<EOC
model = "$tmp/model";
policy: { spam_threshold = 1.01; reject_threshold = 1.01; unsure_low = 0.0; unsure_high = 0.0; };
skip: { trusted_networks = []; };
EOC
"$GPTMILTER" -f -c open.conf -p "unix:$tmp/open.sock" > open.log 2>&1 &
opid=$!
i=0
while [ $i -lt 300 ] && ! [ -S open.sock ]; do sleep 0.1; i=$((i + 1)); done
MT_SOCK="unix:$tmp/open.sock" MT_READY="$tmp/open.ready" MT_PAUSE=7 \
	timeout 60 miltertest -s "$MT_DIR/q-open.lua" > open.client.log 2>&1 &
cpid=$!
i=0
while [ $i -lt 300 ] && ! [ -e open.ready ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM $opid
wait $cpid || { bad "open message: no verdict after SIGTERM"; cat open.client.log; }
wait $opid
rc=$?
[ $rc -eq 0 ] || { bad "open message: daemon exit status $rc"; cat open.log; }
grep -q 'score=.*action=accept' open.log || bad "open message: no verdict logged"
grep -q 'gptmilter\[[0-9]*\]: stopped' open.log || bad "open message: no last log line"
[ -e open.sock ] && bad "open message: socket left behind"
echo "ok: SIGTERM with a message open"

# Signal storm (issue 17): SIGHUP, SIGUSR1 and SIGUSR2 every 10 ms from
# 0.1 s after the start (the model is still loading) for about 4 s, while
# three clients send five messages each. No signal may kill or stop the
# daemon (OpenBLAS's threads, started before main(), took them; so could
# libmilter's signal thread), every message gets its verdict, and SIGTERM
# afterwards still exits 0.
"$GPTMILTER" -f -c open.conf -p "unix:$tmp/storm.sock" > storm.log 2>&1 &
spid=$!
sleep 0.1
(
	i=0
	while [ $i -lt 300 ]; do
		kill -HUP $spid && kill -USR1 $spid && kill -USR2 $spid ||
			break
		sleep 0.01
		i=$((i + 1))
	done
	echo "$i" > storm.rounds
) 2>/dev/null &
stpid=$!
i=0
while [ $i -lt 300 ] && ! [ -S storm.sock ]; do sleep 0.1; i=$((i + 1)); done
for c in 1 2 3; do
	(
		for n in 1 2 3 4 5; do
			MT_SOCK="unix:$tmp/storm.sock" MT_EXPECT=continue \
				timeout 60 miltertest -s "$MT_DIR/q-client.lua" ||
				exit 1
		done
	) > "storm.$c.log" 2>&1 &
	eval "s$c=\$!"
done
for c in 1 2 3; do
	eval "wait \$s$c" || { bad "signal storm: client $c"; cat "storm.$c.log"; }
done
wait $stpid
[ "$(cat storm.rounds)" = 300 ] ||
	bad "signal storm: daemon gone after $(cat storm.rounds) of 300 rounds"
if kill -TERM $spid 2>/dev/null; then
	wait $spid
	rc=$?
	[ $rc -eq 0 ] || bad "signal storm: exit status $rc after SIGTERM"
else
	wait $spid
	bad "signal storm: the daemon died (status $?)"
fi
grep -q 'signal 10\?: reloading' storm.log || bad "signal storm: no reload"
grep -q 'reload: configuration .* applied' storm.log ||
	bad "signal storm: no reload done"
grep -q 'signal 12: ignored' storm.log || bad "signal storm: SIGUSR2 not logged"
[ "$(grep -c 'action=accept' storm.log)" -eq 15 ] ||
	{ bad "signal storm: not 15 verdicts"; cat storm.log; }
echo "ok: signal storm"

# The descriptor limit (issue 17): each MTA connection holds a descriptor
# and a libmilter thread, and beyond RLIMIT_NOFILE new connections hung
# without a log line. The start-up log gives the room, and 40 connections
# under a limit of 64 bring a warning.
(ulimit -n 64 && exec "$GPTMILTER" -f -c open.conf -p "unix:$tmp/fd.sock") \
	> fd.log 2>&1 &
fpid=$!
i=0
while [ $i -lt 300 ] && ! [ -S fd.sock ]; do sleep 0.1; i=$((i + 1)); done
n=$("$PYTHON3" "$MT_DIR/conn-hold.py" "$tmp/fd.sock" 40 1)
[ "$n" = 40 ] || bad "descriptor limit: $n of 40 connections negotiated"
kill -TERM $fpid
wait $fpid || bad "descriptor limit: exit status $?"
grep -q 'descriptor limit 64 (RLIMIT_NOFILE), [0-9]* in use: room for about [0-9]* MTA connections at once' \
	fd.log || bad "descriptor limit: the room not logged at start"
[ "$(grep -c 'warning: [0-9]* MTA connections open, room for about' fd.log)" -eq 1 ] ||
	{ bad "descriptor limit: not one warning"; cat fd.log; }
echo "ok: descriptor limit"

# The model overwritten in place under a running daemon (issue 17: the
# weights were mapped from the live file, so cutting it short made the next
# message a SIGBUS, and rewriting it changed the model in use): messages
# keep the model loaded, which changes only on reload.
"$PYTHON3" "$gen" --out model-b --layers 2 --heads 2 --embd 32 --ctx 64 \
	--labels ham,spam --seed 21 --name tiny-b >/dev/null || exit 1
cp -r model live
sed "s|$tmp/model\"|$tmp/live\"|" open.conf > live.conf
"$GPTMILTER" -f -c live.conf -p "unix:$tmp/live.sock" > live.log 2>&1 &
lpid=$!
i=0
while [ $i -lt 300 ] && ! [ -S live.sock ]; do sleep 0.1; i=$((i + 1)); done
# live_status: the X-Spam-Status of one message (nothing if the daemon died)
live_status() {
	kill -0 $lpid 2>/dev/null || return
	MT_SOCK="unix:$tmp/live.sock" MT_EXPECT=continue timeout 60 \
		miltertest -s "$MT_DIR/q-client.lua" 2>&1 | sed -n 's/^STATUS //p'
}
s1=$(live_status)
case $s1 in *model=tiny-test*) ;; *) bad "model overwrite: first message: $s1";; esac
: > live/model.safetensors
s2=$(live_status)
[ "$s2" = "$s1" ] || bad "model overwrite: after truncation: '$s2', wanted '$s1'"
cp model-b/model.safetensors model-b/config.json live/
s3=$(live_status)
[ "$s3" = "$s1" ] || bad "model overwrite: after cp over it: '$s3', wanted '$s1'"
kill -HUP $lpid 2>/dev/null
i=0
s4=
while [ $i -lt 60 ] && kill -0 $lpid 2>/dev/null; do
	s4=$(live_status)
	case $s4 in *model=tiny-b*) break;; esac
	sleep 0.5
	i=$((i + 1))
done
case $s4 in *model=tiny-b*) ;; *) bad "model overwrite: reload did not take the new model: $s4";; esac
if kill -TERM $lpid 2>/dev/null; then
	wait $lpid || bad "model overwrite: exit status $?"
else
	wait $lpid
	bad "model overwrite: the daemon died (status $?)"
fi
echo "ok: model overwritten in place"

# log lines the scripts cannot see
grep -q 'score=[01]\.[0-9]* threshold=1\.01 label=.* action=accept latency=.* truncated' \
	t-large.log || bad "t-large: no 'truncated' log line"
grep -q 'removing 2 incoming X-Spam-Flag' t-forged.log ||
	bad "t-forged: removal not logged"
grep -q 'cannot score: no score within' t-timeout.log ||
	bad "t-timeout: timeout not logged"
grep -q 'cannot score: no model loaded; action=tempfail' t-nomodel.log ||
	bad "t-nomodel: error not logged"
grep -q 'reload: configuration .* applied' t-reload.log ||
	bad "t-reload: reload not logged"
grep -q 'keeping the old configuration' t-reload.log ||
	bad "t-reload: bad configuration not refused"
grep -q 'AUTHQ1: from 192\.0\.2\.10: authenticated as alice, not scanned' \
	t-auth.log || bad "t-auth: skip not logged"
grep -q 'removing 1 incoming X-Spam-Flag' t-auth.log ||
	bad "t-auth: removal not logged"
grep -q '^00:00:00\|^FAKEQ' t-auth.log && bad "t-auth: a macro wrote a log line"
grep -qF 'AUTHQ2\r\nFAKEQ: from 192.0.2.10: authenticated as mallory\n00:00:00.000 gptmilter[1]: FAKE line\x01, not scanned' \
	t-auth.log || bad "t-auth: control characters not escaped"
[ "$(grep -c 'from 192\.0\.2\.77: trusted network, not scanned' t-trusted.log)" -eq 1 ] &&
[ "$(grep -c 'from 2001:db8::25: trusted network, not scanned' t-trusted.log)" -eq 1 ] ||
	bad "t-trusted: not one line per skipped message"
grep -q "start: model .*spam threshold 0 (the model's)" t-modelthr.log ||
	bad "t-modelthr: the model's threshold not logged at start"
grep -q 'score=[01]\.[0-9]* threshold=0 label=' t-modelthr.log ||
	bad "t-modelthr: the threshold in force not in the message log line"
grep -q "reload: model tiny-thr37 .*spam threshold 0.37 (the model's)" \
	t-thrreload.log || bad "t-thrreload: the new model's threshold not logged"
grep -q 'score=[01]\.[0-9]* threshold=0.6 label=' t-thrreload.log ||
	bad "t-thrreload: the configured threshold not in the log line"
grep -q "reload: keeping the old model tiny-thr37; spam threshold 0.37 (the model's)" \
	t-thrreload.log ||
	bad "t-thrreload: a failed model load does not log the threshold in force"

[ $fail -eq 0 ] && echo "PASS: milter protocol"
exit $fail
