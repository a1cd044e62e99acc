#!/bin/sh
# bench/bench_int8.sh - the default model in int8 against f32, in one run
#
# Owns: the end-to-end comparison of a model and its int8 form
# (gptmilter-train quantize) through gptmilter-classify on the same
# messages, the two alternating within every repetition:
#   speed: the test split and the messages that fill max_tokens (the
#     issue's two speed lists); per list and model the best wall time and
#     the best CPU time (user + system: on a machine shared with other work
#     it measures the classifier itself), and the ratios f32 / int8;
#   accuracy on the test split: errors and false positives of each at the
#     model's own threshold, the messages whose verdict changed (new false
#     positives named), and the largest |score difference| (the scores are
#     printed to 4 decimals).
#
# Usage: bench/bench_int8.sh [CORPUS_DIR]    (from a build directory)
#   CORPUS_DIR  exported corpus (default $CORPUS_DIR, else ./corpus)
# Environment: CLASSIFY, TRAIN (the build's programs), MODEL
#   (<srcdir>/models/default), THREADS (2), BATCH (8), REPS (3), N (600
#   full-length messages at most).
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
CLASSIFY=${CLASSIFY:-./src/classify/gptmilter-classify}
TRAIN=${TRAIN:-./src/train/gptmilter-train}
MODEL=${MODEL:-$srcdir/models/default}
THREADS=${THREADS:-2}
BATCH=${BATCH:-8}
REPS=${REPS:-3}
N=${N:-600}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
. "$srcdir/bench/classify.sh"

corpus=${1:-${CORPUS_DIR:-./corpus}}
[ -f "$corpus/index.tsv" ] || { echo "$0: no $corpus/index.tsv" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-int8.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$TRAIN" quantize -m "$MODEL" -o "$tmp/int8" > /dev/null
awk -F'\t' -v d="$corpus" 'NR > 1 && $4 == "test" { print d "/" $5 "\t" $3 }' \
	"$corpus/index.tsv" > "$tmp/labels"
cut -f1 "$tmp/labels" > "$tmp/test"
full_length_list "$corpus" "$MODEL" "$N" "$tmp/full"

echo "== bench_int8.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs:" \
	"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "   int8 kernel: $(grep -o -w -E 'avx512_vnni|avx_vnni|avx2' /proc/cpuinfo |
	sort -u | tr '\n' ' ')(flags); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   model $MODEL, $THREADS threads, batch $BATCH, best of $REPS"

# run LIST MODEL OUT - classify, appending "wall cpu" to OUT.times
run() {
	/usr/bin/time -f '%e %U %S' -o "$tmp/t" sh -c '
		. "$1"; shift; CLASSIFY=$1; shift
		classify_list "$@"' sh "$srcdir/bench/classify.sh" "$CLASSIFY" \
		"$1" "$3" -m "$2" -T "$THREADS" -b "$BATCH"
	awk '{ print $1, $2 + $3 }' "$tmp/t" >> "$3.times"
}

for list in test full; do
	for r in $(seq "$REPS"); do
		run "$tmp/$list" "$MODEL" "$tmp/$list.f32"
		run "$tmp/$list" "$tmp/int8" "$tmp/$list.int8"
	done
	n=$(wc -l < "$tmp/$list")
	for m in f32 int8; do
		sort -n "$tmp/$list.$m.times" | head -1 | awk -v n="$n" \
			-v l="$list" -v m="$m" '{ printf "%-5s %4d messages %-4s " \
			"wall %7.3f s %7.1f msg/s   CPU %7.3f s %7.1f msg/CPU-s\n",
			l, n, m, $1, n / $1, $2, n / $2 }'
	done > "$tmp/$list.lines"
	cat "$tmp/$list.lines"
	# the speed of int8 over f32's: msg/s and msg/CPU-s (fields 8, 13)
	awk '{ w[NR] = $8; c[NR] = $13 } END { printf "%-5s int8 / f32: " \
		"wall %.2fx, CPU %.2fx\n", "", w[2] / w[1], c[2] / c[1] }' \
		"$tmp/$list.lines"
done

echo "== test split accuracy at the model's threshold (the last run's output)"
paste "$tmp/labels" "$tmp/test.f32" "$tmp/test.int8" | awk -F'\t' '
	$1 != $3 || $1 != $6 { print "line mismatch: " $1; bad = 1; exit 1 }
	{
		lab = $2; v32 = $4 == "spam"; v8 = $7 == "spam"; spam = lab == "spam"
		n++; e32 += v32 != spam; e8 += v8 != spam
		fp32 += v32 && !spam; fp8 += v8 && !spam
		if (v8 && !spam && !v32) { newfp++; print "  new FP: " $1 }
		if (v8 != v32) flips++
		d = $5 - $8; d = d < 0 ? -d : d; if (d > dmax) { dmax = d; at = $1 }
	}
	END {
		if (bad) exit 1
		printf "  f32:  %d errors, accuracy %.2f%%, %d false positives\n",
			e32, 100 * (n - e32) / n, fp32
		printf "  int8: %d errors, accuracy %.2f%%, %d false positives\n",
			e8, 100 * (n - e8) / n, fp8
		printf "  %d verdicts changed, %d new false positives; max |score " \
			"difference| %.4f (%s)\n", flips, newfp, dmax, at
	}'
