#!/bin/sh
# bench/bench_header_drop.sh - does a model's verdict depend on which header
# lines a message carries? (issue 16: >= 99% of test-split verdicts
# unchanged when From, To, Cc, X-Mailer, User-Agent and a text/plain
# Content-Type are removed).
#
# Owns: scoring every test-split message twice with gptmilter-classify, as
# it is and as bench/header_views.py's bare view, and counting how many
# verdicts change, at the model's threshold and at the sample
# configuration's reject threshold, with 95% Wilson intervals.
#
# Usage: bench/bench_header_drop.sh [CORPUS_DIR]    (from a build directory)
# Environment: CLASSIFY (./src/classify/gptmilter-classify), MODEL
#   (<srcdir>/models/default), REJECT (0.995, conf/gptmilter.conf's
#   reject_threshold), SPLIT (test), THREADS (2).
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
CLASSIFY=${CLASSIFY:-./src/classify/gptmilter-classify}
MODEL=${MODEL:-$srcdir/models/default}
REJECT=${REJECT:-0.995}
SPLIT=${SPLIT:-test}
THREADS=${THREADS:-2}
python=${PYTHON3:-/usr/bin/python3}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
# shellcheck source=bench/classify.sh
. "$srcdir/bench/classify.sh"

corpus=${1:-${CORPUS_DIR:-./corpus}}
[ -f "$corpus/index.tsv" ] || { echo "$0: no $corpus/index.tsv" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-hdr.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# index.tsv: checksum group label split path
awk -F'\t' -v d="$corpus" -v s="$SPLIT" 'NR > 1 && $4 == s {
	print d "/" $5 > "'"$tmp"'/files"; print $1 "\t" $3 > "'"$tmp"'/labels" }' \
	"$corpus/index.tsv"
mkdir "$tmp/bare"
xargs "$python" "$srcdir/bench/header_views.py" "$tmp/bare" < "$tmp/files"
sed "s|.*/|$tmp/bare/|" "$tmp/files" > "$tmp/bare-files"

score() {	# LIST OUT
	classify_list "$1" "$2" -m "$MODEL" -T "$THREADS" -t 0.5 ||
		{ echo "$0: $2: not one line per message" >&2; exit 1; }
}
score "$tmp/files" "$tmp/full.out"
score "$tmp/bare-files" "$tmp/bare.out"
threshold=$(sed -n 's/.*"threshold" *: *\([0-9.e-]*\).*/\1/p' "$MODEL/config.json" | head -1)
"$python" - "$tmp/labels" "$tmp/full.out" "$tmp/bare.out" "${threshold:-0.5}" "$REJECT" <<'PY'
import math, os, sys
labels = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[1]))
def scores(path):
    out = {}
    for line in open(path):
        f = line.split()
        out[os.path.basename(f[0]).split(".")[0]] = float(f[-1])
    return out
full, bare = scores(sys.argv[2]), scores(sys.argv[3])
def wilson(k, n, z=1.96):
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = (z / (1 + z * z / n)) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, c - h) * 100, min(1.0, c + h) * 100
n = len(full)
print(f"{n} messages ({sum(v == 'ham' for v in labels.values())} ham), scored full and bare")
for name, t in (("model threshold", float(sys.argv[4])), ("reject threshold", float(sys.argv[5]))):
    same = sum((full[k] >= t) == (bare[k] >= t) for k in full)
    up = [k for k in full if full[k] < t <= bare[k]]
    down = [k for k in full if bare[k] < t <= full[k]]
    lo, hi = wilson(same, n)
    hamup = sum(labels[k] == "ham" for k in up)
    print(f"  at {name} {t:g}: {same}/{n} verdicts unchanged ({100*same/n:.2f}%, "
          f"95% {lo:.2f}-{hi:.2f}%); {len(up)} cross up ({hamup} ham), "
          f"{len(down)} cross down")
mean_shift = sum(bare[k] - full[k] for k in full) / n
print(f"  mean score change bare - full: {mean_shift:+.4f}")
PY
