#!/usr/bin/python3
"""
test_int8.py - int8 bundles and the int8 forward against the reference

Owns: the tests of int8 weights end to end. tests/gen_tiny_model.py writes
a tiny model twice from one seed, f32 and int8 (its own numpy quantizer:
I8 linear weights, F32 NAME_scale per output channel), and
    C int8 pass vs reference (dequantized weights, f32 activations):
        max |diff| <= TOL_ACT * max |ref|  (what quantizing activations costs)
    C int8 pass vs the f32 model's reference:
        max |diff| <= TOL_F32 * max |ref|  (all that int8 costs)
    (TOL_W128 for both on a model of the default's width and heads, whose
    attention runs in bf16 where the CPU has AVX512-BF16)
    C loaded --owned (dequantized f32, as the trainer loads it) vs reference:
        <= 1e-4, as every f32 load
    every int8 kernel this CPU has (--qpath) and 1 or 2 threads: the same
    numbers as the generic C kernel, exactly
    gptmilter-train quantize: its file holds the numpy quantizer's values
    (within one step where a tie rounds the other way), its forward equals
    gpt_model_quantize of the loaded f32 model exactly, and quantize
    --dtype f32 back gives the dequantized model
Then broken int8 files (missing or misshapen scale, I8 where no int8 weight
belongs, -128, a NaN or negative scale, a scale beside an F32 weight) must
fail to load with an error naming the tensor.
Exit status: 0 if every check passed.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np

top_srcdir = os.environ.get("top_srcdir",
                            os.path.join(os.path.dirname(__file__), ".."))
top_builddir = os.environ.get("top_builddir", ".")
sys.path.insert(0, os.path.join(top_srcdir, "tests"))
import gpt_ref  # noqa: E402
import gen_tiny_model  # noqa: E402
import test_gpt_forward as tgf  # noqa: E402

TRAIN = os.path.join(top_builddir, "src", "train", "gptmilter-train")
TMP = os.path.join(top_builddir, "tests", "tmp", "int8.%d" % os.getpid())
tgf.TMP = TMP

# Measured on these models: <= 1.8e-3 and <= 4.1e-3 (the log prints them);
# the bounds leave room for other seeds, not for a wrong product (a wrong
# scale or row errs by 1e-1 and more). The w128 model (width 128, heads of
# 32) measured 1.04e-2 and 1.34e-2 with its attention in f32, 1.43e-2 and
# 1.30e-2 in bf16: its bounds are TOL_W128 (tests/test_attention checks
# the bf16 attention itself to 2e-2 of a float64 one).
TOL_ACT = 1e-2
TOL_F32 = 1.5e-2
TOL_W128 = 3e-2

check = tgf.check


def run_logits(model, ids, *flags):
    rc, out, err = tgf.run_dump(model, ids, *flags)
    if rc != 0:
        return rc, None, None, err
    info, (batched, single) = tgf.parse(out)
    return rc, info, (batched, single), out


def forward_checks(name, gen_args, lens, tol_act=TOL_ACT, tol_f32=TOL_F32):
    d32 = tgf.gen(name + "-f32", *(gen_args + ["--dtype", "f32"]))
    d8 = tgf.gen(name + "-int8", *(gen_args + ["--dtype", "int8"]))
    ref32, ref8 = gpt_ref.load(d32), gpt_ref.load(d8)
    rng = tgf.random.Random(name)
    V, ctx = ref8.wte.shape[0], ref8.wpe.shape[0]
    seqs = tgf.sequences(rng, V, ctx, [min(T, ctx) for T in lens])
    ids = tgf.write_ids(name, seqs)
    want8 = np.stack([gpt_ref.classify(ref8, s) for s in seqs])
    want32 = np.stack([gpt_ref.classify(ref32, s) for s in seqs])

    rc, info, got, out = run_logits(d8, ids)
    if rc != 0:
        check(False, "%s: gpt_forward_dump exit %d: %s" % (name, rc, out))
        return
    batched, single = got
    check(info["int8"] == 1 and info["zero-copy"] == 1,
          "%s: loaded int8, the f32 tensors in place" % name)
    e = np.abs(batched - want8).max() / np.abs(want8).max()
    check(e <= tol_act, "%s: int8 pass vs reference of the int8 weights, "
          "rel err %.2e (<= %g)" % (name, e, tol_act))
    e = np.abs(batched - want32).max() / np.abs(want32).max()
    check(e <= tol_f32, "%s: int8 pass vs reference of the f32 model, "
          "rel err %.2e (<= %g)" % (name, e, tol_f32))
    e = np.abs(batched - single).max() / np.abs(want8).max()
    check(e <= 1e-5, "%s: int8 batched vs single, rel diff %.2e" % (name, e))

    rc, info, got, out = run_logits(d8, ids, "--owned")
    check(rc == 0 and info["int8"] == 0 and
          np.abs(got[0] - want8).max() <= 1e-4 * np.abs(want8).max(),
          "%s: --owned loads the dequantized weights as f32" % name)

    # every kernel, 1 and 2 threads: the generic kernel's numbers exactly
    rc, _, _, generic = run_logits(d8, ids, "--qpath", "generic",
                                   "--threads", "1")
    ran = []
    for path in ("generic", "avx2", "avx-vnni", "avx512-vnni"):
        for t in ("1", "2"):
            rc, _, _, out = run_logits(d8, ids, "--qpath", path,
                                       "--threads", t)
            if rc == 77:
                continue
            ran.append("%s/%s" % (path, t))
            check(rc == 0 and out == generic, "%s: --qpath %s, %s threads: "
                  "the generic kernel's logits" % (name, path, t))
    print("%s: kernels run: %s" % (name, " ".join(ran)))

    # gptmilter-train quantize against the numpy quantizer
    q8 = os.path.join(TMP, name + "-quantized")
    p = subprocess.run([TRAIN, "quantize", "-m", d32, "-o", q8],
                       capture_output=True, text=True)
    check(p.returncode == 0, "%s: gptmilter-train quantize (%s)" %
          (name, (p.stdout + p.stderr).strip()))
    with open(os.path.join(q8, "config.json")) as f:
        cfg = json.load(f)
    check(cfg.get("quantization_config", {}).get("quant_method") ==
          "gptmilter-int8", "%s: config.json names the quantization" % name)
    ours = gpt_ref.read_raw(os.path.join(q8, "model.safetensors"))
    theirs = gpt_ref.read_raw(os.path.join(d8, "model.safetensors"))
    for n, (dt, shape, raw) in theirs.items():
        n2 = n if n in ours else "transformer." + n
        if dt != "I8":
            continue
        a = np.frombuffer(raw, dtype="i1").astype(int)
        b = np.frombuffer(ours[n2][2], dtype="i1").astype(int) \
            if n2 in ours and ours[n2][0] == "I8" else None
        check(b is not None and np.abs(a - b).max() <= 1 and
              (a != b).mean() < 1e-3,
              "%s: %s written as I8 with the numpy quantizer's values" %
              (name, n))
    rc, _, _, saved = run_logits(q8, ids, "--threads", "1")
    rc2, _, _, onload = run_logits(d32, ids, "--quantize", "--threads", "1")
    check(rc == 0 and rc2 == 0 and saved.replace("zero-copy 1", "") ==
          onload.replace("zero-copy 1", ""),
          "%s: the quantized file runs as gpt_model_quantize does" % name)
    back = os.path.join(TMP, name + "-back")
    p = subprocess.run([TRAIN, "quantize", "--dtype", "f32", "-m", q8, "-o",
                        back], capture_output=True, text=True)
    rc, info, got, _ = run_logits(back, ids)
    rc2, _, got2, _ = run_logits(q8, ids, "--owned")
    check(p.returncode == 0 and rc == 0 and rc2 == 0 and info["int8"] == 0 and
          np.array_equal(got[0], got2[0]),
          "%s: quantize --dtype f32 writes the dequantized weights" % name)
    return d32, d8


def broken(name, src, edit):
    """A copy of bundle SRC whose tensors EDIT (name -> (dtype, shape,
    raw), in place) changed."""
    d = os.path.join(TMP, name)
    shutil.copytree(src, d)
    st = os.path.join(d, "model.safetensors")
    ts = gpt_ref.read_raw(st)
    edit(ts)
    gen_tiny_model.write_safetensors(
        st, [(n, dt, shape, raw) for n, (dt, shape, raw) in ts.items()],
        {"format": "pt"})
    return d


def error_checks(d32, d8):
    w = "transformer.h.0.attn.c_attn.weight"
    s = w + "_scale"

    def drop_scale(ts):
        del ts[s]

    def short_scale(ts):
        dt, shape, raw = ts[s]
        ts[s] = (dt, (shape[0] - 1,), raw[:-4])

    def i8_scale(ts):
        dt, shape, raw = ts[s]
        ts[s] = ("I8", shape, bytes(shape[0]))

    def i8_layernorm(ts):
        dt, shape, raw = ts["transformer.h.1.ln_2.weight"]
        ts["transformer.h.1.ln_2.weight"] = ("I8", shape, bytes(shape[0]))

    def minus128(ts):
        dt, shape, raw = ts["transformer.h.1.mlp.c_proj.weight"]
        raw = bytearray(raw)
        raw[shape[1] * 3 + 5] = 0x80
        ts["transformer.h.1.mlp.c_proj.weight"] = (dt, shape, bytes(raw))

    def bad_scale(value):
        def edit(ts):
            dt, shape, raw = ts[s]
            a = np.frombuffer(raw, dtype="<f4").copy()
            a[7] = value
            ts[s] = (dt, shape, a.astype("<f4").tobytes())
        return edit

    tgf.error_case("int8-no-scale", broken("no-scale", d8, drop_scale),
                   [w, "needs its scale", s, "missing"])
    tgf.error_case("int8-short-scale", broken("short-scale", d8, short_scale),
                   [w, "needs its scale", "[96]", "[95]"])
    tgf.error_case("int8-i8-scale", broken("i8-scale", d8, i8_scale),
                   [w, "needs its scale", "I8[96]"])
    tgf.error_case("int8-layernorm", broken("i8-ln", d8, i8_layernorm),
                   ["h.1.ln_2.weight", "dtype I8 is only for"])
    tgf.error_case("int8-minus128", broken("minus128", d8, minus128),
                   ["h.1.mlp.c_proj.weight", "-128 at [3, 5]"])
    tgf.error_case("int8-nan-scale", broken("nan-scale", d8,
                                            bad_scale(float("nan"))),
                   [s, "[7] is nan", "not a finite scale"])
    tgf.error_case("int8-negative-scale",
                   broken("neg-scale", d8, bad_scale(-0.5)),
                   [s, "[7] is -0.5", "not a finite scale"])

    def stray_scale(ts):
        ts["h.1.mlp.c_fc.weight_scale"] = ("F32", (128,), bytes(512))

    tgf.error_case("f32-with-scale", broken("stray-scale", d32, stray_scale),
                   ["h.1.mlp.c_fc.weight_scale", "which is F32, not I8"])


def main():
    if not os.access(tgf.DUMP, os.X_OK) or not os.access(TRAIN, os.X_OK):
        sys.exit("test_int8.py: %s or %s not built" % (tgf.DUMP, TRAIN))
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    small = ["--layers", "2", "--heads", "2", "--embd", "32", "--ctx", "64",
             "--vocab", "1000", "--bias"]
    d32, d8 = forward_checks("tiny", small + ["--seed", "21"],
                             [1, 2, 64, 7, 33, 9])
    # odd widths: C = 36 (K and OC not multiples of 4 or 16), 3 labels
    forward_checks("odd", ["--layers", "3", "--heads", "3", "--embd", "36",
                           "--ctx", "40", "--vocab", "500", "--labels",
                           "a,b,c", "--seed", "22", "--pooling", "mean"],
                   [40, 1, 17, 5])
    # the default model's shape: width 128 (qacts_layernorm's one pass),
    # heads of 32 (attention_forward_bf16 where the CPU has AVX512-BF16),
    # lengths around its tiles of 8 queries and 16 keys
    forward_checks("w128", ["--layers", "2", "--heads", "4", "--embd", "128",
                            "--ctx", "256", "--vocab", "1000", "--bias",
                            "--seed", "23"], [256, 1, 3, 17, 255, 64, 5],
                   TOL_W128, TOL_W128)
    error_checks(d32, d8)
    if tgf.failures == 0:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d failure(s)" % tgf.failures)
    return 1 if tgf.failures else 0


if __name__ == "__main__":
    sys.exit(main())
