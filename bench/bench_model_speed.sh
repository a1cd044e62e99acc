#!/bin/sh
# bench/bench_model_speed.sh - how many messages/s a model classifies when
# every message fills its max tokens (the issue's speed bar for the default
# model: >= 100 messages/s on 2 cores).
#
# Owns: picking the corpus messages that fill the model's max_tokens (their
# text is cut there, so each costs a full forward pass) and timing
# gptmilter-classify on them end to end: file read, MIME to text,
# tokenizing, the forward passes, printing. Best of REPS runs.
#
# Usage: bench/bench_model_speed.sh [CORPUS_DIR]    (from a build directory)
#   CORPUS_DIR  exported corpus as for bench_accuracy.sh (default
#               $CORPUS_DIR, else /tmp/corpus, else ./corpus)
# Environment: CLASSIFY (./src/classify/gptmilter-classify), MODEL
#   (<srcdir>/models/default), THREADS (2), BATCH (8), REPS (3),
#   N (600 messages at most).
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
CLASSIFY=${CLASSIFY:-./src/classify/gptmilter-classify}
MODEL=${MODEL:-$srcdir/models/default}
THREADS=${THREADS:-2}
BATCH=${BATCH:-8}
REPS=${REPS:-3}
N=${N:-600}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE

corpus=${1:-${CORPUS_DIR:-}}
[ -n "$corpus" ] || { [ -f /tmp/corpus/index.tsv ] && corpus=/tmp/corpus; } ||
	corpus=./corpus
[ -f "$corpus/index.tsv" ] || { echo "$0: no $corpus/index.tsv" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-speed.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

max=$(sed -n 's/.*"max_tokens" *: *\([0-9]*\).*/\1/p' "$MODEL/config.json" |
	head -1)
[ -n "$max" ] || { echo "$0: no max_tokens in $MODEL/config.json" >&2; exit 1; }
awk -F'\t' -v d="$corpus" 'NR > 1 { print d "/" $5 }' "$corpus/index.tsv" \
	> "$tmp/all"
# --dump-tokens: "FILE<TAB>id id ...": keep the files that fill max_tokens.
xargs "$CLASSIFY" -m "$MODEL" --dump-tokens < "$tmp/all" |
	awk -F'\t' -v max="$max" -v n="$N" '
		split($2, a, " ") == max && c < n { print $1; c++ }' > "$tmp/full"
count=$(wc -l < "$tmp/full")
[ "$count" -gt 0 ] || { echo "$0: no message fills $max tokens" >&2; exit 1; }

best=
for r in $(seq "$REPS"); do
	t0=$(date +%s.%N)
	xargs "$CLASSIFY" -m "$MODEL" -T "$THREADS" -b "$BATCH" < "$tmp/full" \
		> /dev/null || [ $? -eq 123 ]	# xargs: some exited 1 (ham)
	t1=$(date +%s.%N)
	s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	best=$(awk -v a="$best" -v b="$s" 'BEGIN { print (a == "" || b < a) ? b : a }')
done
echo "model $MODEL: $count messages of $max tokens, $THREADS threads," \
	"batch $BATCH, OPENBLAS_CORETYPE/L2_SIZE unset, best of $REPS:"
awk -v n="$count" -v s="$best" 'BEGIN {
	printf "%.1f messages/s (%.3f s)\n", n / s, s }'
