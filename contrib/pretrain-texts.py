#!/usr/bin/env python3
"""pretrain-texts.py - text in other languages and scripts, for pretraining.

The default model's base should find Chinese, Japanese, Cyrillic and the
European languages as ordinary as English (issue 18). Debian ships such
text; this gathers it into TSV files that `gptmilter-train pretrain --data`
reads (LABEL<TAB>TEXT, TEXT with \\n \\t \\r \\\\ escapes; the label is
unused in pretraining):

    OUT/<lang>.tsv     one line per passage of at most --chunk characters

Sources, per language: manual pages (manpages-LANG: /usr/share/man/LANG,
rendered by man(1) and stripped of overstrikes), fortunes (fortunes-LANG:
/usr/share/games/fortunes/LANG and the like), the Debian Reference
(debian-reference-LANG: /usr/share/debian-reference/*.LANG.txt.gz).
Passages are cut at paragraph breaks, deduplicated, and capped at --max
per language (a deterministic sample: the smallest SHA-256 digests).

Install the packages first (on the model-building machine only, never in
CI), e.g.:
    apt-get install manpages-zh manpages-ja manpages-ru manpages-de \\
        manpages-es manpages-fr fortunes-zh fortunes-ru fortunes-de \\
        debian-reference-zh-cn debian-reference-ja debian-reference-de

Usage: pretrain-texts.py [--chunk N] [--max N] [--langs zh,ja,...] OUT
Only the Python standard library and man(1) are used.
"""
import argparse
import glob
import gzip
import hashlib
import os
import re
import signal
import subprocess
import sys

MAN = {"zh": ["zh_CN", "zh_TW"], "ja": ["ja"], "ru": ["ru"], "de": ["de"],
       "es": ["es"], "fr": ["fr"]}
FORTUNES = {"zh": ["/usr/share/games/fortunes/" + f
                   for f in ("chinese", "song100", "tang300")],
            "ru": ["/usr/share/games/fortunes/ru"],
            "de": ["/usr/share/games/fortunes/de"]}
REFERENCE = {"zh": ["zh-cn", "zh-tw"], "ja": ["ja"], "de": ["de"],
             "fr": ["fr"], "es": ["es"]}


def decode(b):
    for enc in ("utf-8", "cp1252"):
        try:
            return b.decode(enc)
        except UnicodeDecodeError:
            pass
    return b.decode("utf-8", "replace")


def man_pages(lang):
    for d in MAN.get(lang, []):
        for f in sorted(glob.glob("/usr/share/man/%s/man*/*" % d)):
            if os.path.islink(f):
                continue
            # a few pages keep troff busy for minutes: a minute each at
            # most, and the whole pipeline (man, groff, troff) goes
            p = subprocess.Popen(["man", "-l", f], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL,
                                 stdin=subprocess.DEVNULL,
                                 start_new_session=True,
                                 env=dict(os.environ, MANWIDTH="80",
                                          MAN_KEEP_FORMATTING="0",
                                          PAGER="cat", LC_ALL="C.UTF-8"))
            try:
                out, _ = p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate()
                print("pretrain-texts: %s: man timed out, skipped" % f,
                      file=sys.stderr)
                continue
            r = subprocess.CompletedProcess(p.args, p.returncode, out)
            if r.returncode == 0:
                # overstrikes (x\bx bold, _\bx underline) to plain text
                yield re.sub(r".\x08", "", decode(r.stdout))


def fortunes(lang):
    for d in FORTUNES.get(lang, []):
        files = sorted(glob.glob(d + "/*")) if os.path.isdir(d) else [d]
        for f in files:
            if f.endswith((".dat", ".u8")) or os.path.isdir(f):
                continue
            # the UTF-8 copy where the package has one (fortunes-zh)
            if os.path.exists(f + ".u8"):
                f += ".u8"
            with open(f, "rb") as fh:
                for cookie in decode(fh.read()).split("\n%\n"):
                    yield cookie


def reference(lang):
    for code in REFERENCE.get(lang, []):
        for f in sorted(glob.glob("/usr/share/debian-reference/"
                                  "debian-reference.%s.txt.gz" % code)):
            with gzip.open(f, "rb") as fh:
                yield decode(fh.read())


def passages(text, chunk):
    """Paragraphs joined up to CHUNK characters."""
    cur = ""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)	# terminal colours
    for para in re.split(r"\n\s*\n", text):
        para = para.strip("\n")
        if not para.strip():
            continue
        if cur and len(cur) + len(para) + 2 > chunk:
            yield cur
            cur = ""
        cur = para[:chunk] if not cur else cur + "\n\n" + para
    if cur:
        yield cur


def escape(s):
    return (s.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\r", "\\r").replace("\n", "\\n"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunk", type=int, default=1500)
    ap.add_argument("--max", type=int, default=4000)
    ap.add_argument("--langs", default="",
                    help="comma list (default: all of " +
                    ",".join(sorted(set(MAN) | set(FORTUNES) | set(REFERENCE)))
                    + ")")
    ap.add_argument("out")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    langs = sorted(set(MAN) | set(FORTUNES) | set(REFERENCE))
    if args.langs:
        langs = [x for x in args.langs.split(",") if x]
    for lang in langs:
        seen = {}
        for gen in (man_pages, fortunes, reference):
            for text in gen(lang):
                for p in passages(text, args.chunk):
                    if len(p.strip()) < 40:
                        continue
                    d = hashlib.sha256(p.encode()).hexdigest()
                    seen.setdefault(d, p)
        keep = sorted(seen)[:args.max]
        with open(os.path.join(args.out, lang + ".tsv"), "w",
                  encoding="utf-8") as f:
            for d in keep:
                f.write("text\t" + escape(seen[d]) + "\n")
        print("pretrain-texts: %s: %d passages (of %d)" % (lang, len(keep),
                                                            len(seen)),
              file=sys.stderr)
        if not keep:
            sys.exit("pretrain-texts: %s: no text; install its packages "
                     "(see the header)" % lang)


if __name__ == "__main__":
    main()
