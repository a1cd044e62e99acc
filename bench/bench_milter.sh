#!/bin/sh
# bench_milter.sh - gptmilter's throughput and latency through Postfix.
#
# N messages (default 2000) of the standard corpus ($CORPUS_DIR, else
# /tmp/corpus; files sorted by path) go to a private Postfix instance
# (tests/milter/postfix-lib.sh) at concurrency C (default 20), one SMTP
# session per message, from Python's smtplib in C threads (2,000 swaks
# processes would measure Perl's start-up, not the milter). Half-way, the
# milter gets a SIGHUP (configuration and model reload). Every message must
# be accounted for: accepted and delivered to smtp-sink, or rejected with
# 550; none tempfailed, none lost. Reported: msgs/s end to end, p50/p99 of
# the milter's own latency (end of message to verdict, from its log lines),
# batch sizes, and the same model's msgs/s in gptmilter-classify (no MTA,
# run first, on the same files). From the milter's log lines: its scoring
# rate (messages x workers over the time its workers spent scoring, the
# time a message waited for a worker left out), beside classify's (issue
# 19: within 90%). Then a second phase at half classify's rate: messages
# sent at fixed intervals (open loop; -p P of them, default 15 s worth),
# and the milter's p50/p99 latency at that load.
#
# Usage (as root, from the build directory):
#   sh ../bench/bench_milter.sh [-n N] [-c C] [-m MODEL_DIR] [-w WORKERS]
#        [-r REJECT_THRESHOLD] [-p PACED_N]
# Without -m, a random model of 4 layers, 4 heads, 128 dims, 256 tokens is
# generated (its verdicts mean nothing; its cost is what is measured).
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
PYTHON3=${PYTHON3:-/usr/bin/python3}
GPTMILTER=${GPTMILTER:-$top_builddir/src/milter/gptmilter}
CLASSIFY=${CLASSIFY:-$top_builddir/src/classify/gptmilter-classify}
CORPUS=${CORPUS_DIR:-/tmp/corpus}
[ -d "$CORPUS" ] || CORPUS=/tmp/corpus
PATH=$PATH:/usr/sbin:/sbin
N=2000 C=20 MODEL= WORKERS=2 REJECT=0.995 PACED=
while getopts n:c:m:w:r:p: o; do
	case $o in
	n) N=$OPTARG;; c) C=$OPTARG;; m) MODEL=$OPTARG;; w) WORKERS=$OPTARG;;
	r) REJECT=$OPTARG;; p) PACED=$OPTARG;;
	*) echo "usage: $0 [-n N] [-c C] [-m MODEL_DIR] [-w WORKERS] [-r REJECT] [-p PACED_N]"; exit 64;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench_milter.sh: needs root (Postfix)"; exit 1; }
[ -x "$GPTMILTER" ] || { echo "bench_milter.sh: build $GPTMILTER first"; exit 1; }
# benchmarks run with OpenBLAS's own CPU detection
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
echo "environment: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset; $(nproc) CPUs"
. "$top_srcdir/tests/milter/postfix-lib.sh"

