#!/usr/bin/python3
# bench/header_views.py - write a "bare" view of each message: the header
# lines whose mere presence a model must not lean on (issue 16) removed.
#
# Owns: the byte-level rewrite, nothing else. Removed from the top-level
# header block: From, To, Cc, X-Mailer, User-Agent (with their continuation
# lines), and Content-Type where it says text/plain (there it only names
# the charset of a single body; an HTML or multipart message without it
# would be another message, not a view of this one). The body and every
# other header are written unchanged, byte for byte.
#
# Usage: header_views.py OUTDIR FILE...   (writes OUTDIR/<basename of FILE>)
import os
import re
import sys

DROP = {b"from", b"to", b"cc", b"x-mailer", b"user-agent"}


def bare(msg):
    m = re.search(rb"\r?\n\r?\n", msg)
    head, body = (msg[:m.start()], msg[m.start():]) if m else (msg, b"")
    fields, cur = [], []
    for line in re.split(rb"(?<=\n)", head):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and cur:
            cur.append(line)
        else:
            if cur:
                fields.append(b"".join(cur))
            cur = [line]
    if cur:
        fields.append(b"".join(cur))

    def name(f):
        return f.split(b":", 1)[0].strip().lower() if b":" in f else b""
    ctype = b"".join(f for f in fields if name(f) == b"content-type")
    plain = re.search(rb":\s*text/plain", ctype, re.I) is not None
    drop = DROP | ({b"content-type"} if plain else set())
    kept = [f for f in fields if name(f) not in drop]
    out = b"".join(kept)
    # the last kept field must still end its line before the blank line
    if out and not out.endswith(b"\n") and body:
        out += b"\r\n" if body.startswith(b"\r\n") else b"\n"
    return out + body


def main():
    outdir = sys.argv[1]
    for path in sys.argv[2:]:
        with open(path, "rb") as f:
            msg = f.read()
        with open(os.path.join(outdir, os.path.basename(path)), "wb") as f:
            f.write(bare(msg))


if __name__ == "__main__":
    main()
