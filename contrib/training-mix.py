#!/usr/bin/env python3
"""training-mix.py - the labelled training mix of the default model, as links.

One definition of which labelled messages the default model's recipe trains
and validates on, used by contrib/make-default-model.sh (every source) and
bench/bench_loco.sh (every source but one):

    OUT/{train,val}/{ham,spam}/<source>/<file>   symbolic links
    OUT/score                                    "SOURCE<TAB>LABEL<TAB>PATH"

Sources: the standard corpus ("spamassassin", contrib/corpus-export.py:
ham and spam), Ling-Spam (ham and spam) and the ham of four lists (r-help,
r-devel, r-help-es, 20news; contrib/corpora-export.py). Each list gives at
most --per-source training messages and a tenth as many validation ones,
a deterministic sample (the smallest content hashes), so that list traffic
is ordinary to the model without outweighing the mail of the standard
corpus; the standard corpus and Ling-Spam give all of theirs (--sa-max caps
the standard corpus's classes). Test splits are never linked. The phishing
set (CC BY-NC: evaluation only) is never trained on.

--leave-out S drops source S from training and validation; OUT/score then
lists every val and test message of S (of the phishing set for
--leave-out none), the mail a leave-one-corpus-out fold is judged on.

Usage: training-mix.py [--per-source N] [--sa-max N] [--leave-out S]
                       CORPUS CORPORA OUT
Only the Python standard library is used.
"""
import argparse
import os
import shutil

SOURCES = ["spamassassin", "lingspam", "r-help", "r-devel", "r-help-es",
           "20news"]
EVALUATION_ONLY = "phishing_pot"


def read_index(root, source_column):
    """(source, label, split, absolute path, hash) of an export's index.tsv"""
    out = []
    with open(os.path.join(root, "index.tsv")) as f:
        next(f)
        for line in f:
            ck, source, label, split, path = line.rstrip("\n").split("\t")
            if not source_column:
                source = "spamassassin"
            out.append((source, label, split,
                        os.path.abspath(os.path.join(root, path)), ck))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-source", type=int, default=1500)
    ap.add_argument("--sa-max", type=int, default=0)
    ap.add_argument("--leave-out", default="none")
    ap.add_argument("corpus")
    ap.add_argument("corpora")
    ap.add_argument("out")
    a = ap.parse_args()
    if a.leave_out not in SOURCES + ["none"]:
        ap.error(f"--leave-out: one of {', '.join(SOURCES)} or none")
    # the standard corpus's second column is its group, not a source
    msgs = read_index(a.corpus, False) + read_index(a.corpora, True)
    groups = {}
    for m in msgs:
        groups.setdefault(m[:3], []).append(m)
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out)
    scored = a.leave_out if a.leave_out != "none" else EVALUATION_ONLY
    with open(os.path.join(a.out, "score"), "w") as score:
        for source, label, split, path, _ in msgs:
            if source == scored and split != "train":
                score.write(f"{source}\t{label}\t{path}\n")
    for (source, label, split), v in sorted(groups.items()):
        if split == "test" or source in (EVALUATION_ONLY, a.leave_out):
            continue
        cap = {"spamassassin": a.sa_max, "lingspam": 0}.get(source,
                                                             a.per_source)
        if cap and split == "val":
            cap = max(1, cap // 10)
        v.sort(key=lambda m: m[4])
        if cap:
            v = v[:cap]
        d = os.path.join(a.out, split, label, source)
        os.makedirs(d)
        for m in v:
            os.symlink(m[3], os.path.join(d, os.path.basename(m[3])))


if __name__ == "__main__":
    main()
