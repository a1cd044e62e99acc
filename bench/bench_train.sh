#!/bin/sh
# bench_train.sh - training examples/s of the C trainer vs PyTorch (fp32,
# same threads) at the GPT-2 124M shape, batch 8 x 120 tokens, with the last
# block trainable (the recipe) and with full fine-tuning.
# Run from a build directory after `make bench/bench_train`:
#	sh ../bench/bench_train.sh [STEPS] [THREADS]
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the run.
steps=${1:-5}
threads=${2:-$(nproc)}
here=$(dirname "$0")
py=${PYTHON3:-/usr/bin/python3}
echo "bench_train: $(nproc) cores, $threads threads, $steps timed steps;" \
	"OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset"
for k in 1 all; do
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ./bench/bench_train \
		--trainable-blocks $k --steps "$steps" --threads "$threads"
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$py" \
		"$here/bench_train_torch.py" --trainable-blocks $k \
		--steps "$steps" --threads "$threads"
done
