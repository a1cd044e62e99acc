#!/bin/sh
# bench/bench_profile.sh - where the default model's time goes, and its
# speed beside spamprobe's, in one run (issue 19).
#
# Owns: the two message lists of the profile, both from the corpus's test
# split: every test message, and those whose text fills the model's
# max_tokens (each a full forward pass); spamprobe trained on the train
# split. Per repetition, side by side: spamprobe scoring the test split (one
# process, one core), then bench/bench_profile (gptmilter-classify with its
# stages timed, bench/bench_profile.c) on each list at THREADS threads. The
# last repetition's stage tables are printed; messages/s of every
# repetition and their ratios to spamprobe's.
#
# Usage: sh ../bench/bench_profile.sh [CORPUS_DIR]   (from a build directory;
#   CORPUS_DIR defaults to ./corpus: make corpus/index.tsv)
# Environment: MODEL (<srcdir>/models/default), DTYPE (f32, or int8: MODEL
#   quantized by gptmilter-train quantize and profiled in its place; TRAIN
#   names the program, ./src/train/gptmilter-train), THREADS (2), BATCH (8),
#   REPS (3), CLOCK (wall, or cpu: the stage tables in the CPU time of the
#   scoring threads, see bench/bench_profile.c), PROFILE (./bench/bench_profile: make bench/bench_profile),
#   BASE (another build's bench/bench_profile, e.g. of main: timed on both
#   lists in every repetition too, its tables printed after ours)
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
PROFILE=${PROFILE:-./bench/bench_profile}
MODEL=${MODEL:-$srcdir/models/default}
THREADS=${THREADS:-2}
BATCH=${BATCH:-8}
REPS=${REPS:-3}
corpus=${1:-./corpus}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export BENCH_PROFILE_THREADS="$THREADS" BENCH_PROFILE_CLOCK="${CLOCK:-wall}"
[ -f "$corpus/index.tsv" ] || { echo "$0: no $corpus/index.tsv" >&2; exit 1; }
[ -x "$PROFILE" ] || { echo "$0: make bench/bench_profile first" >&2; exit 1; }
command -v spamprobe > /dev/null || { echo "$0: no spamprobe" >&2; exit 1; }
. "$srcdir/bench/spamprobe.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-profile.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
case ${DTYPE:-f32} in
f32) ;;
int8)	"${TRAIN:-./src/train/gptmilter-train}" quantize -m "$MODEL" \
		-o "$tmp/int8" > /dev/null
	MODEL=$tmp/int8 ;;
*)	echo "$0: DTYPE is f32 or int8" >&2; exit 1 ;;
esac

awk -F'\t' -v d="$corpus" -v s="$tmp" 'NR > 1 {
	f = $4 == "test" ? s "/test" : $3 == "spam" ? s "/spam" : s "/ham"
	print d "/" $5 > f }' "$corpus/index.tsv"
max=$(sed -n 's/.*"max_tokens" *: *\([0-9]*\).*/\1/p' "$MODEL/config.json" |
	head -1)
xargs -d '\n' "$PROFILE" -m "$MODEL" --dump-tokens < "$tmp/test" 2>/dev/null |
	awk -F'\t' -v max="$max" 'split($2, a, " ") == max { print $1 }' \
	> "$tmp/full"
ntest=$(wc -l < "$tmp/test")
nfull=$(wc -l < "$tmp/full")
echo "model $MODEL (${DTYPE:-f32}); test split: $ntest messages, $nfull of $max tokens;" \
	"$THREADS threads, batch $BATCH; OPENBLAS_CORETYPE/L2_SIZE unset"
mkdir "$tmp/db"
# xargs says 123 when a spamprobe complained about a message
spamprobe_train "$tmp/db" "$tmp/spam" "$tmp/ham" 2>/dev/null || [ $? -le 123 ]

# secs CMD...: wall seconds of CMD (its output and stderr to $tmp/last.*)
secs() {
	t0=$(date +%s.%N)
	"$@" > "$tmp/last.out" 2> "$tmp/last.err" || [ $? -le 123 ]
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
profile() {
	xargs -d '\n' "$PROFILE" -m "$MODEL" -T "$THREADS" -b "$BATCH" < "$1"
}
base() {
	xargs -d '\n' "$BASE" -m "$MODEL" -T "$THREADS" -b "$BATCH" < "$1"
}
for r in $(seq "$REPS"); do
	sp=$(secs spamprobe_score "$tmp/db" "$tmp/test" "$tmp/sp.out")
	te=$(secs profile "$tmp/test")
	grep -v '^Corrupt JPEG' "$tmp/last.err" > "$tmp/test.table" || :
	fu=$(secs profile "$tmp/full")
	cp "$tmp/last.err" "$tmp/full.table"
	awk -v sp="$sp" -v te="$te" -v fu="$fu" -v nt="$ntest" -v nf="$nfull" '
	BEGIN { printf "rep %d: spamprobe %.1f msg/s (1 process); " \
		"classify test split %.1f msg/s (%.2fx spamprobe), " \
		"full-length %.1f msg/s\n", '"$r"', nt / sp, nt / te,
		(nt / te) / (nt / sp), nf / fu }'
	[ -n "${BASE:-}" ] || continue
	bte=$(secs base "$tmp/test")
	grep -v '^Corrupt JPEG' "$tmp/last.err" > "$tmp/base-test.table" || :
	bfu=$(secs base "$tmp/full")
	cp "$tmp/last.err" "$tmp/base-full.table"
	awk -v te="$te" -v fu="$fu" -v bte="$bte" -v bfu="$bfu" \
		-v nt="$ntest" -v nf="$nfull" 'BEGIN {
		printf "       BASE: test split %.1f msg/s, full-length %.1f " \
		"msg/s; ours / BASE: %.2fx, %.2fx\n", nt / bte, nf / bfu,
		bte / te, bfu / fu }'
done
echo
echo "== test split ($ntest messages), last repetition =="
cat "$tmp/test.table"
echo
echo "== full-length ($nfull messages), last repetition =="
cat "$tmp/full.table"
[ -n "${BASE:-}" ] || exit 0
echo
echo "== BASE $BASE: test split, last repetition =="
cat "$tmp/base-test.table"
echo
echo "== BASE: full-length, last repetition =="
cat "$tmp/base-full.table"
