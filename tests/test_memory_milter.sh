#!/bin/sh
# test_memory_milter.sh - instant memory end to end, with models/default:
# a private Dovecot (tests/dovecot-lib.sh) files what an IMAP client moves
# into Junk in the spool; gptmilter, with memory.file and memory.spool set,
# takes the report in; miltertest (tests/milter/memory.lua) sends mail.
#   1. newsletter-2.eml, a spam-ish newsletter the model lets through:
#      No, and no memory reason
#   2. its sibling newsletter-1.eml is moved INBOX -> Junk over IMAP: a
#      spam report in the spool, remembered by the milter within seconds
#   3. newsletter-2.eml again: Yes, "memory=spam:0.9xx", score >= 0.98;
#      conference.eml (unrelated): the model's own verdict, no memory
#      reason; /metrics counts
#      one spam hit and one entry; gptmilter-classify --memory says the
#      same (and, given a corrupt store, says so and scores without it)
#   4. restart: the store is read back from memory.file, not rebuilt
#   5. a corrupt store (one byte flipped): a log line says so, the store
#      is rebuilt from the spool and the verdict comes back
#   6. a corrupt store and no spool: the log says both, and mail is still
#      scored by the model alone (No, no memory reason): no mail lost
#   7. another model's store (a tiny generated model's): "the model
#      changed", rebuilt for the running model
#   8. full (memory.capacity 1), a newer ham report of conference.eml:
#      the oldest report is evicted with a log line; newsletter-2 is No
#      again and conference.eml gets "memory=ham"
# Needs root (Dovecot), miltertest, Debian's python3 with numpy (the tiny
# model). About 20 s.
set -u
: "${top_srcdir:?}" "${top_builddir:?}" "${PYTHON3:?}"
B=$top_builddir
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/dovecot-lib.sh"
dovecot_need test_memory_milter.sh
command -v miltertest > /dev/null ||
	die "miltertest not found (apt-get install miltertest)"
GPTMILTER=$B/src/milter/gptmilter
[ -x "$GPTMILTER" ] || die "$GPTMILTER not built"
MT_DIR=$top_srcdir/tests/milter
D=$top_srcdir/tests/data/memory
MODEL=$top_srcdir/models/default
export MT_DIR

