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
# batch sizes, and the same model's msgs/s in gptmilter-classify (no MTA).
#
# Usage (as root, from the build directory):
#   sh ../bench/bench_milter.sh [-n N] [-c C] [-m MODEL_DIR] [-w WORKERS]
#        [-r REJECT_THRESHOLD]
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
N=2000 C=20 MODEL= WORKERS=2 REJECT=0.99
while getopts n:c:m:w:r: o; do
	case $o in
	n) N=$OPTARG;; c) C=$OPTARG;; m) MODEL=$OPTARG;; w) WORKERS=$OPTARG;;
	r) REJECT=$OPTARG;;
	*) echo "usage: $0 [-n N] [-c C] [-m MODEL_DIR] [-w WORKERS] [-r REJECT]"; exit 64;;
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

if [ -x "$CLASSIFY" ]; then
	t0=$(date +%s.%N)
	# exit status as bogofilter's: 0 some spam, 1 all ham, 3 an error
	# shellcheck disable=SC2046
	"$CLASSIFY" -m "$MODEL" -T "$WORKERS" $(cat "$tmp/files") > /dev/null 2>&1
	[ $? -le 1 ] || echo "gptmilter-classify failed"
	t1=$(date +%s.%N)
	echo "gptmilter-classify alone (-T $WORKERS, same files, same model): $(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f msgs/s (%.1f s)", n / (b - a), b - a }')"
else
	echo "gptmilter-classify not built ($CLASSIFY): no baseline"
fi
exit $status
