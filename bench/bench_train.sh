#!/bin/sh
# bench_train.sh - training examples/s and GFLOP/s of the C trainer vs
# PyTorch (fp32, same threads) at the GPT-2 124M shape (random weights):
#  (a) batch 8 x 120 tokens, the last block trainable (the recipe) and full
#      fine-tuning;
#  (b) the recipe on real message lengths: step i takes the next 8 token
#      counts of the standard corpus's train split (cut to max_tokens 256, in
#      order of file name, i.e. of md5: a fixed shuffle); C runs them as a
#      ragged batch (no padding), PyTorch pads each batch to its longest
#      message as the recipe's DataLoader does.
# Each C line also gives OpenBLAS sgemm's GFLOP/s on (tokens/step, 768) x
# (768, 3072) measured in the same run; the FLOP count is in bench_train.c.
# Run from a build directory after
#	make bench/bench_train src/classify/gptmilter-classify
#	sh ../bench/bench_train.sh [STEPS] [THREADS]
# The token counts are written once to bench/train-lengths.txt by
# gptmilter-classify --dump-tokens with models/default (max_tokens 256) over
# $CORPUS_DIR/train (default /tmp/corpus; contrib/corpus-export.py makes it).
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the run.
steps=${1:-5}
threads=${2:-$(nproc)}
here=$(dirname "$0")
py=${PYTHON3:-/usr/bin/python3}
corpus=${CORPUS_DIR:-/tmp/corpus}
lengths=bench/train-lengths.txt
run() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@"; }

if [ ! -s "$lengths" ]; then
	ls "$corpus"/train/*/*/*.eml | awk -F/ '{ print $NF "\t" $0 }' |
	sort | cut -f2 |
	xargs ./src/classify/gptmilter-classify -m "$here/../models/default" \
		--dump-tokens |
	awk -F'\t' '{ n = split($2, a, " "); print (n > 256 ? 256 : n) }' \
		> "$lengths.tmp" && mv "$lengths.tmp" "$lengths" || exit 1
fi
echo "bench_train: $(nproc) cores, $threads threads, $steps timed steps;" \
	"OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset; load: $(uptime)"
echo "corpus lengths: $(awk '{ s += $1; c += $1 == 256 } END {
	printf "%d messages, mean %.1f tokens, %.0f%% at 256", NR, s / NR,
	100 * c / NR }' "$lengths")"
echo "(a) batch 8 x 120 tokens"
for k in 1 all; do
	run ./bench/bench_train --trainable-blocks $k --steps "$steps" \
		--threads "$threads"
	run "$py" "$here/bench_train_torch.py" --trainable-blocks $k \
		--steps "$steps" --threads "$threads"
done
echo "(b) batch 8, corpus lengths, last block trainable"
run ./bench/bench_train --corpus-lengths "$lengths" --max-tokens 256 \
	--trainable-blocks 1 --steps "$steps" --threads "$threads"
run "$py" "$here/bench_train_torch.py" --corpus-lengths "$lengths" \
	--max-tokens 256 --trainable-blocks 1 --steps "$steps" \
	--threads "$threads"
