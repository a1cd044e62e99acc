"""
gpt_torch.py - the one PyTorch GPT-2 of the tests and the benchmarks

Owns: the model written once in torch ops, with Hugging Face's parameter
names and layouts (Conv1D weights (in, out): y = x @ W + b; score.weight
(NL, C)), so that a bundle's tensors or train_step_dump's records load with
load_state_dict under their own names. Pre-LayerNorm blocks, causal
attention with a (T, T) mask, tanh GELU. Used by:
    tests/gpt_ref.py           the reference for the C forward pass (float64)
    tests/test_train_torch.py  one training step, autograd + AdamW (float64)
    bench/bench_forward_torch.py, bench/bench_train_torch.py (float32)

    m = GPT(L, NH, C, ctx, V, NL, bias=False, eps=1e-5, dtype=torch.float64)
    h = m.hidden(ids)               # (B, T, C) after ln_f; ids (B, T)
    logits = m(ids)                 # (B, NL), last position's hidden state
    logits = m(ids, last=idx)       # ... of position idx[b] of row b
    logits = m(ids, pooling="mean") # ... of the mean over T
    logits = m(ids, last_only=True) # the last block for the last token only
    lm = m.lm_logits(ids)           # (B, T, V), the tied embedding
NL = 0 makes a language model (no score head). Padding is the caller's:
causal attention lets position t see only 0..t, so pad after the end.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Conv1D(nn.Module):
    """Hugging Face's Conv1D: weight (nin, nout), y = x @ W + b"""

    def __init__(self, nin, nout, dtype):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(nin, nout, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(nout, dtype=dtype))
        nn.init.normal_(self.weight, 0.0, 0.02)

    def forward(self, x):
        return x @ self.weight + self.bias


class Attention(nn.Module):
    def __init__(self, C, NH, dtype):
        super().__init__()
        self.NH, self.hs = NH, C // NH
        self.c_attn = Conv1D(C, 3 * C, dtype)
        self.c_proj = Conv1D(C, C, dtype)

    def forward(self, x):
        """(B, T, C) -> (B, T, C), before c_proj"""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.NH, self.hs).transpose(1, 2)  # (B, NH, T, hs)
        k = k.view(B, T, self.NH, self.hs).transpose(1, 2)
        v = v.view(B, T, self.NH, self.hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(self.hs)  # (B, NH, T, T)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return (att @ v).transpose(1, 2).reshape(B, T, C)


class MLP(nn.Module):
    def __init__(self, C, dtype):
        super().__init__()
        self.c_fc = Conv1D(C, 4 * C, dtype)
        self.c_proj = Conv1D(4 * C, C, dtype)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, C, NH, eps, dtype):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C, eps=eps, dtype=dtype)
        self.attn = Attention(C, NH, dtype)
        self.ln_2 = nn.LayerNorm(C, eps=eps, dtype=dtype)
        self.mlp = MLP(C, dtype)

    def forward(self, x, last_only: bool = False):
        y = self.attn(self.ln_1(x))
        if last_only:
            # only the last position goes on (what gpt.c does in the last
            # block of a classifier pooling the last token)
            x, y = x[:, -1:], y[:, -1:]
        x = x + self.attn.c_proj(y)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, L, NH, C, ctx, V=50257, NL=2, bias=False, eps=1e-5,
                 dtype=torch.float32):
        super().__init__()
        self.wte = nn.Embedding(V, C, dtype=dtype)
        self.wpe = nn.Embedding(ctx, C, dtype=dtype)
        self.h = nn.ModuleList(Block(C, NH, eps, dtype) for _ in range(L))
        self.ln_f = nn.LayerNorm(C, eps=eps, dtype=dtype)
        self.score = nn.Linear(C, NL, bias=bias, dtype=dtype) if NL else None

    def hidden(self, ids, last_only: bool = False):
        """(B, T) ids -> (B, T, C) hidden states after ln_f ((B, 1, C) with
        LAST_ONLY)"""
        T = ids.shape[1]
        x = self.wte(ids) + self.wpe(torch.arange(T, device=ids.device))
        n = len(self.h)
        for i, blk in enumerate(self.h):
            x = blk(x, last_only and i == n - 1)
        return self.ln_f(x)

    def forward(self, ids, last=None, pooling: str = "last",
                last_only: bool = False):
        """(B, T) ids -> (B, NL) logits of the pooled hidden state"""
        h = self.hidden(ids, last_only)
        if pooling == "mean":
            pooled = h.mean(dim=1)
        elif last is None:
            pooled = h[:, -1]
        else:
            pooled = h[torch.arange(h.shape[0]), last]
        return self.score(pooled)

    def lm_logits(self, ids):
        """(B, T) ids -> (B, T, V): the next-token logits"""
        return self.hidden(ids) @ self.wte.weight.T
