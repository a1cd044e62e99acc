#!/usr/bin/python3
"""
test_gpt_forward.py - the C forward pass against the reference

Owns: the forward tests. For tiny random bundles written by
tests/gen_tiny_model.py (F32/F16/BF16, with and without the "transformer."
prefix and score.bias, last-token and mean pooling, a language model, old
exports with attention-mask buffers that leave the weights unaligned) it
runs tests/gpt_forward_dump (the C pass, batched and one sequence at a
time, zero-copy and owned) and compares with tests/gpt_ref.py:
    C vs reference      max |diff| <= 1e-4 * max |ref|
    batched vs single   max |diff| <= 1e-5 * max |ref|
    zero-copy vs owned  max |diff| <= 1e-6 * max |ref|
(a few cases with --no-simd: layers.c's plain C loops),
Then bad bundles must fail with an error naming the tensor, and
gpt_forward_dump --random checks random init and set_head.
Exit status: 0 if every check passed.
"""

import os
import random
import shutil
import subprocess
import sys

import numpy as np

top_srcdir = os.environ.get("top_srcdir",
                            os.path.join(os.path.dirname(__file__), ".."))
top_builddir = os.environ.get("top_builddir", ".")
sys.path.insert(0, os.path.join(top_srcdir, "tests"))
import gpt_ref  # noqa: E402

PY = os.environ.get("PYTHON3", sys.executable)
GEN = os.path.join(top_srcdir, "tests", "gen_tiny_model.py")
DUMP = os.path.join(top_builddir, "tests", "gpt_forward_dump")
TMP = os.path.join(top_builddir, "tests", "tmp", "gpt_forward.%d" % os.getpid())

failures = 0


def check(cond, what):
    global failures
    print("%s: %s" % ("ok" if cond else "FAIL", what))
    if not cond:
        failures += 1


def gen(name, *args):
    d = os.path.join(TMP, name)
    subprocess.run([PY, GEN, "--out", d] + list(args), check=True)
    return d