tmp="$top_builddir/bench/tmp.milter.$$"
mkdir -p "$tmp" || exit 1
tmp=$(cd "$tmp" && pwd)
milter_pid=
cleanup() {
	pf_stop
	[ -n "$milter_pid" ] && kill "$milter_pid" 2>/dev/null && wait "$milter_pid"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

find "$CORPUS" -name '*.eml' | sort | head -n "$N" > "$tmp/files"
N=$(wc -l < "$tmp/files")
[ "$N" -gt 0 ] || { echo "no .eml files under $CORPUS"; exit 1; }
if [ -z "$MODEL" ]; then
	MODEL="$tmp/model"
	"$PYTHON3" "$top_srcdir/tests/gen_tiny_model.py" --out "$MODEL" \
		--layers 4 --heads 4 --embd 128 --ctx 256 --labels ham,spam \
		--seed 5 --name bench-random >/dev/null || exit 1
fi
echo "model: $MODEL; messages: $N from $CORPUS; concurrency: $C; workers: $WORKERS; reject_threshold: $REJECT"

# gptmilter-classify alone on the same files and model, before the MTA and
# the milter start (they would share the cores)
crate=
if [ -x "$CLASSIFY" ]; then
	t0=$(date +%s.%N)
	# exit status as bogofilter's: 0 some spam, 1 all ham, 3 an error
	xargs -d '\n' "$CLASSIFY" -m "$MODEL" -T "$WORKERS" < "$tmp/files" \
		> /dev/null 2>&1
	[ $? -le 123 ] || echo "gptmilter-classify failed"
	t1=$(date +%s.%N)
	crate=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
	echo "gptmilter-classify alone (-T $WORKERS, same files, same model): $crate msgs/s"
else
	echo "gptmilter-classify not built ($CLASSIFY): no baseline, no paced phase"
fi

pf_setup "$tmp/pf" "$top_srcdir/contrib/postfix/main.cf.gptmilter" || exit 1
cat > "$tmp/gptmilter.conf" <<EOC
model = "$MODEL";
socket = "inet:$pf_milter_port@127.0.0.1";
workers = $WORKERS;
batch = 8;
queue = 1024;
timeout = 120;
policy: { spam_threshold = 0.5; reject_threshold = $REJECT; on_error = "tempfail"; };
skip: { trusted_networks = []; };
EOC
"$GPTMILTER" -f -c "$tmp/gptmilter.conf" > "$tmp/milter.log" 2>&1 &
milter_pid=$!
pf_wait 60 pf_listening "$pf_milter_port" || { cat "$tmp/milter.log"; exit 1; }
pf_start || exit 1

"$PYTHON3" - "$tmp/files" "$pf_smtp_port" "$C" "$milter_pid" > "$tmp/send.out" <<'PYEOF'
import os, signal, smtplib, sys, threading, time
files = [l.rstrip("\n") for l in open(sys.argv[1])]
port, conc, pid = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
lock = threading.Lock()
nxt = [0]
res = {"ok": 0, "rejected": 0, "tempfail": 0, "error": 0}
errors = []
hup_at = len(files) // 2
def worker():
    while True:
        with lock:
            i = nxt[0]
            if i >= len(files):
                return
            nxt[0] += 1
            if i == hup_at:
                os.kill(pid, signal.SIGHUP)
        data = open(files[i], "rb").read()
        kind = "ok"
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=300) as s:
                s.sendmail("bench@example.org", ["rcpt@example.net"], data)
        except smtplib.SMTPResponseException as e:
            kind = "rejected" if 500 <= e.smtp_code < 600 else "tempfail"
            if kind == "tempfail":
                errors.append("%s: %d %s" % (files[i], e.smtp_code, e.smtp_error))
        except Exception as e:
            kind = "error"
            errors.append("%s: %r" % (files[i], e))
        with lock:
            res[kind] += 1
t0 = time.time()
threads = [threading.Thread(target=worker) for _ in range(conc)]
for t in threads: t.start()
for t in threads: t.join()
wall = time.time() - t0
print("wall %.3f" % wall)
for k, v in res.items(): print("%s %d" % (k, v))
for e in errors[:10]: print("err", e)
PYEOF
cat "$tmp/send.out" | grep '^err ' | head
wall=$(awk '$1 == "wall" { print $2 }' "$tmp/send.out")
ok=$(awk '$1 == "ok" { print $2 }' "$tmp/send.out")
rej=$(awk '$1 == "rejected" { print $2 }' "$tmp/send.out")
tf=$(awk '$1 == "tempfail" { print $2 }' "$tmp/send.out")
er=$(awk '$1 == "error" { print $2 }' "$tmp/send.out")
delivered_all() { [ "$(pf_delivered)" -ge "$ok" ]; }
pf_wait 120 delivered_all
dl=$(pf_delivered)

grep -o 'action=[a-z]* latency=[0-9.]*ms wait=[0-9.]*ms batch=[0-9]*' \
	"$tmp/milter.log" | tr '=' ' ' | sed 's/ms//g' > "$tmp/lat"