dovecot_start
mpid=
dovecot_cleanup_more() { [ -n "$mpid" ] && kill "$mpid" 2> /dev/null; }
mport=$($PYTHON3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# conf MODEL SPOOL CAPACITY: the milter's configuration
conf() {
	cat > "$T/gptmilter.conf" <<-EOF
	model = "$1";
	skip: { trusted_networks = []; };
	metrics: { listen = "127.0.0.1:$mport"; };
	memory: { file = "$T/memory.bin"; spool = "$2"; capacity = $3;
	          scan_interval = 0.2; };
	EOF
}
# start: the milter on $T/milter.sock, log in $T/milter.log
start() {
	: > "$T/milter.log"
	"$GPTMILTER" -f -c "$T/gptmilter.conf" -p "unix:$T/milter.sock" \
		>> "$T/milter.log" 2>&1 &
	mpid=$!
	wait_log 'listening on' || die "milter did not start: $(cat "$T/milter.log")"
}
# stop: SIGTERM; the milter must exit 0 (a sanitizer build: no report)
stop() {
	kill "$mpid"
	wait "$mpid" || fail "the milter exited with status $?: $(tail -n 20 "$T/milter.log")"
	mpid=
}
# wait_log TEXT: up to 30 s for TEXT (fixed) in the milter's log
wait_log() {
	i=0
	while [ $i -lt 300 ]; do
		grep -qF -- "$1" "$T/milter.log" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
# score NAME FILE WANT REASON: one message through miltertest
score() {
	(cd "$T" && MEM_MSG=$2 MEM_WANT=$3 MEM_REASON=$4 \
		miltertest -s "$MT_DIR/memory.lua") > "$T/mt-$1.log" 2>&1 ||
		{ fail "$1: $(cat "$T/mt-$1.log")"; return 1; }
	ok "$1: $(grep -o 'X-Spam-Status: .*' "$T/mt-$1.log")"
}
metric() {
	$PYTHON3 -c 'import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1]).read().decode())' "$mport"
}

# 1. before any report: the model alone lets the newsletter through
conf "$MODEL" "$T/spool" 4096
start
wait_log 'memory: '"$T"'/memory.bin does not exist yet: starting empty' ||
	fail "no log line for a missing store: $(cat "$T/milter.log")"
score before "$D/newsletter-2.eml" No none

# 2. a user moves the first variant into Junk
$PYTHON3 - "$port" "$D/newsletter-1.eml" > "$T/imap.log" 2>&1 <<'PY' || fail "IMAP client failed: $(cat "$T/imap.log")"
import imaplib, sys
im = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
im.login("alice", "wonderland")
msg = open(sys.argv[2], "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
typ, _ = im.append("INBOX", None, None, msg)
assert typ == "OK", typ
im.select("INBOX")
typ, data = im.uid("SEARCH", None, "HEADER", "Subject", '"SiteBuilder newsletter"')
assert typ == "OK" and data[0].split(), data
typ, data = im.uid("MOVE", data[0].split()[0].decode(), "Junk")
assert typ == "OK", (typ, data)
print("moved to Junk")
im.logout()
PY
[ "$(find "$T/spool/spam/new" -type f | wc -l)" = 1 ] || fail "no spam report in the spool"
wait_log 'memory: 1 new report(s) remembered' ||
	fail "report not remembered: $(cat "$T/milter.log")"
grep -F 'memory: 1 new report(s) remembered' "$T/milter.log"

# 3. the next variant is caught, the unrelated message keeps the model's
# own verdict (No below policy.unsure_low 0.2, Unsure below the model's
# threshold, else Yes)
CLASSIFY=$B/src/classify/gptmilter-classify
conf_alone=$("$CLASSIFY" -m "$MODEL" "$D/conference.eml" 2>&1)
conf_want=$($PYTHON3 -c 'import sys
s = float(sys.argv[1].split("\t")[-1])
print("No" if s < 0.2 else "Unsure" if s < 0.5 else "Yes")' "$conf_alone") ||
	fail "conference.eml by the model alone: $conf_alone"
score after "$D/newsletter-2.eml" Yes spam
s=$(sed -n 's/.*Yes, score=\([0-9.]*\) .*/\1/p' "$T/mt-after.log")
$PYTHON3 -c 'import sys; sys.exit(float(sys.argv[1]) < 0.98)' "${s:-0}" ||
	fail "score after the report: $s, want >= 0.98 (memory.spam_score)"
score unrelated "$D/conference.eml" "$conf_want" none
grep -q ' memory=spam:0\.9[0-9]*$' "$T/milter.log" ||
	fail "no memory= field in the log line: $(cat "$T/milter.log")"
m=$(metric)
echo "$m" | grep -qx 'gptmilter_memory_hits_total{label="spam"} 1' ||
	fail "metrics: spam hits: $(echo "$m" | grep memory)"
echo "$m" | grep -qx 'gptmilter_memory_entries 1' ||
	fail "metrics: entries: $(echo "$m" | grep memory)"
[ -s "$T/memory.bin" ] || fail "memory.bin not written"
stop
# gptmilter-classify --memory shows the milter's verdict and reason
out=$("$CLASSIFY" -m "$MODEL" --memory "$T/memory.bin" "$D/newsletter-2.eml" \
	"$D/conference.eml" 2>&1)
printf '%s\n' "$out"
mreason=$(sed -n 's/.* memory=\(spam:[0-9.]*\)$/\1/p' "$T/mt-after.log")
echo "$out" | grep -qx "$D/newsletter-2.eml	spam memory=$mreason	0.9800" ||
	fail "classify --memory: not the milter's verdict (memory=$mreason): $out"
echo "$out" | grep -qxF "$conf_alone" ||
	fail "classify --memory: the unrelated message changed: $out"
ls "$T" | grep -q '\.tmp' && fail "a temp file left beside memory.bin"

# 4. a restart reads the store back
start
wait_log "memory: $T/memory.bin: 1 reports (1 spam, 0 ham)" ||
	fail "store not read back: $(cat "$T/milter.log")"
score restarted "$D/newsletter-2.eml" Yes spam
stop

# 5. corrupt: a flipped byte; rebuilt from the spool
corrupt() {
	$PYTHON3 -c 'import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[-3] ^= 0x40
open(p, "wb").write(b)' "$T/memory.bin"
}
corrupt
out=$("$CLASSIFY" -m "$MODEL" --memory "$T/memory.bin" "$D/newsletter-2.eml" 2>&1)
alone=$("$CLASSIFY" -m "$MODEL" "$D/newsletter-2.eml" 2>&1)
case $out in *"memory: $T/memory.bin: not a valid memory file: checksum mismatch: not consulted"*"$alone"*) ;;
	*) fail "classify with a corrupt store: $out";; esac
start
wait_log 'not a valid memory file: checksum mismatch: starting empty and rebuilding it from the reports of' ||
	fail "corrupt store: no log line: $(cat "$T/milter.log")"
wait_log 'memory: 1 new report(s) remembered' || fail "corrupt store not rebuilt"
score rebuilt "$D/newsletter-2.eml" Yes spam
stop

# 6. corrupt and no spool: scored by the model alone
corrupt
conf "$MODEL" "$T/no-spool" 4096
start
wait_log 'not a valid memory file: checksum mismatch' ||
	fail "corrupt store without spool: no log line"
wait_log "memory: $T/no-spool: spool not found" ||
	fail "missing spool: no log line: $(cat "$T/milter.log")"
score no-spool "$D/newsletter-2.eml" No none
stop

# 7. another model's store: rebuilt for the running model
"$PYTHON3" "$top_srcdir/tests/gen_tiny_model.py" --out "$T/tiny" --layers 1 \
	--heads 2 --embd 16 --ctx 64 --labels ham,spam --seed 7 > /dev/null ||
	die "cannot make a tiny model"
conf "$T/tiny" "$T/spool" 4096
start
wait_log 'memory: 1 new report(s) remembered' || fail "tiny model: not rebuilt"
stop
conf "$MODEL" "$T/spool" 4096
start
wait_log 'vectors of another model' ||
	fail "foreign store: no log line: $(cat "$T/milter.log")"
wait_log 'the model changed: rebuilding it from the reports of' ||
	fail "foreign store: not said why"
wait_log 'memory: 1 new report(s) remembered' || fail "foreign store not rebuilt"
score foreign "$D/newsletter-2.eml" Yes spam
stop

# 8. full: capacity 1, a newer ham report evicts the spam one
conf "$MODEL" "$T/spool" 1
sleep 1	# a later second in the report's name than the spam report's
GPTMILTER_SPOOL=$T/spool sh "$B/src/feedback/gptmilter-report" --ham \
	< "$D/conference.eml" || fail "cannot file a ham report"
start
wait_log 'memory: full (memory.capacity 1): the 1 oldest report(s) evicted' ||
	fail "full store: no log line: $(cat "$T/milter.log")"
score evicted "$D/newsletter-2.eml" No none
score ham "$D/conference.eml" No ham
m=$(metric)
echo "$m" | grep -qx 'gptmilter_memory_hits_total{label="ham"} 1' ||
	fail "metrics: ham hits: $(echo "$m" | grep memory)"
echo "$m" | grep -qx 'gptmilter_memory_capacity 1' ||
	fail "metrics: capacity: $(echo "$m" | grep memory)"
stop

if [ $fails != 0 ]; then
	echo "--- milter log:"
	cat "$T/milter.log"
fi
finish test_memory_milter
