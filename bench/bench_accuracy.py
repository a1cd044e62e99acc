#!/usr/bin/python3
# bench/bench_accuracy.py - metrics table for bench/bench_accuracy.sh.
#
# Owns: turning the raw per-message verdicts of each filter (bogofilter,
# spamprobe, SpamAssassin, gptmilter) on the test split of the standard
# corpus (/work/shared/CORPUS.md) into one comparison table, with the 95%
# intervals of the rates that count a few messages.  Standard
# library only, so it runs under any python3.
#
# Usage: bench_accuracy.py INDEX.tsv NAME:RESULTS.tsv:SECONDS ...
#   INDEX.tsv    the corpus index (checksum group label split path)
#   RESULTS.tsv  one line per scored message: FILE <tab> VERDICT <tab> SCORE
#                VERDICT is spam, ham or unsure (unsure counts as ham);
#                SCORE is a number (higher = spammier) or "-" when the filter
#                has none.  FILE's basename is <md5>.eml, the join key.
#   SECONDS      wall-clock seconds the filter spent scoring the test split.
# Exit status 1 when any filter missed or duplicated a test message: a table
# over a partial test split would not be comparable with the others.

import math
import os
import sys


def load_index(path):
    """Test-split messages: checksum -> (label, group)."""
    test = {}
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        col = {name: i for i, name in enumerate(header)}
        for line in f:
            row = line.rstrip("\n").split("\t")
            if row[col["split"]] == "test":
                test[row[col["checksum"]]] = (row[col["label"]],
                                              row[col["group"]])
    return test


def roc_auc(pos, neg):
    """Mann-Whitney U / (|pos| |neg|), ties counted as one half."""
    scored = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    rank_sum = 0.0
    i = 0
    while i < len(scored):
        j = i
        while j < len(scored) and scored[j][0] == scored[i][0]:
            j += 1
        mid_rank = (i + 1 + j) / 2.0  # average of ranks i+1 .. j
        rank_sum += mid_rank * sum(1 for k in range(i, j) if scored[k][1])
        i = j
    n_pos, n_neg = len(pos), len(neg)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def wilson(k, n, z=1.96):
    """95% Wilson score interval of a rate of K in N, as (low, high): the
    test split holds 790 ham and 51 hard ham, so a rate of a few messages
    is known only to within a factor of about three."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = (z / (1 + z * z / n)) * math.sqrt(p * (1 - p) / n
                                             + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def evaluate(name, results, seconds, test):
    seen = {}
    with open(results, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            key = os.path.basename(fields[0])
            if key.endswith(".eml"):
                key = key[:-4]
            if key in seen:
                raise SystemExit("%s: %s scored twice" % (name, key))
            seen[key] = (fields[1], fields[2] if len(fields) > 2 else "-")
    missing = set(test) - set(seen)
    extra = set(seen) - set(test)
    if missing or extra:
        raise SystemExit("%s: %d test messages missing, %d unknown"
                         % (name, len(missing), len(extra)))
    tp = fp = tn = fn = unsure = hard_n = hard_fp = 0
    pos, neg = [], []
    has_score = True
    for key, (label, group) in test.items():
        verdict, score = seen[key]
        if verdict == "unsure":
            unsure += 1
        said_spam = verdict == "spam"
        if label == "spam":
            tp += said_spam
            fn += not said_spam
        else:
            fp += said_spam
            tn += not said_spam
            if group == "hard-ham-1":
                hard_n += 1
                hard_fp += said_spam
        if score == "-":
            has_score = False
        else:
            (pos if label == "spam" else neg).append(float(score))
    n = tp + fp + tn + fn
    return {
        "name": name,
        "n": n,
        "acc": (tp + tn) / n,
        "prec": tp / (tp + fp) if tp + fp else float("nan"),
        "rec": tp / (tp + fn) if tp + fn else float("nan"),
        "fpr": fp / (fp + tn) if fp + tn else float("nan"),
        "fnr": fn / (fn + tp) if fn + tp else float("nan"),
        "auc": roc_auc(pos, neg) if has_score else None,
        "hard": hard_fp / hard_n if hard_n else float("nan"),
        "hard_fp": hard_fp,
        "hard_n": hard_n,
        "fp": fp,
        "fn": fn,
        "ham": fp + tn,
        "spam": tp + fn,
        "unsure": unsure,
        "rate": n / seconds if seconds > 0 else float("nan"),
    }


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__ if __doc__ else
                         "usage: bench_accuracy.py INDEX NAME:FILE:SECONDS...\n")
        return 2
    test = load_index(argv[1])
    rows = []
    for spec in argv[2:]:
        name, results, seconds = spec.rsplit(":", 2)
        rows.append(evaluate(name, results, float(seconds), test))
    n_spam = sum(1 for label, _ in test.values() if label == "spam")
    print("test split: %d messages (%d spam, %d ham)"
          % (len(test), n_spam, len(test) - n_spam))
    head = ("%-20s %8s %8s %8s %7s %7s %7s %13s %7s %8s"
            % ("filter", "accuracy", "spam-P", "spam-R", "FPR", "FNR",
               "AUC", "hard-ham FPR", "FP/FN", "msg/s"))
    print(head)
    print("-" * len(head))
    for r in rows:
        auc = "%.4f" % r["auc"] if r["auc"] is not None else "-"
        print("%-20s %7.2f%% %7.2f%% %7.2f%% %6.2f%% %6.2f%% %7s "
              "%6.1f%% %2d/%-3d %7s %8.1f"
              % (r["name"], 100 * r["acc"], 100 * r["prec"], 100 * r["rec"],
                 100 * r["fpr"], 100 * r["fnr"], auc, 100 * r["hard"],
                 r["hard_fp"], r["hard_n"], "%d/%d" % (r["fp"], r["fn"]),
                 r["rate"]))
    print("95% intervals (Wilson) of the rates that count a few messages:")
    for r in rows:
        fpr = wilson(r["fp"], r["ham"])
        fnr = wilson(r["fn"], r["spam"])
        hard = wilson(r["hard_fp"], r["hard_n"])
        print("  %-20s FPR %5.2f-%5.2f%%   FNR %5.2f-%5.2f%%   "
              "hard-ham FPR %4.1f-%4.1f%%"
              % (r["name"], 100 * fpr[0], 100 * fpr[1], 100 * fnr[0],
                 100 * fnr[1], 100 * hard[0], 100 * hard[1]))
    for r in rows:
        if r["unsure"]:
            print("%s: %d unsure verdicts counted as ham"
                  % (r["name"], r["unsure"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