scored=$(wc -l < "$tmp/lat")
stats=$(awk '{ print $4 }' "$tmp/lat" | sort -n | awk '
	{ v[NR] = $1 } END {
		p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
		printf "p50 %.1f ms, p99 %.1f ms, max %.1f ms", p50, p99, v[NR] }')
batch=$(awk '{ s += $8; n++ } END { if (n) printf "%.2f", s / n }' "$tmp/lat")
reloads=$(grep -c 'reload: configuration .* applied' "$tmp/milter.log")

echo "sent $N: accepted $ok (delivered $dl), rejected $rej, tempfailed $tf, errors $er"
echo "milter verdicts logged: $scored; reloads: $reloads"
echo "end to end: $(awk -v n="$N" -v w="$wall" 'BEGIN { printf "%.1f msgs/s (%.1f s)", n / w, w }')"
echo "milter latency (end of message to verdict): $stats; mean batch $batch"
status=0
[ "$((ok + rej))" -eq "$N" ] || { echo "FAIL: not every message accounted for"; status=1; }
[ "$dl" -eq "$ok" ] || { echo "FAIL: $ok accepted but $dl delivered"; status=1; }
[ "$tf" -eq 0 ] && [ "$er" -eq 0 ] || { echo "FAIL: tempfails or errors"; status=1; }
[ "$scored" -eq "$N" ] || { echo "FAIL: $scored verdicts logged for $N messages"; status=1; }
[ "$reloads" -eq 1 ] || { echo "FAIL: the SIGHUP reload was not logged"; status=1; }

# The scoring rate: a batch's messages share its scoring time (latency
# less the wait for a worker), so sum(time / batch) is the workers' busy
# time; WORKERS of them side by side.
srate=$(awk -v w="$WORKERS" '{ s += ($4 - $6) / $8; n++ }
	END { if (s > 0) printf "%.1f", n * w / (s / 1000) }' "$tmp/lat")
echo "milter scoring rate: $srate msgs/s ($WORKERS workers, from its log)"
if [ -n "$crate" ]; then
	awk -v s="$srate" -v c="$crate" 'BEGIN {
		printf "scoring rate / classify: %.2f (issue 19: >= 0.90)\n", s / c }'
	rate=$(awk -v c="$crate" 'BEGIN { printf "%.2f", c / 2 }')
	[ -n "$PACED" ] || PACED=$(awk -v r="$rate" 'BEGIN { printf "%d", r * 15 }')
	before=$(grep -c 'action=[a-z]* latency=' "$tmp/milter.log")
	head -n "$PACED" "$tmp/files" > "$tmp/paced"
	"$PYTHON3" - "$tmp/paced" "$pf_smtp_port" "$rate" > "$tmp/paced.out" <<'PYEOF'
import queue, smtplib, sys, threading, time
files = [l.rstrip("\n") for l in open(sys.argv[1])]
port, rate = int(sys.argv[2]), float(sys.argv[3])
q = queue.Queue()
t0 = time.time() + 0.5
for i, f in enumerate(files):
    q.put((t0 + i / rate, f))
bad = [0]
def worker():
    while True:
        try:
            at, f = q.get_nowait()
        except queue.Empty:
            return
        time.sleep(max(0.0, at - time.time()))
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=300) as s:
                s.sendmail("bench@example.org", ["rcpt@example.net"],
                           open(f, "rb").read())
        except smtplib.SMTPResponseException as e:
            if not 500 <= e.smtp_code < 600:
                bad[0] += 1
        except Exception:
            bad[0] += 1
threads = [threading.Thread(target=worker) for _ in range(64)]
for t in threads: t.start()
for t in threads: t.join()
print("wall %.3f bad %d" % (time.time() - t0, bad[0]))
PYEOF
	paced_logged() {
		[ "$(grep -c 'action=[a-z]* latency=' "$tmp/milter.log")" -ge \
			"$((before + PACED))" ]
	}
	pf_wait 60 paced_logged
	grep -o 'action=[a-z]* latency=[0-9.]*ms wait=[0-9.]*ms batch=[0-9]*' \
		"$tmp/milter.log" | tail -n +"$((before + 1))" | tr '=' ' ' |
		sed 's/ms//g' > "$tmp/lat2"
	pstats=$(awk '{ print $4 }' "$tmp/lat2" | sort -n | awk '
		{ v[NR] = $1 } END { if (NR == 0) { print "none"; exit }
		p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
		printf "p50 %.1f ms, p99 %.1f ms, max %.1f ms", p50, p99, v[NR] }')
	pbatch=$(awk '{ s += $8; n++ } END { if (n) printf "%.2f", s / n }' "$tmp/lat2")
	echo "paced at $rate msgs/s (half classify's), $PACED messages," \
		"$(wc -l < "$tmp/lat2") scored ($(cat "$tmp/paced.out")):" \
		"latency $pstats; mean batch $pbatch"
	[ "$(wc -l < "$tmp/lat2")" -eq "$PACED" ] ||
		{ echo "FAIL: paced phase: not every message scored"; status=1; }
fi

exit $status
