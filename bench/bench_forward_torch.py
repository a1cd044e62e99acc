#!/usr/bin/python3
"""
bench_forward_torch.py - PyTorch's speed on the forward of bench_forward.c

Owns: the PyTorch side of bench/bench_forward.sh. The same model shape
(GPT-2 124M: L=12, C=768, NH=12, V=50257, n_ctx=1024, a 2-label `score`
head on the last token), random fp32 weights, messages of --tokens tokens,
1 and 8 messages per call, torch.set_num_threads(--threads) (the threads of
torch's own kernels; its matrix products go to OpenBLAS, whose threads are
OPENBLAS_NUM_THREADS, set by bench_forward.sh). The model is
tests/gpt_torch.py (Hugging Face's Conv1D layout, masked softmax attention,
tanh GELU), with no dependency beyond torch (Debian's python3-torch 1.13:
no scaled_dot_product_attention).

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
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests"))
import gpt_torch  # noqa: E402


class Last(nn.Module):
    """the model with its last block on the last token only (traceable)"""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, ids):
        return self.m(ids, last_only=True)


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
    m = gpt_torch.GPT(12, 12, 768, 1024).eval()
    for p in m.parameters():
        nn.init.normal_(p, 0.0, 0.02)
    models = {False: m, True: Last(m).eval()}
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