def run_dump(model, ids_path, *flags):
    p = subprocess.run([DUMP] + list(flags) + [model, ids_path],
                       capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def parse(out):
    info, rows = {}, {"batched": {}, "single": {}}
    for line in out.splitlines():
        w = line.split()
        if w[0] in rows:
            rows[w[0]][int(w[1])] = np.array([float(x) for x in w[2:]])
        else:
            info[w[0]] = int(w[1])
    B = len(rows["batched"])
    return info, [np.stack([rows[k][b] for b in range(B)]) for k in
                  ("batched", "single")]


def write_ids(name, seqs):
    path = os.path.join(TMP, name + ".ids")
    with open(path, "w") as f:
        for s in seqs:
            f.write(" ".join(str(i) for i in s) + "\n")
    return path


def sequences(rng, V, ctx, lens):
    seqs = [[rng.randrange(V) for _ in range(T)] for T in lens]
    # the extreme ids
    seqs[0][0] = V - 1
    seqs[-1][-1] = 0
    return seqs


def forward_case(name, gen_args, lens, hidden=False, expect_zero_copy=None,
                 expect_bias=None, no_simd=False):
    """One bundle: C against the reference, batched against single, both loads."""
    d = gen(name, *gen_args)
    ref = gpt_ref.load(d)
    V, ctx = ref.wte.shape[0], ref.wpe.shape[0]
    rng = random.Random(name)
    seqs = sequences(rng, V, ctx, [min(T, ctx) for T in lens])
    ids = write_ids(name, seqs)
    want = np.stack([gpt_ref.hidden(ref, s) if hidden else
                     gpt_ref.classify(ref, s) for s in seqs])
    scale = np.abs(want).max()
    flags = ["--hidden"] if hidden else []
    if no_simd:
        # the plain C loops of layers.c instead of the AVX2 ones
        flags.append("--no-simd")
    outs = {}
    for mode in ("zero-copy", "owned"):
        rc, out, err = run_dump(d, ids, *(flags + (["--owned"] if mode ==
                                                   "owned" else [])))
        if rc != 0:
            check(False, "%s (%s): gpt_forward_dump exit %d: %s" %
                  (name, mode, rc, err.strip()))
            return
        info, (batched, single) = parse(out)
        outs[mode] = batched
        e = np.abs(batched - want).max() / scale
        check(e <= 1e-4, "%s (%s): C vs reference, rel err %.2e" % (name, mode, e))
        e = np.abs(single - want).max() / scale
        check(e <= 1e-4, "%s (%s): C single vs reference, rel err %.2e" %
              (name, mode, e))
        e = np.abs(batched - single).max() / scale
        check(e <= 1e-5, "%s (%s): batched vs single, rel diff %.2e" %
              (name, mode, e))
        if no_simd:
            check(info["simd"] == 0, "%s: --no-simd runs the plain C loops" % name)
        if mode == "owned":
            check(info["zero-copy"] == 0, "%s: --owned copies" % name)
        elif expect_zero_copy is not None:
            check(info["zero-copy"] == int(expect_zero_copy),
                  "%s: zero-copy is %d" % (name, info["zero-copy"]))
        if expect_bias is not None:
            check(info["score_bias"] == int(expect_bias),
                  "%s: score_bias is %d" % (name, info["score_bias"]))
    e = np.abs(outs["zero-copy"] - outs["owned"]).max() / scale
    check(e <= 1e-6, "%s: zero-copy vs owned, rel diff %.2e" % (name, e))


def error_case(name, model, needles):
    ids = write_ids(name, [[1, 2, 3]])
    rc, out, err = run_dump(model, ids)
    ok = rc == 2 and all(n in err for n in needles)
    check(ok, "%s: load fails naming %s (exit %d: %s)" %
          (name, needles, rc, err.strip()))


def edit_config(src, dst, **changes):
    import json
    shutil.copytree(src, dst)
    p = os.path.join(dst, "config.json")
    with open(p) as f:
        cfg = json.load(f)
    cfg.update(changes)
    with open(p, "w") as f:
        json.dump(cfg, f)
    return dst


def main():
    if not os.access(DUMP, os.X_OK):
        sys.exit("test_gpt_forward.py: %s not built" % DUMP)
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    small = ["--layers", "2", "--heads", "2", "--embd", "32", "--ctx", "64",
             "--vocab", "1000"]
    lens = [1, 2, 64, 7, 33, 9]

    forward_case("f32", small + ["--dtype", "f32", "--seed", "1"], lens,
                 expect_zero_copy=True, expect_bias=False)
    forward_case("f32-noprefix-bias",
                 small + ["--dtype", "f32", "--seed", "2", "--no-prefix",
                          "--bias"], lens,
                 expect_zero_copy=True, expect_bias=True)
    forward_case("f16-bias", small + ["--dtype", "f16", "--seed", "3",
                                      "--bias"], lens,
                 expect_zero_copy=False, expect_bias=True)
    forward_case("bf16-mean", small + ["--dtype", "bf16", "--seed", "4",
                                       "--pooling", "mean"], lens,
                 expect_zero_copy=False)
    forward_case("f32-mean-bias-noprefix",
                 small + ["--seed", "5", "--pooling", "mean", "--bias",
                          "--no-prefix"], lens)
    # odd sizes: C = 36 (not a multiple of 8), 3 heads of 12, 3 labels,
    # ctx 33 with U8 mask buffers of 33*33 bytes: the F32 data after them
    # is not 4-byte aligned, so even a plain load must copy
    forward_case("odd-unaligned",
                 ["--layers", "3", "--heads", "3", "--embd", "36", "--ctx",
                  "33", "--vocab", "500", "--labels", "a,b,c", "--seed", "6",
                  "--hf-buffers", "U8", "--bias"], [1, 2, 33, 17, 8],
                 expect_zero_copy=False, expect_bias=True)
    forward_case("f32-buffers", small + ["--seed", "7", "--hf-buffers"],
                 lens)
    # sequences longer than the attention's query block (64 rows)
    forward_case("long", ["--layers", "2", "--heads", "2", "--embd", "32",
                          "--ctx", "200", "--vocab", "1000", "--seed", "12",
                          "--bias"], [200, 65, 1, 129, 64, 128])
    forward_case("long-mean", ["--layers", "1", "--heads", "4", "--embd",
                               "32", "--ctx", "150", "--vocab", "1000",
                               "--seed", "13", "--pooling", "mean"],
                 [150, 70, 3])
    forward_case("long-nosimd", ["--layers", "2", "--heads", "2", "--embd",
                                 "36", "--ctx", "100", "--vocab", "1000",
                                 "--seed", "14", "--bias"], [100, 65, 1, 9],
                 no_simd=True)
    forward_case("mean-nosimd", small + ["--seed", "15", "--pooling", "mean"],
                 lens, no_simd=True)
    # the default model's shape: heads of 32 (the fused attention on AVX2),
    # lengths around its blocks of 4 queries and 16 keys
    w128 = ["--layers", "2", "--heads", "4", "--embd", "128", "--ctx", "256",
            "--vocab", "1000", "--bias"]
    forward_case("w128", w128 + ["--seed", "16"], [256, 1, 3, 17, 255, 64, 5])
    forward_case("w128-mean-nosimd", w128 + ["--seed", "17", "--pooling",
                                             "mean"], [256, 2, 33],
                 no_simd=True)
    # the full GPT-2 vocabulary, one layer, four heads
    forward_case("vocab-full", ["--layers", "1", "--heads", "4", "--embd",
                                "48", "--ctx", "40", "--seed", "8"],
                 [40, 1, 2, 5])
    # a language model (no head): the pooled hidden states
    forward_case("lm-hidden", small + ["--lm", "--seed", "9"], lens,
                 hidden=True)
    forward_case("cls-hidden", small + ["--seed", "10", "--bias"], lens,
                 hidden=True)

    # bad bundles
    base = gen("base", *(small + ["--seed", "11"]))
    error_case("wrong-embd", edit_config(base, os.path.join(TMP, "bad-embd"),
                                         n_embd=40, n_head=2),
               ["wte.weight", "[1000, 32]", "expected [1000, 40]"])
    error_case("wrong-ctx", edit_config(base, os.path.join(TMP, "bad-ctx"),
                                        n_positions=65, n_ctx=65),
               ["wpe.weight", "[64, 32]", "expected [65, 32]"])
    error_case("wrong-layers",
               edit_config(base, os.path.join(TMP, "bad-layers"), n_layer=3),
               ["missing tensor", "h.2.ln_1.weight"])
    error_case("wrong-labels",
               edit_config(base, os.path.join(TMP, "bad-labels"),
                           id2label={"0": "a", "1": "b", "2": "c"},
                           label2id={"a": 0, "b": 1, "c": 2}),
               ["score.weight", "3 labels"])
    # a tensor renamed in the header (same length, so the file stays valid)
    ren = os.path.join(TMP, "bad-name")
    shutil.copytree(base, ren)
    st = os.path.join(ren, "model.safetensors")
    with open(st, "rb") as f:
        data = f.read()
    with open(st, "wb") as f:
        f.write(data.replace(b"h.1.mlp.c_fc.bias", b"h.1.mlp.c_fc.biaz", 1))
    error_case("renamed", ren, ["missing tensor", "h.1.mlp.c_fc.bias"])

    p = subprocess.run([DUMP, "--random"], capture_output=True, text=True)
    check(p.returncode == 0 and "random: ok" in p.stdout,
          "random init and set_head (%s)" % (p.stdout + p.stderr).strip())

    if failures == 0:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
