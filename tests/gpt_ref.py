#!/usr/bin/python3
"""
gpt_ref.py - an independent numpy forward pass of a GPT-2 classifier bundle

Owns: the reference that the C forward pass (src/core/gpt.c, layers.c) and
the programs built on it are checked against. It shares no code with them:
its own safetensors reader (F32/F16/BF16 decoded by numpy), its own reading
of config.json, and the forward pass written the plain way, one sequence at
a time with full (T, T) attention and a mask, in float64.

    import gpt_ref
    ref = gpt_ref.load("model_dir")
    logits = gpt_ref.classify(ref, [15496, 11, 995])   # (NL,)
    h = gpt_ref.hidden(ref, ids)                        # (C,) after ln_f, pooled

CLI: gpt_ref.py MODEL_DIR IDS_FILE [--hidden]
prints one line per sequence of IDS_FILE (ids separated by spaces):
"ref B v0 v1 ...", the logits (or with --hidden the pooled hidden state).
"""

import json
import os
import struct
import sys

import numpy as np


def read_safetensors(path):
    """name -> float64 array, for every F32/F16/BF16 tensor of PATH."""
    with open(path, "rb") as f:
        data = f.read()
    (hlen,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + hlen].decode("utf-8"))
    base = 8 + hlen
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        raw = data[base + begin:base + end]
        shape = tuple(e["shape"])
        dt = e["dtype"]
        if dt == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif dt == "F16":
            a = np.frombuffer(raw, dtype="<f2")
        elif dt == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            a = bits.view(np.float32)
        else:
            continue            # attention-mask buffers (BOOL, U8)
        out[name] = a.astype(np.float64).reshape(shape)
    return out


class Ref:
    pass


def load(model_dir):
    """The config and weights of MODEL_DIR (a Hugging Face GPT-2 bundle)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    r = Ref()
    r.L = cfg["n_layer"]
    r.NH = cfg["n_head"]
    r.C = cfg["n_embd"]
    r.eps = cfg.get("layer_norm_epsilon", 1e-5)
    g = cfg.get("gptmilter") or {}
    r.pooling = g.get("pooling", "last")

    def get(name):
        if "transformer." + name in w:
            return w["transformer." + name]
        return w[name]

    r.wte, r.wpe = get("wte.weight"), get("wpe.weight")
    r.layers = []
    for l in range(r.L):
        p = "h.%d." % l
        r.layers.append({k: get(p + k) for k in (
            "ln_1.weight", "ln_1.bias", "attn.c_attn.weight",
            "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
            "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
            "mlp.c_proj.weight", "mlp.c_proj.bias")})
    r.ln_f_w, r.ln_f_b = get("ln_f.weight"), get("ln_f.bias")
    r.score_w = w.get("score.weight", w.get("transformer.score.weight"))
    r.score_b = w.get("score.bias", w.get("transformer.score.bias"))
    if r.score_w is not None and "id2label" in cfg:
        assert r.score_w.shape[0] == len(cfg["id2label"])
    return r


def layernorm(x, w, b, eps):
    m = x.mean(axis=-1, keepdims=True)
    v = ((x - m) ** 2).mean(axis=-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def block(r, p, x):
    T, C = x.shape
    hs = C // r.NH
    h = layernorm(x, p["ln_1.weight"], p["ln_1.bias"], r.eps)
    qkv = h @ p["attn.c_attn.weight"] + p["attn.c_attn.bias"]
    q, k, v = np.split(qkv, 3, axis=1)
    q = q.reshape(T, r.NH, hs).transpose(1, 0, 2)
    k = k.reshape(T, r.NH, hs).transpose(1, 0, 2)
    v = v.reshape(T, r.NH, hs).transpose(1, 0, 2)
    att = q @ k.transpose(0, 2, 1) / np.sqrt(hs)          # (NH, T, T)
    mask = np.tril(np.ones((T, T), dtype=bool))
    att = np.where(mask, att, -np.inf)
    att = np.exp(att - att.max(axis=-1, keepdims=True))
    att = att / att.sum(axis=-1, keepdims=True)
    y = (att @ v).transpose(1, 0, 2).reshape(T, C)
    x = x + y @ p["attn.c_proj.weight"] + p["attn.c_proj.bias"]
    h = layernorm(x, p["ln_2.weight"], p["ln_2.bias"], r.eps)
    h = gelu(h @ p["mlp.c_fc.weight"] + p["mlp.c_fc.bias"])
    return x + h @ p["mlp.c_proj.weight"] + p["mlp.c_proj.bias"]


def hidden(r, ids):
    """The pooled final hidden state (C,) after ln_f, of one sequence."""
    ids = np.asarray(ids, dtype=np.int64)
    T = len(ids)
    assert 1 <= T <= r.wpe.shape[0]
    x = r.wte[ids] + r.wpe[:T]
    for p in r.layers:
        x = block(r, p, x)
    x = layernorm(x, r.ln_f_w, r.ln_f_b, r.eps)
    return x.mean(axis=0) if r.pooling == "mean" else x[-1]


def classify(r, ids):
    """The logits (NL,) of one sequence."""
    h = hidden(r, ids)
    logits = r.score_w @ h
    if r.score_b is not None:
        logits = logits + r.score_b
    return logits


def main():
    args = [a for a in sys.argv[1:] if a != "--hidden"]
    want_hidden = "--hidden" in sys.argv[1:]
    if len(args) != 2:
        sys.exit("usage: gpt_ref.py MODEL_DIR IDS_FILE [--hidden]")
    r = load(args[0])
    b = 0
    for line in open(args[1]):
        ids = [int(t) for t in line.split()]
        if not ids:
            continue
        v = hidden(r, ids) if want_hidden else classify(r, ids)
        print("ref %d %s" % (b, " ".join("%.9g" % x for x in v)))
        b += 1


if __name__ == "__main__":
    main()
