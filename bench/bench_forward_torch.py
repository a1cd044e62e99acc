#!/usr/bin/python3
"""
bench_forward_torch.py - PyTorch's speed on the forward of bench_forward.c

Owns: the PyTorch side of bench/bench_forward.sh. The same model shape
(GPT-2 124M: L=12, C=768, NH=12, V=50257, n_ctx=1024, a 2-label `score`
head on the last token), random fp32 weights, messages of --tokens tokens,
1 and 8 messages per call, torch.set_num_threads(--threads) (the threads of
torch's own kernels; its matrix products go to OpenBLAS, whose threads are
OPENBLAS_NUM_THREADS, set by bench_forward.sh). Written the
way Hugging Face's GPT2ForSequenceClassification computes it (Conv1D as
addmm, masked softmax attention, tanh GELU), with no dependency beyond
torch (Debian's python3-torch 1.13: no scaled_dot_product_attention).

Configurations, each timed (best of --reps runs):
    no_grad         eager, torch.no_grad()
    inference       eager, torch.inference_mode()
    jit             torch.jit.trace + torch.jit.freeze, inference_mode
    *+last          the same with the last block computed for the last
                    token only after its attention (what gpt.c does)
Prints one line per configuration and batch size: messages/s, ms/call.
Usage: bench_forward_torch.py [--tokens 256] [--threads 2] [--reps 3]
                              [--configs no_grad,inference,...] [--label X]
"""

import argparse
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, C, NH, ctx):
        super().__init__()
        self.NH = NH
        self.ln_1 = nn.LayerNorm(C, eps=1e-5)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C, eps=1e-5)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)
        self.register_buffer("mask", torch.tril(torch.ones(ctx, ctx, dtype=torch.bool)))

    def forward(self, x, last: bool):
        B, T, C = x.shape
        hs = C // self.NH
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q = q.view(B, T, self.NH, hs).transpose(1, 2)
        k = k.view(B, T, self.NH, hs).transpose(1, 2)
        v = v.view(B, T, self.NH, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(~self.mask[:T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        if last:
            y = y[:, -1:]
            x = x[:, -1:]
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, L=12, C=768, NH=12, V=50257, ctx=1024, NL=2, last=False):
        super().__init__()
        self.last = last
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(ctx, C)
        self.h = nn.ModuleList([Block(C, NH, ctx) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C, eps=1e-5)
        self.score = nn.Linear(C, NL, bias=False)
        for p in self.parameters():
            nn.init.normal_(p, 0.0, 0.02)

    def forward(self, ids):
        B, T = ids.shape
        pos = torch.arange(T, device=ids.device)
        x = self.wte(ids) + self.wpe(pos)
        n = len(self.h)
        for i, blk in enumerate(self.h):
            x = blk(x, self.last and i == n - 1)
        x = self.ln_f(x)
        return self.score(x[:, -1])


def timeit(fn, reps):
    """Best seconds per call: REPS runs of enough calls for ~1 s each."""
    t = time.perf_counter()
    fn()                                 # warm up (and a first estimate)
    one = time.perf_counter() - t
    n = max(1, int(1.0 / max(one, 1e-3)))
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t) / n)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batch", default="1,8")
    ap.add_argument("--configs", default="inference,jit,jit+last")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    models = {False: GPT(last=False).eval(), True: GPT(last=True).eval()}
    models[True].load_state_dict(models[False].state_dict())
    print("torch %s, set_num_threads(%d), OPENBLAS_NUM_THREADS=%s, %d tokens "
          "per message%s" % (torch.__version__, torch.get_num_threads(),
                             os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
                             a.tokens, ", " + a.label if a.label else ""),
          flush=True)
    for B in [int(b) for b in a.batch.split(",")]:
        ids = torch.randint(0, 50257, (B, a.tokens))
        for cfg in a.configs.split(","):
            base, last = cfg.split("+")[0], cfg.endswith("+last")
            m = models[last]
            if base == "no_grad":
                def fn():
                    with torch.no_grad():
                        m(ids)
            elif base == "inference":
                def fn():
                    with torch.inference_mode():
                        m(ids)
            elif base == "jit":
                with torch.no_grad():
                    tm = torch.jit.freeze(torch.jit.trace(m, (ids,)))

                def fn():
                    with torch.inference_mode():
                        tm(ids)
            else:
                raise SystemExit("unknown config " + cfg)
            best = timeit(fn, a.reps)
            print("torch %-15s %-32s batch %d: %7.2f msgs/s %8.1f ms/call" %
                  (cfg, a.label, B, B / best, 1e3 * best), flush=True)


if __name__ == "__main__":
    main()
