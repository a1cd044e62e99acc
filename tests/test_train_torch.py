#!/usr/bin/python3
"""
test_train_torch.py - one training step in C against a PyTorch reference

Owns: the end-to-end check of training (gpt_train.c, layers_backward.c,
optim.c's adamw_step). tests/train_step_dump builds a tiny GPT-2 with random
weights, runs one step (loss, every gradient, one AdamW update with lr 1e-3,
betas 0.9/0.999, eps 1e-8, weight decay 0.1) and writes everything out; this
script recomputes the same step with tests/gpt_torch.py (the tests' one
PyTorch GPT-2, Hugging Face names and layouts) in float64, one sequence at
a time (no packing), with torch.autograd and torch.optim.AdamW, and compares:
loss, logits, every gradient, every updated weight (frozen ones unchanged).

Cases: last-token and mean-pooled classifiers and the language model, each
with some blocks trainable and with everything trainable; then the same on a
Hugging Face bundle from tests/gen_tiny_model.py loaded with GPT_LOAD_OWNED.
Exit status: 0 pass, 1 fail, 77 (skip) when torch is missing.
"""

import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    print("SKIP: test_train_torch.py needs numpy and torch (%s)" % e)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt_torch  # noqa: E402

TOL = 1e-4


def read_dump(path):
    """The records of train_step_dump as {name: numpy array}."""
    recs = {}
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while off < len(data):
        (nlen,) = struct.unpack_from("<I", data, off)
        off += 4
        name = data[off:off + nlen].decode()
        off += nlen
        kind, ndim = struct.unpack_from("<II", data, off)
        off += 8
        dims = struct.unpack_from("<%dI" % ndim, data, off)
        off += 4 * ndim
        n = int(np.prod(dims)) if ndim else 1
        dt = "<f4" if kind == 0 else "<i4"
        recs[name] = np.frombuffer(data, dtype=dt, count=n,
                                   offset=off).reshape(dims).copy()
        off += 4 * n
    return recs


def reference(d):
    """(loss, logits or None, grads {name: array}, new {name: array})."""
    c = d["config"]
    cfg = dict(L=int(c[0]), NH=int(c[1]), C=int(c[2]), ctx=int(c[3]),
               V=int(c[4]), NL=int(c[5]), pooling=int(c[6]), k=int(c[7]),
               lm=bool(c[9]))
    lr, b1, b2, eps, wd = [float(v) for v in d["hyper"]]
    names = [n[len("param/"):] for n in d if n.startswith("param/")]
    m = gpt_torch.GPT(cfg["L"], cfg["NH"], cfg["C"], cfg["ctx"], V=cfg["V"],
                      NL=cfg["NL"] if "score.weight" in names else 0,
                      bias="score.bias" in names, dtype=torch.float64)
    m.load_state_dict({n: torch.tensor(d["param/" + n], dtype=torch.float64)
                       for n in names})
    P = dict(m.named_parameters())
    k, L = cfg["k"], cfg["L"]

    def trainable(n):
        if k < 0:
            return True
        if n.startswith("h."):
            return int(n.split(".")[1]) >= L - k
        return n.startswith("ln_f.") or n.startswith("score.")

    train = [n for n in names if trainable(n)]
    for n in names:
        P[n].requires_grad_(n in train)

    ids, lens = d["ids"].tolist(), d["lens"].tolist()
    seqs, off = [], 0
    for T in lens:
        seqs.append(torch.tensor([ids[off:off + T]], dtype=torch.long))
        off += T
    B = len(lens)
    logits = None
    if not cfg["lm"]:
        # one sequence at a time: no padding
        pooling = "mean" if cfg["pooling"] else "last"
        logits = torch.cat([m(s, pooling=pooling) for s in seqs])
        y = torch.as_tensor(d["labels"], dtype=torch.long)
        w = torch.tensor(d["class_weights"], dtype=torch.float64)
        ce = F.cross_entropy(logits, y, reduction="none")
        loss = (w[y] * ce).sum() / B
    else:
        total, npred = 0.0, 0
        for s in seqs:
            T = s.shape[1]
            if T < 2:
                continue
            lg = m.lm_logits(s)[0, :-1]
            total = total + F.cross_entropy(lg, s[0, 1:], reduction="sum")
            npred += T - 1
        loss = total / npred
    loss.backward()
    for n in train:
        # a head the language model does not use: zero gradient, so that
        # AdamW still decays it, as the flat C update does
        if P[n].grad is None:
            P[n].grad = torch.zeros_like(P[n])
    grads = {n: P[n].grad.numpy().copy() for n in train}
    opt = torch.optim.AdamW([P[n] for n in train], lr=lr, betas=(b1, b2),
                            eps=eps, weight_decay=wd)
    opt.step()
    new = {n: P[n].detach().numpy().copy() for n in names}
    return (loss.item(), None if logits is None else logits.detach().numpy(),
            grads, new, train)


