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

. "$srcdir/bench/classify.sh"
full_length_list "$corpus" "$MODEL" "$N" "$tmp/full" || exit 1
count=$(wc -l < "$tmp/full")
max=$_max	# full_length_list's: the model's max_tokens

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
