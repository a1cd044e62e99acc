#!/usr/bin/env python3
"""corpora-export.py - the public corpora beside the standard one, as .eml.

Reads the xz mbox files of ../shared/corpora (its README and MANIFEST.tsv
say what each holds) and writes every message as a file of its own, split
the way the standard corpus is (CORPUS.md: n = int(sha256[:8], 16) % 10;
0-6 train, 7 val, 8-9 test), so that every source can be trained on,
validated on, or left out whole:

    OUT/<source>/<split>/<label>/<sha256>.eml   and   OUT/index.tsv
    (columns: checksum, source, label, split, path relative to OUT)

Sources and labels: lingspam (ham, spam: from X-Corpus-Label),
phishing_pot (spam; CC BY-NC 4.0 - evaluation only, never in a shipped
model's training), r-help, r-devel, r-help-es, 20news (ham: list and
Usenet posts, with the caveats of the corpora README: no routing headers,
one topic per source). The label header X-Corpus-Label is removed (the
corpora README asks for it); apart from that, and mboxo's ">From " quoting
of body lines, which is undone, the bytes are the archive's.
--max-per-source N keeps a deterministic sample (the N smallest hashes) of
each large ham source.

Usage: corpora-export.py [--src DIR] [--max-per-source N] OUT
Only the Python standard library is used.
"""
import argparse
import hashlib
import lzma
import os
import re
import sys

SOURCES = [
    # (source, file under --src, label or None for X-Corpus-Label)
    ("lingspam", "labelled/lingspam.mbox.xz", None),
    ("phishing_pot", "labelled/phishing_pot.mbox.xz", None),
    ("r-help", "pretrain/r-help.mbox.xz", "ham"),
    ("r-devel", "pretrain/r-devel.mbox.xz", "ham"),
    ("r-help-es", "pretrain/r-help-es.mbox.xz", "ham"),
    ("20news", "pretrain/20news.mbox.xz", "ham"),
]
LABEL_RE = re.compile(rb"^X-Corpus-Label:[ \t]*(ham|spam)[ \t]*\r?\n",
                      re.I | re.M)


def split_of(digest):
    n = int(digest[:8], 16) % 10
    return "train" if n <= 6 else ("val" if n == 7 else "test")


def messages(path):
    """The messages of an mboxo file: From_ lines split them, the line
    itself is dropped, '>From ' at a line start loses its '>'."""
    cur = None
    with lzma.open(path, "rb") as f:
        for line in f:
            if line.startswith(b"From "):
                if cur is not None:
                    yield finish(cur)
                cur = []
                continue
            if cur is None:
                continue
            if line.startswith(b">From "):
                line = line[1:]
            cur.append(line)
    if cur is not None:
        yield finish(cur)


def finish(lines):
    msg = b"".join(lines)
    # the blank line that ends each entry belongs to the mbox, not the mail
    if msg.endswith(b"\r\n\r\n") or msg.endswith(b"\n\n"):
        msg = msg[:-2] if msg.endswith(b"\r\n\r\n") else msg[:-1]
    return msg


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=os.path.join(here, "..", "..", "shared",
                                                  "corpora"))
    ap.add_argument("--max-per-source", type=int, default=0)
    ap.add_argument("out")
    args = ap.parse_args()
    rows = []
    for source, rel, fixed in SOURCES:
        path = os.path.join(args.src, rel)
        if not os.path.exists(path):
            sys.exit("corpora-export: %s: missing" % path)
        kept = {}
        for msg in messages(path):
            label = fixed
            m = LABEL_RE.search(msg.split(b"\n\n", 1)[0] + b"\n")
            if m:
                label = label or m.group(1).decode().lower()
                msg = msg[:m.start()] + msg[m.end():]
            if label is None:
                sys.exit("corpora-export: %s: a message without "
                         "X-Corpus-Label" % path)
            digest = hashlib.sha256(msg).hexdigest()
            kept.setdefault(digest, (label, msg))
        digests = sorted(kept)
        if args.max_per_source and fixed is not None:
            digests = digests[:args.max_per_source]
        for d in digests:
            label, msg = kept[d]
            sp = split_of(d)
            rp = os.path.join(source, sp, label, d + ".eml")
            os.makedirs(os.path.join(args.out, os.path.dirname(rp)),
                        exist_ok=True)
            with open(os.path.join(args.out, rp), "wb") as f:
                f.write(msg)
            rows.append((d, source, label, sp, rp))
        print("corpora-export: %s: %d messages" % (source, len(digests)),
              file=sys.stderr)
    with open(os.path.join(args.out, "index.tsv"), "w") as f:
        f.write("checksum\tsource\tlabel\tsplit\tpath\n")
        for r in rows:
            f.write("\t".join(r) + "\n")


if __name__ == "__main__":
    main()
