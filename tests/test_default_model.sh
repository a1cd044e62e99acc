#!/bin/sh
# test_default_model.sh - the bundled default model (models/default) loads,
# gptmilter-classify reproduces on the test split of the standard corpus
# the accuracy and false-positive rate that the trainer recorded in its
# config.json (to within 0.1 points), at the shipped threshold, and the
# recorded figures meet the project's bars where the model meets them: at
# least 99.0% accuracy (issue 16's bar; issue 18's 99.3% is one message
# away for the text-layout-5 model, 9 errors in 1,153, and is that
# issue's, not yet met), a ROC AUC above spamprobe's 0.9992, a bundle of
# at most 40 MB. The test split's 790 ham cannot measure a false-positive bar
# of 0.25% (one message decides it; issue 16 retired that bar in favour of
# out-of-fold and cross-corpus figures, bench/RESULTS.md), so false
# positives are asserted as floors against regressions instead, at
# spamprobe's 0.38% on this split and 3 of the 51 hard-ham messages.
# Then issue 16's header shortcut, on a sample: every third test message
# read without its From, To, Cc, X-Mailer, User-Agent and text/plain
# Content-Type lines (bench/header_views.py) keeps its verdict in at least
# 99% of cases, the issue's bar (the layout-2 model shipped before kept
# 379 of 384; bench/bench_header_drop.sh measures all 1,153, and
# bench/RESULTS.md, "Text layout 5", has the figures).
set -u
: "${top_srcdir:?}" "${top_builddir:?}" "${PYTHON3:?}" "${CORPUS_DIR:?}"
CLASSIFY="$top_builddir/src/classify/gptmilter-classify"
MODEL="$top_srcdir/models/default"
. "$top_srcdir/tests/lib.sh"
workdir default-model

[ -f "$MODEL/config.json" ] || die "$MODEL/config.json missing"
[ -f "$CORPUS_DIR/index.tsv" ] || die "no corpus at $CORPUS_DIR"

# Score every message of the test split; labels come from index.tsv.
awk -F'\t' -v d="$CORPUS_DIR" '$4 == "test" { print d "/" $5 }' "$CORPUS_DIR/index.tsv" > "$tmp/files"
n=$(wc -l < "$tmp/files")
[ "$n" -gt 1000 ] || die "only $n test messages"
# The model's own figures: --script-min-ham 0, since its script record
# would make the one Han spam of the split unsure (a policy, not a score).
# shellcheck disable=SC2046
"$CLASSIFY" -m "$MODEL" --json -b 8 -T 1 --script-min-ham 0 $(cat "$tmp/files") > "$tmp/out.json"
rc=$?
[ $rc -le 1 ] || die "gptmilter-classify exit $rc"

"$PYTHON3" - "$MODEL/config.json" "$tmp/out.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
g = cfg["gptmilter"]
rec = g["metrics"]["test"]
# the milter's drift reference: the validation split's scores in ten bins
h = g["score_histogram"]
assert h["le"] == [i / 10 for i in range(1, 11)] and len(h["counts"]) == 10, h
assert sum(h["counts"]) == g["metrics"]["validation"]["n"], (h, g["metrics"]["validation"]["n"])
thr = g["threshold"]
tp = fp = tn = fn = 0
hard_fp = hard_n = 0
for line in open(sys.argv[2]):
    o = json.loads(line)
    assert "error" not in o, o
    assert abs(o["threshold"] - thr) < 1e-6, (o["threshold"], thr)
    spam_true = "/spam/" in o["file"]
    spam_pred = o["label"] == "spam"
    assert spam_pred == (o["spam_probability"] >= thr)
    tp += spam_true and spam_pred
    fn += spam_true and not spam_pred
    fp += (not spam_true) and spam_pred
    tn += (not spam_true) and not spam_pred
    if "/hard-ham-1/" in o["file"]:
        hard_n += 1
        hard_fp += spam_pred
n = tp + fp + tn + fn
acc = (tp + tn) / n
fpr = fp / (fp + tn)
print("test split: n=%d accuracy=%.4f (recorded %.4f) fpr=%.5f (recorded %.5f) "
      "hard-ham fpr=%.4f (%d of %d) at threshold %.4f" %
      (n, acc, rec["accuracy"], fpr, rec["fpr"], hard_fp / max(hard_n, 1),
       hard_fp, hard_n, thr))
assert n == rec["n"], (n, rec["n"])
assert abs(acc - rec["accuracy"]) <= 0.001, "accuracy differs from the record"
assert abs(fpr - rec["fpr"]) <= 0.001, "false-positive rate differs from the record"
hard = rec["sources"]["hard-ham-1"]
assert (hard["n"], hard["fp"]) == (hard_n, hard_fp), (hard, hard_n, hard_fp)
assert g["mailtext_version"] >= 1 and g["max_tokens"] >= 1
assert rec["accuracy"] >= 0.990, "recorded accuracy %.4f under 99.0%%" % rec["accuracy"]
assert rec["roc_auc"] > 0.9992, "recorded ROC AUC %.5f" % rec["roc_auc"]
# floors, not the issue's bars (0.25%, 3.9%): see the header
assert rec["fpr"] <= 0.0038, "recorded FPR %.5f over spamprobe's 0.38%%" % rec["fpr"]
assert hard["fp"] <= 3, "recorded hard-ham false positives %d of %d" % (hard["fp"], hard["n"])
PY
[ $? -eq 0 ] || exit 1

awk 'NR % 3 == 0' "$tmp/files" > "$tmp/sample"
mkdir "$tmp/bare"
xargs "$PYTHON3" "$top_srcdir/bench/header_views.py" "$tmp/bare" < "$tmp/sample" ||
	die "header_views.py"
# shellcheck disable=SC2046
"$CLASSIFY" -m "$MODEL" --json -b 8 -T 1 --script-min-ham 0 \
	$(sed "s|.*/|$tmp/bare/|" "$tmp/sample") > "$tmp/bare.json"
[ $? -le 1 ] || die "gptmilter-classify exit status on the bare views"
"$PYTHON3" - "$tmp/out.json" "$tmp/bare.json" <<'PY'
import json, os, sys
def verdicts(path):
    return {os.path.basename(o["file"]): o["label"]
            for o in map(json.loads, open(path))}
full, bare = verdicts(sys.argv[1]), verdicts(sys.argv[2])
assert bare and set(bare) <= set(full), "bare views not scored"
changed = sorted(k for k in bare if bare[k] != full[k])
print("header lines removed: %d of %d verdicts unchanged (%.2f%%); changed: %s"
      % (len(bare) - len(changed), len(bare),
         100 * (1 - len(changed) / len(bare)), " ".join(changed) or "none"))
assert len(changed) <= 0.01 * len(bare), "over 1% of verdicts change"
PY
[ $? -eq 0 ] || exit 1
size=$(cat "$MODEL"/* | wc -c)
echo "bundle: $size bytes"
[ "$size" -le 41943040 ] || die "bundle over 40 MB"
