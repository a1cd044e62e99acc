#!/bin/sh
# bench/bench_cross_corpus.sh - how a model does on mail from other
# sources than the one it was trained on (issues 16 and 18): ham of other
# lists, eras and languages, and modern phishing.
#
# Owns: scoring the messages of chosen splits of every source exported by
# contrib/corpora-export.py with gptmilter-classify, and the table: per
# source and label, the share scored at or above the model's threshold and
# the sample configuration's reject threshold (false positives for ham,
# recall for spam), with 95% Wilson intervals (bench_accuracy.py's).
#
# Usage: bench/bench_cross_corpus.sh CORPORA_DIR [SPLITS]   (from a build
#   directory; CORPORA_DIR from `contrib/corpora-export.py OUT`; SPLITS a
#   comma list, default val,test - the splits no training of ours reads)
# Environment: CLASSIFY (./src/classify/gptmilter-classify), MODEL
#   (<srcdir>/models/default), REJECT (0.995), THREADS (2), SCORES (keep the
#   per-message scores in this file).
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
CLASSIFY=${CLASSIFY:-./src/classify/gptmilter-classify}
MODEL=${MODEL:-$srcdir/models/default}
REJECT=${REJECT:-0.995}
THREADS=${THREADS:-2}
python=${PYTHON3:-/usr/bin/python3}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
# shellcheck source=bench/classify.sh
. "$srcdir/bench/classify.sh"

dir=${1:?usage: bench_cross_corpus.sh CORPORA_DIR [SPLITS]}
splits=${2:-val,test}
[ -f "$dir/index.tsv" ] || { echo "$0: no $dir/index.tsv" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-cross.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

awk -F'\t' -v d="$dir" -v s=",$splits," 'NR > 1 && index(s, "," $4 ",") {
	print d "/" $5 }' "$dir/index.tsv" > "$tmp/files"
classify_list "$tmp/files" "$tmp/scores" -m "$MODEL" -T "$THREADS" -t 0.5 ||
	{ echo "$0: gptmilter-classify did not score every message" >&2; exit 1; }
[ -z "${SCORES:-}" ] || cp "$tmp/scores" "$SCORES"
threshold=$(sed -n 's/.*"threshold" *: *\([0-9.e-]*\).*/\1/p' \
	"$MODEL/config.json" | head -1)
"$python" - "$dir/index.tsv" "$tmp/scores" "${threshold:-0.5}" "$REJECT" \
	"$srcdir/bench" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[5])
from bench_accuracy import wilson
index, scores, t, reject = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
meta = {}
for line in open(index):
    f = line.rstrip("\n").split("\t")
    meta[f[0]] = (f[1], f[2])
rows = {}
for line in open(scores):
    f = line.split()
    key = os.path.basename(f[0]).split(".")[0]
    rows.setdefault(meta[key], []).append(float(f[-1]))
print(f"model threshold {t:g}, reject threshold {reject:g}")
print(f"{'source':14} {'label':5} {'n':>6}  {'>= threshold (95% CI)':>28}  {'>= reject (95% CI)':>28}")
for (src, lab), v in sorted(rows.items()):
    n = len(v)
    cells = []
    for th in (t, reject):
        k = sum(s >= th for s in v)
        lo, hi = wilson(k, n)
        cells.append(f"{k:5d} {100*k/n:6.2f}% ({100*lo:5.2f}-{100*hi:6.2f}%)")
    print(f"{src:14} {lab:5} {n:6d}  {cells[0]:>28}  {cells[1]:>28}")
print("(ham: false positives; spam: caught)")
PY
