#!/usr/bin/python3
"""
gpt_ref.py - an independent forward pass of a GPT-2 classifier bundle

Owns: the reference that the C forward pass (src/core/gpt.c, layers.c) and
the programs built on it are checked against. It shares no code with them:
its own safetensors reader (F32/F16/BF16 decoded by numpy), its own reading
of config.json, and the forward pass of tests/gpt_torch.py (the tests' and
benchmarks' one PyTorch GPT-2), one sequence at a time with full (T, T)
attention and a mask, in float64.

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
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt_torch  # noqa: E402


def read_raw(path):
    """name -> (dtype, shape, raw bytes) of every tensor of PATH, in file
    order."""
    with open(path, "rb") as f:
        data = f.read()
    (hlen,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + hlen].decode("utf-8"))
    header.pop("__metadata__", None)
    base = 8 + hlen
    out = {}
    for name, e in sorted(header.items(),
                          key=lambda i: i[1]["data_offsets"][0]):
        begin, end = e["data_offsets"]
        out[name] = (e["dtype"], tuple(e["shape"]),
                     data[base + begin:base + end])
    return out


def read_safetensors(path):
    """name -> float64 array, for every F32/F16/BF16 tensor of PATH; an I8
    weight NAME times its NAME_scale (per output channel, the last axis)."""
    out = {}
    raw_all = read_raw(path)
    for name, (dt, shape, raw) in raw_all.items():
        if dt == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif dt == "F16":
            a = np.frombuffer(raw, dtype="<f2")
        elif dt == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            a = bits.view(np.float32)
        elif dt == "I8":
            a = np.frombuffer(raw, dtype="i1")
        else:
            continue            # attention-mask buffers (BOOL, U8)
        out[name] = a.astype(np.float64).reshape(shape)
    for name, (dt, _, _) in raw_all.items():
        if dt == "I8":
            out[name] = out[name] * out.pop(name + "_scale")
    return out


class Ref:
    pass


def load(model_dir):
    """The config and weights of MODEL_DIR (a Hugging Face GPT-2 bundle) in
    tests/gpt_torch.py's GPT, float64: Ref.model; Ref.wte, Ref.wpe and
    Ref.pooling for the callers."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    # drop the "transformer." prefix of some exports
    w = {n[len("transformer."):] if n.startswith("transformer.") else n: a
         for n, a in w.items()}
    r = Ref()
    g = cfg.get("gptmilter") or {}
    r.pooling = g.get("pooling", "last")
    r.wte, r.wpe = w["wte.weight"], w["wpe.weight"]
    score = w.get("score.weight")
    if score is not None and "id2label" in cfg:
        assert score.shape[0] == len(cfg["id2label"])
    r.model = gpt_torch.GPT(
        cfg["n_layer"], cfg["n_head"], cfg["n_embd"], r.wpe.shape[0],
        V=r.wte.shape[0], NL=0 if score is None else score.shape[0],
        bias="score.bias" in w, eps=cfg.get("layer_norm_epsilon", 1e-5),
        dtype=torch.float64)
    want = r.model.state_dict().keys()
    r.model.load_state_dict({n: torch.from_numpy(w[n]) for n in want})
    return r


def hidden(r, ids):
    """The pooled final hidden state (C,) after ln_f, of one sequence."""
    assert 1 <= len(ids) <= r.wpe.shape[0]
    with torch.no_grad():
        h = r.model.hidden(torch.tensor([ids], dtype=torch.long))[0]
    return (h.mean(dim=0) if r.pooling == "mean" else h[-1]).numpy()


def classify(r, ids):
    """The logits (NL,) of one sequence."""
    with torch.no_grad():
        return r.model.score(torch.from_numpy(hidden(r, ids))).numpy()


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
