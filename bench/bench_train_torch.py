#!/usr/bin/python3
"""
bench_train_torch.py - PyTorch counterpart of bench_train.c: the same GPT-2
shape, batch, trainable part and optimizer, fp32 on the CPU.

A minimal GPT-2 written here (pre-LayerNorm blocks, tanh GELU, causal
attention, last-token classification head), random weights and ids.
Usage: bench_train_torch.py [--layers 12 --heads 12 --embd 768 --ctx 1024]
       [--batch 8 --tokens 120] [--trainable-blocks 1|all] [--steps 5]
       [--threads N]
"""
import argparse
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.NH = NH
        self.ln_1 = nn.LayerNorm(C, eps=1e-5)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C, eps=1e-5)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q = q.view(B, T, self.NH, C // self.NH).transpose(1, 2)
        k = k.view(B, T, self.NH, C // self.NH).transpose(1, 2)
        v = v.view(B, T, self.NH, C // self.NH).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.NH)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.c_proj(y)
        h = F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")
        return x + self.mlp_proj(h)


class GPT(nn.Module):
    def __init__(self, L, NH, C, ctx, V=50257, NL=2):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(ctx, C)
        self.h = nn.ModuleList(Block(C, NH) for _ in range(L))
        self.ln_f = nn.LayerNorm(C, eps=1e-5)
        self.score = nn.Linear(C, NL, bias=False)

    def forward(self, ids):
        B, T = ids.shape
        x = self.wte(ids) + self.wpe(torch.arange(T))
        for b in self.h:
            x = b(x)
        return self.score(self.ln_f(x)[:, -1, :])


def main():
    ap = argparse.ArgumentParser()
    for k, d in (("layers", 12), ("heads", 12), ("embd", 768), ("ctx", 1024),
                 ("batch", 8), ("tokens", 120), ("steps", 5), ("threads", 0)):
        ap.add_argument("--" + k, type=int, default=d)
    ap.add_argument("--trainable-blocks", default="1")
    a = ap.parse_args()
    threads = a.threads or os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    m = GPT(a.layers, a.heads, a.embd, a.ctx)
    if a.trainable_blocks != "all":
        k = int(a.trainable_blocks)
        for p in m.parameters():
            p.requires_grad = False
        for mod in list(m.h[a.layers - k:]) + [m.ln_f, m.score]:
            for p in mod.parameters():
                p.requires_grad = True
    params = [p for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=5e-5, weight_decay=0.1)
    ids = torch.randint(0, 50257, (a.batch, a.tokens))
    y = torch.arange(a.batch) % 2
    t0 = 0.0
    for i in range(a.steps + 1):
        if i == 1:
            t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(m(ids), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    dt = (time.perf_counter() - t0) / a.steps
    n = sum(p.numel() for p in params)
    print("torch L%d C%d B%dxT%d trainable=%s params=%d threads=%d: "
          "%.3f s/step %.2f ex/s (loss %.3f)" % (
              a.layers, a.embd, a.batch, a.tokens, a.trainable_blocks, n,
              threads, dt, a.batch / dt, loss.item()))


if __name__ == "__main__":
    main()
