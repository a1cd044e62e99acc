#!/bin/sh
# fetch-gpt2.sh - download real GPT-2 weights from Hugging Face, for users
# with internet access, into a directory gptmilter-train --base reads
# unchanged (config.json, model.safetensors, vocab.json, merges.txt).
# Owns: the model names and their Hugging Face repositories, and the
# download itself. Not here: training - it only prints the command.
#
# Usage: fetch-gpt2.sh [MODEL] [DIR]
#   MODEL  gpt2 (124M, default), gpt2-medium (355M), gpt2-large (774M),
#          gpt2-xl (1.5B) or distilgpt2 (82M)
#   DIR    where to put the files (default ./MODEL)
# Environment: HF_ENDPOINT (default https://huggingface.co): a mirror, or a
#   file:// URL (curl only), laid out as <endpoint>/<repo>/resolve/main/<file>.
#   GPTMILTER_TRAIN: the gptmilter-train named in the next-step hint (else
#   the one in PATH).
# Each file is fetched into DIR/.FILE.part and renamed into place when
# complete, so an interrupted run leaves no half file under the real name
# and a re-run fetches only what is missing. Needs curl (preferred) or wget.
# Exit status: 0 done, 1 a download failed, 2 usage.
# Checked by: tests/test_fetch_gpt2.sh (a file:// mirror of a tiny GPT-2).
set -eu

usage() {
	echo "usage: $0 [gpt2|gpt2-medium|gpt2-large|gpt2-xl|distilgpt2] [DIR]" >&2
	exit 2
}
[ $# -le 2 ] || usage
model=${1:-gpt2}
case "$model" in
gpt2 | gpt2-medium | gpt2-large | gpt2-xl) repo=openai-community/$model ;;
distilgpt2) repo=distilbert/distilgpt2 ;;
-h | --help) usage ;;
*) echo "$0: unknown model '$model'" >&2; usage ;;
esac
dir=${2:-./$model}
endpoint=${HF_ENDPOINT:-https://huggingface.co}
endpoint=${endpoint%/}

# get URL FILE: both show their progress (the weights run to 6 GB).
if command -v curl >/dev/null 2>&1; then
	get() { curl -fL --retry 3 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
	get() { wget --tries=3 -O "$2" "$1"; }
else
	echo "$0: needs curl or wget (apt-get install curl)" >&2
	exit 1
fi

mkdir -p "$dir"
# The weights last: the small files fail fast on a wrong endpoint.
for f in config.json vocab.json merges.txt model.safetensors; do
	[ -s "$dir/$f" ] && continue
	url="$endpoint/$repo/resolve/main/$f"
	echo "fetching $url" >&2
	if ! get "$url" "$dir/.$f.part" || [ ! -s "$dir/.$f.part" ]; then
		rm -f "$dir/.$f.part"
		echo "$0: cannot download $url" >&2
		exit 1
	fi
	mv -f "$dir/.$f.part" "$dir/$f"
done

train=${GPTMILTER_TRAIN:-}
[ -n "$train" ] || train=$(command -v gptmilter-train 2>/dev/null) || train=
echo "$model is in $dir. Fine-tune it with the recipe's defaults:" >&2
if [ -n "$train" ]; then
	echo "  $train finetune --base $dir --ham HAM --spam SPAM -o OUT" >&2
else
	echo "  gptmilter-train finetune --base $dir --ham HAM --spam SPAM -o OUT" >&2
	echo "(gptmilter-train is not in PATH: make install, or use" \
		"BUILDDIR/src/train/gptmilter-train)" >&2
fi
