#!/usr/bin/python3
"""kfold_robinson.py - a token-statistics spam model (Robinson's f(w) and
Fisher's chi-square combining, as in bogofilter and spamprobe) scored out of
fold on bench_kfold.sh's folds, to measure what such a model would add to
the transformer before one is written in C.

Owns: reading each message as the model reads it (mailtext_dump, extraction
version 2), its tokens (lower-cased words, prefixed with the header line's
initial for Subject, From, To, X-Mailer, User-Agent and Content-Type; each
token counted once per message), the counts of the K-1 training folds, and
the per-message score of the held-out fold.

Usage: kfold_robinson.py FOLDS_DIR K MAILTEXT_DUMP OUT_PREFIX
writes OUT_PREFIX-F.scores for F in 0..K-1 in gptmilter-train's --scores
layout (split, path, group, class, P(spam)); run by
`sh ../bench/bench_kfold.sh robinson`.
"""
import math
import os
import re
import subprocess
import sys
from collections import Counter

S, X = 1.0, 0.5        # Robinson's strength and prior of an unseen token
MIN_DEV = 0.1          # tokens with |f - 0.5| below this are ignored
MAX_TOKENS = 150       # the most extreme tokens of a message are combined
WORD = re.compile(r"[A-Za-z0-9$][A-Za-z0-9$'.-]{1,38}[A-Za-z0-9$]|[$!]")
HEADER = re.compile(r"(Subject|From|To|X-Mailer|User-Agent|Content-Type): ?(.*)")


def tokens(text):
    """the set of tokens of one message's extracted text"""
    out, body = set(), False
    for line in text.split("\n"):
        m = None if body else HEADER.fullmatch(line)
        if m:
            out.update(m.group(1)[0] + ":" + w.lower()
                       for w in WORD.findall(m.group(2)))
        else:
            body = True
            out.update(w.lower() for w in WORD.findall(line))
    return out


def chi2_survival(x2, dof):
    """P(chi-square with DOF (even) degrees of freedom >= X2)"""
    m = x2 / 2.0
    term = total = math.exp(-m)
    for i in range(1, dof // 2):
        term *= m / i
        total += term
    return min(total, 1.0)


def score(toks, spam, ham, n_spam, n_ham):
    """Robinson-Fisher indicator in [0, 1] (1: spam)"""
    fs = []
    for w in sorted(toks):     # not set order, which varies run to run
        b, g = spam[w] / n_spam, ham[w] / n_ham
        if b + g == 0:
            continue
        n = spam[w] + ham[w]
        f = (S * X + n * b / (b + g)) / (S + n)
        if abs(f - 0.5) >= MIN_DEV:
            fs.append(f)
    fs = sorted(fs, key=lambda f: -abs(f - 0.5))[:MAX_TOKENS]
    if not fs:
        return 0.5
    spamminess = chi2_survival(-2 * sum(math.log(f) for f in fs), 2 * len(fs))
    hamminess = chi2_survival(-2 * sum(math.log(1 - f) for f in fs), 2 * len(fs))
    return (1 + spamminess - hamminess) / 2


def main():
    folds, k, dump, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    cache = {}      # real path -> tokens (every message is in every fold)

    def read(path):
        real = os.path.realpath(path)
        if real not in cache:
            text = subprocess.run([dump, path], check=True,
                                  capture_output=True).stdout
            cache[real] = tokens(text.decode("utf-8", "replace"))
        return cache[real]

    def files(part, label):
        top = os.path.join(folds, str(f), part, label)
        for group in sorted(os.listdir(top)):
            for name in sorted(os.listdir(os.path.join(top, group))):
                yield group, os.path.join(top, group, name)

    for f in range(k):
        counts, n = {"ham": Counter(), "spam": Counter()}, {"ham": 0, "spam": 0}
        for label in counts:
            for _, path in files("train", label):
                counts[label].update(read(path))
                n[label] += 1
        with open(f"{out}-{f}.scores", "w") as o:
            for label in counts:
                for group, path in files("val", label):
                    p = score(read(path), counts["spam"], counts["ham"],
                              n["spam"], n["ham"])
                    o.write(f"validation\t{path}\t{group}\t{label}\t{p:.6g}\n")


main()
