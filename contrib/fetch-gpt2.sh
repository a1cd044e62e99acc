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
# and a re-run fetches only what is missing. The weights are renamed into
# place only if their SHA-256 and size match the Git LFS pointer the hub
# serves at <endpoint>/<repo>/raw/main/model.safetensors; a mirror without
# that pointer gets a warning that the weights are unchecked. Needs curl
# (preferred) or wget, and sha256sum.
# Exit status: 0 done, 1 a download failed or did not match, 2 usage.
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

# get URL FILE: both show their progress (the weights run to 6 GB);
# get_quiet URL FILE: the same without it, for the small LFS pointer.
if command -v curl >/dev/null 2>&1; then
	get() { curl -fL --retry 3 -o "$2" "$1"; }
	get_quiet() { curl -fsL --retry 3 --max-filesize 4096 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
	get() { wget --tries=3 -O "$2" "$1"; }
	get_quiet() { wget -q --tries=3 -O "$2" "$1"; }
else
	echo "$0: needs curl or wget (apt-get install curl)" >&2
	exit 1
fi

# check_weights PART: 0 if PART matches the LFS pointer of model.safetensors
# (or there is no pointer to check against: a warning), 1 if it does not.
check_weights() {
	pointer="$dir/.model.safetensors.lfs"
	pointer_url="$endpoint/$repo/raw/main/model.safetensors"
	want_sha='' want_size=''
	if get_quiet "$pointer_url" "$pointer" 2>/dev/null; then
		want_sha=$(sed -n 's/^oid sha256:\([0-9a-f]\{64\}\)$/\1/p' "$pointer")
		want_size=$(sed -n 's/^size \([0-9]\{1,\}\)$/\1/p' "$pointer")
	fi
	rm -f "$pointer"
	if [ -z "$want_sha" ] || [ -z "$want_size" ]; then
		echo "$0: warning: no Git LFS pointer at $pointer_url:" \
			"model.safetensors is not checked" >&2
		return 0
	fi
	size=$(wc -c < "$1" | tr -d ' ')
	sha=$(sha256sum < "$1" | cut -d' ' -f1)
	if [ "$size" != "$want_size" ] || [ "$sha" != "$want_sha" ]; then
		echo "$0: model.safetensors: SHA-256 $sha, $size bytes;" \
			"the hub's pointer says $want_sha, $want_size bytes" >&2
		return 1
	fi
	echo "model.safetensors: SHA-256 and size match the hub's" >&2
}

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
	if [ "$f" = model.safetensors ] && ! check_weights "$dir/.$f.part"; then
		rm -f "$dir/.$f.part"
		echo "$0: $url is not the file the hub lists; nothing kept" >&2
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
