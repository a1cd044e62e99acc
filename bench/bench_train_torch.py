#!/usr/bin/python3
"""
bench_train_torch.py - PyTorch counterpart of bench_train.c: the same GPT-2
shape, batch, trainable part and optimizer, fp32 on the CPU.

The model is tests/gpt_torch.py (pre-LayerNorm blocks, tanh GELU, causal
attention), its classification head on the last real token; random weights
and ids.
Usage: bench_train_torch.py [--layers 12 --heads 12 --embd 768 --ctx 1024]
       [--batch 8 --tokens 120] [--corpus-lengths FILE] [--max-tokens 256]
       [--trainable-blocks 1|all] [--steps 5] [--threads N]
--corpus-lengths: step i takes the next B token counts of FILE (one a line)
and pads the batch to its longest sequence, as the recipe's DataLoader does;
causal attention makes a mask needless: the head reads position len-1.
Batch 0 is untimed warm-up. GFLOP/s counts the same real-token FLOPs as
bench_train.c (see its header): padded positions are not useful work.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests"))
import gpt_torch  # noqa: E402


def flops_step(lens, L, k, C):
    """FLOPs of one step on the real tokens: see bench_train.c's header"""
    n = sum(lens)
    att = sum(t * (t + 1) for t in lens)
    fblk = 24.0 * n * C * C + 2.0 * C * att
    return (L - k) * fblk + 3.0 * k * fblk


def main():
    ap = argparse.ArgumentParser()
    for k, d in (("layers", 12), ("heads", 12), ("embd", 768), ("ctx", 1024),
                 ("batch", 8), ("tokens", 120), ("steps", 5), ("threads", 0)):
        ap.add_argument("--" + k, type=int, default=d)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--corpus-lengths")
    ap.add_argument("--trainable-blocks", default="1")
    a = ap.parse_args()
    threads = a.threads or os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    m = gpt_torch.GPT(a.layers, a.heads, a.embd, a.ctx)
    if a.trainable_blocks != "all":
        k = int(a.trainable_blocks)
        for p in m.parameters():
            p.requires_grad = False
        for mod in list(m.h[a.layers - k:]) + [m.ln_f, m.score]:
            for p in mod.parameters():
                p.requires_grad = True
    params = [p for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=5e-5, weight_decay=0.1)
    nb = a.steps + 1
    if a.corpus_lengths:
        with open(a.corpus_lengths) as f:
            lens = [min(max(int(w), 1), a.max_tokens) for w in f.read().split()]
        if len(lens) < nb * a.batch:
            raise SystemExit("bench_train_torch: too few lengths")
    else:
        lens = [a.tokens] * (nb * a.batch)
    batches = []  # (ids (B, Tmax) padded with 50256, last (B))
    for i in range(nb):
        ln = lens[i * a.batch:(i + 1) * a.batch]
        ids = torch.randint(0, 50257, (a.batch, max(ln)))
        for b, t in enumerate(ln):
            ids[b, t:] = 50256
        batches.append((ids, torch.tensor(ln) - 1, ln))
    kk = a.layers if a.trainable_blocks == "all" else int(a.trainable_blocks)
    flops = sum(flops_step(ln, a.layers, kk, a.embd) for _, _, ln in batches[1:])
    ntok = sum(sum(ln) for _, _, ln in batches[1:]) / a.steps
    npad = sum(x.numel() for x, _, _ in batches[1:]) / a.steps
    y = torch.arange(a.batch) % 2
    t0 = 0.0
    for i in range(nb):
        if i == 1:
            t0 = time.perf_counter()
        ids, last, _ = batches[i]
        opt.zero_grad()
        loss = F.cross_entropy(m(ids, last=last), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    dt = (time.perf_counter() - t0) / a.steps
    n = sum(p.numel() for p in params)
    if a.corpus_lengths:
        shape = ("B%d corpus-lengths (padded to batch max: %.0f real of %.0f "
                 "tokens/step)" % (a.batch, ntok, npad))
    else:
        shape = "B%dxT%d" % (a.batch, a.tokens)
    print("torch L%d C%d %s trainable=%s params=%d threads=%d: "
          "%.3f s/step %.2f ex/s %.1f GFLOP/s (loss %.3f)" % (
              a.layers, a.embd, shape, a.trainable_blocks, n, threads, dt,
              a.batch / dt, flops / a.steps / dt / 1e9, loss.item()))


if __name__ == "__main__":
    main()