def compare(case, what, got, ref, rel):
    """Max difference of GOT and REF within TOL (relative to the largest
    reference value when REL); returns True when it is."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        print("FAIL %s %s: shape %s, reference %s" % (case, what, got.shape,
                                                       ref.shape))
        return False
    diff = float(np.max(np.abs(got - ref))) if got.size else 0.0
    scale = float(np.max(np.abs(ref))) if rel and ref.size else 1.0
    err = diff / scale if scale > 0 else diff
    ok = err <= TOL
    if not ok or os.environ.get("VERBOSE"):
        print("%s %s %s: maxdiff %.3g%s" % ("ok  " if ok else "FAIL", case,
              what, diff, " (relative %.3g)" % err if rel else ""))
    return ok


def run_case(driver, tmp, mode, k, bundle=None):
    case = "%s k=%d%s" % (mode, k, " (bundle)" if bundle else "")
    out = os.path.join(tmp, "%s_%d%s.bin" % (mode, k, "b" if bundle else ""))
    subprocess.run([driver, mode, str(k), out] + ([bundle] if bundle else []),
                   check=True)
    d = read_dump(out)
    loss, logits, grads, new, train = reference(d)
    ok = compare(case, "loss", d["loss"][0], loss, False)
    if logits is not None:
        ok &= compare(case, "logits", d["logits"], logits, False)
    cgrads = {n[len("grad/"):] for n in d if n.startswith("grad/")}
    if cgrads != set(train):
        print("FAIL %s: C has gradients for %s, expected %s" %
              (case, sorted(cgrads), sorted(train)))
        ok = False
    for n in train:
        if "grad/" + n in d:
            ok &= compare(case, "grad " + n, d["grad/" + n], grads[n], True)
    lr, eps = float(d["hyper"][0]), float(d["hyper"][3])
    loose = 0
    for n in new:
        got, ref = d["new/" + n], new[n]
        if n in grads:
            # Adam's first step moves a weight by lr g / (|g| + eps): where
            # g is as small as C's rounding noise (the key bias of c_attn,
            # whose true gradient is 0: softmax ignores a shift common to
            # all scores), that ratio, even its sign, is noise. Only those
            # coordinates may differ, by up to 2 lr.
            gc, gr = d["grad/" + n].astype(np.float64), grads[n]
            ratio = np.abs(gc / (np.abs(gc) + eps) - gr / (np.abs(gr) + eps))
            tiny = ratio * lr > TOL / 2
            if tiny.any():
                loose += int(tiny.sum())
                worst = float(np.max(np.abs(got[tiny] - ref[tiny])))
                if worst > 2 * lr * (1 + 1e-3):
                    print("FAIL %s new %s: %g where the gradient vanishes"
                          % (case, n, worst))
                    ok = False
                got, ref = got[~tiny], ref[~tiny]
        ok &= compare(case, "new " + n, got, ref, False)
        if n not in train and not np.array_equal(d["new/" + n],
                                                 d["param/" + n]):
            print("FAIL %s: frozen %s changed" % (case, n))
            ok = False
    print("%s %s: loss %.6f (torch %.6f), %d trainable tensors of %d, "
          "%d update(s) left loose (gradient at noise level)" %
          ("ok  " if ok else "FAIL", case, d["loss"][0], loss, len(train),
           len(new), loose))
    return ok


def main():
    build = os.environ.get("top_builddir",
                           os.path.join(os.path.dirname(os.path.abspath(
                               __file__)), ".."))
    driver = os.path.join(build, "tests", "train_step_dump")
    if not os.access(driver, os.X_OK):
        print("FAIL: %s not built" % driver)
        return 1
    torch.set_num_threads(1)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for mode, k in (("last", 1), ("last", -1), ("mean", 0), ("mean", -1),
                        ("lm", 1), ("lm", -1)):
            ok &= run_case(driver, tmp, mode, k)
        # A Hugging Face bundle written by gen_tiny_model.py, loaded the
        # way the trainer loads GPT-2 (GPT_LOAD_OWNED), its head with a bias.
        src = os.environ.get("top_srcdir",
                             os.path.join(os.path.dirname(os.path.abspath(
                                 __file__)), ".."))
        bundle = os.path.join(tmp, "bundle")
        subprocess.run([sys.executable,
                        os.path.join(src, "tests", "gen_tiny_model.py"),
                        "--out", bundle, "--layers", "2", "--heads", "2",
                        "--embd", "16", "--ctx", "24", "--vocab", "97",
                        "--labels", "ham,spam", "--dtype", "f32", "--seed",
                        "4", "--bias"], check=True)
        for mode, k in (("last", 2), ("mean", 1), ("lm", -1)):
            ok &= run_case(driver, tmp, mode, k, bundle)
    print("all passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
